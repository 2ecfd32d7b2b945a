"""Creators with bounded information, on a small planted world."""

from __future__ import annotations

import numpy as np
import pytest

from simulators.abtest.creators import CreatorConfig, Creators, genre_entropy, initial_creators, run_creators


@pytest.fixture(scope="module")
def world():
    rng = np.random.default_rng(0)
    taste = rng.dirichlet(np.full(6, 0.3), size=200)  # users like few genres
    taste /= np.linalg.norm(taste, axis=1, keepdims=True)
    item_genres = np.eye(6)[rng.integers(6, size=300)]
    topics = initial_creators(item_genres, rng.integers(40, size=300), 40)
    return taste, topics


def test_initial_topics_are_distributions(world):
    _, topics = world
    assert topics.shape == (40, 6) and np.allclose(topics.sum(1), 1) and (topics > 0).all()


def test_runs_are_reproducible_and_counted(world):
    taste, topics = world
    a = run_creators(taste, topics, CreatorConfig(), rounds=20, seed=1)
    b = run_creators(taste, topics, CreatorConfig(), rounds=20, seed=1)
    assert a == b
    assert len(a["active_creators"]) == 20 and a["active_creators"][0] == 40
    assert all(x >= y for x, y in zip(a["active_creators"], a["active_creators"][1:], strict=False))
    assert sum(a["new_items"]) > 0 and 0 <= a["cold_success"][-1] <= 1
    assert sum(a["new_clicks"]) <= sum(a["new_impressions"])


def test_creators_leave_only_after_the_grace_rounds(world):
    taste, topics = world
    unwanted = run_creators(taste, topics, CreatorConfig(leave_from=10), rounds=25, bias=5.0, seed=2)
    assert unwanted["active_creators"][8] == 40  # nobody leaves before round 10
    assert unwanted["active_creators"][-1] < 40  # with (almost) no clicks, they go


def test_personalised_cold_start_finds_audiences_better_than_popularity(world):
    taste, topics = world
    personal = run_creators(taste, topics, CreatorConfig(), policy="personalised", rounds=30, seed=3)
    popular = run_creators(taste, topics, CreatorConfig(), policy="popularity", rounds=30, seed=3)
    assert personal["cold_success"][-1] > popular["cold_success"][-1]
    with pytest.raises(ValueError, match="policy"):
        run_creators(taste, topics, CreatorConfig(), policy="lightgcn")


def test_genre_entropy():
    assert genre_entropy(np.array([1.0, 1.0])) == pytest.approx(np.log(2))
    assert genre_entropy(np.array([3.0, 0.0])) == 0.0


def test_a_creator_learns_only_from_its_own_items():
    topics = np.full((2, 3), 1 / 3)
    creators = Creators(topics, CreatorConfig(produce=1.0, explore=0.0), np.random.default_rng(0))
    first = creators.produce()
    assert first.tolist() == [0, 1] and creators.tried.sum() == 2  # first items always explore
    creators.feedback(np.array([0, 0, 1]), np.array([True, True, False]))
    owner, genre = creators.item_owner[0], creators.item_genre[0]
    assert creators.clicks[owner, genre] == 2 and creators.shown[owner, genre] == 2
    assert creators.clicks[1 - owner].sum() == 0 and creators.shown[1 - owner].sum() == 1
    assert creators.item_clicks.tolist() == [2, 0]
    again = creators.produce()  # no exploring: each exploits its one tried genre
    assert creators.item_genre[again].tolist() == creators.item_genre[first].tolist()


def test_full_information_follows_the_platform_interest():
    topics = np.full((1, 3), 1 / 3)
    config = CreatorConfig(produce=1.0, explore=0.0, full_information=True)
    creators = Creators(topics, config, np.random.default_rng(0))
    creators.tried[0] = True  # everything tried, nothing clicked yet
    creators.shown[0] = 1.0
    made = creators.produce(np.array([0.0, 0.0, 0.5]))
    assert creators.item_genre[made].tolist() == [2]
    bounded = Creators(topics, CreatorConfig(produce=1.0, explore=0.0), np.random.default_rng(0))
    bounded.tried[0], bounded.shown[0] = True, 1.0
    made = bounded.produce(np.array([0.0, 0.0, 0.5]))
    assert bounded.item_genre[made].tolist() == [0]  # it does not see the interest


def test_leaving_counts_the_last_items_clicks():
    creators = Creators(
        np.full((2, 2), 0.5), CreatorConfig(produce=1.0, patience=2, leave_from=1), np.random.default_rng(0)
    )
    for _ in range(2):
        creators.produce()
    mine = creators.owned[0][-1]
    creators.feedback(np.array([mine]), np.array([True]))
    creators.leave(0)
    assert creators.active.tolist() == [True, False]
