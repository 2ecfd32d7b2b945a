"""Per-round intra-list diversity and star ratings of clicked items, recorded in ABResult."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recsys.models.bpr import BPR
from recsys.models.popularity import MostPopular
from recsys.recommender import Recommender
from recsys.synthetic import make_interactions
from recsys.train import fit
from simulators.abtest.analysis import report
from simulators.abtest.environment import (
    ABResult,
    ClickModel,
    intra_list_diversity,
    merge_results,
    run_abtest,
    unit_rows,
)
from simulators.abtest.policies import RecommenderPolicy


def test_intra_list_diversity_by_hand():
    unit = unit_rows(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]]))
    slates = np.array([[0, 1, -1], [0, 2, -1], [0, 1, 2], [0, -1, -1], [1, 3, -1]])
    c = 1 - np.sqrt(0.5)  # distance between an axis and the diagonal
    expected = [1.0, c, (1 + c + c) / 3, np.nan, 1.0]
    assert np.allclose(intra_list_diversity(unit, slates), expected, equal_nan=True)
    with pytest.raises(ValueError, match="item_features: 4 rows, but item 4"):
        intra_list_diversity(unit, np.array([[0, 4]]))


def test_star_ratings_follow_the_training_ratings_distribution():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(50, 40))
    users, items = rng.integers(0, 50, 600), rng.integers(0, 40, 600)
    ratings = rng.choice([1, 2, 3, 4, 5], size=600, p=[0.05, 0.1, 0.25, 0.35, 0.25]).astype(float)
    world = ClickModel(scores, 0.0, 1.0).fit_ratings(users, items, ratings)
    stars = world.ratings(users, items[:, None])[:, 0]
    for level in range(1, 6):
        assert abs((stars == level).mean() - (ratings == level).mean()) < 0.01
    row = world.ratings(np.array([0]), np.argsort(scores[0])[None, :])[0]
    assert (np.diff(row) >= 0).all() and np.isnan(world.ratings(np.array([0]), np.array([[-1]]))).all()
    with pytest.raises(ValueError, match="no ratings"):
        ClickModel(scores, 0.0, 1.0).ratings(users[:1], items[:1, None])


@pytest.fixture(scope="module")
def world():
    log, truth = make_interactions(num_users=300, num_items=150, events_per_user=15, seed=4)
    torch.manual_seed(0)
    model = BPR(log.num_users, log.num_items, dim=16)
    fit(model, log, epochs=25, lr=0.02, batch_size=512, num_negatives=4, progress=False)
    bpr = Recommender(model, log.to_csr(), log.user_ids, log.item_ids)
    pop = Recommender(MostPopular(log), log.to_csr(), log.user_ids, log.item_ids)
    clicks = ClickModel.calibrated(truth["user_factors"] @ truth["item_factors"].T, base_rate=0.05)
    clicks.fit_ratings(log.users, log.items, log.ratings)
    genres = np.eye(6)[truth["item_cluster"]]  # (I, 6) one cluster per item
    return log, [RecommenderPolicy(pop), RecommenderPolicy(bpr)], clicks, genres


def simulate(world, users=None, **options):
    log, policies, clicks, genres = world
    users = np.arange(log.num_users) if users is None else users
    ids = [str(log.user_ids[u]) for u in users]
    settings = {"rounds": 6, "k": 5, "patience": 4, "seed": 3, "item_features": genres, **options}
    return run_abtest(policies, ["pop", "bpr"], clicks, users, ids, log.num_items, **settings)


def test_diversity_and_ratings_are_recorded_per_round_and_arm(world):
    result = simulate(world)
    diversity, rating = result.diversity_per_round(), result.rating_per_round()
    assert diversity.shape == rating.shape == (6, 2)
    assert np.nanmin(diversity) >= 0 and np.nanmax(diversity) <= 1
    assert np.nanmin(rating) >= 1 and np.nanmax(rating) <= 5
    # the personalised arm's clicks are on items its users like more
    stars, clicks = result.user_rating_totals(1)
    pop_stars, pop_clicks = result.user_rating_totals(0)
    assert stars.sum() / clicks.sum() > pop_stars.sum() / pop_clicks.sum()
    assert report(result)["arms"]["bpr"]["ctr"] > 0  # the report still reads the result


def test_without_features_or_ratings_nothing_is_recorded(world):
    log, policies, clicks, _ = world
    plain = ClickModel(clicks.scores, clicks.bias, clicks.temperature)
    result = simulate((log, policies, plain, None), item_features=None)
    assert result.diversity is None and result.rating_sum is None
    with pytest.raises(ValueError, match="item_features"):
        result.diversity_per_round()
    fields = ("arm_names", "users", "arms", "impressions", "clicks", "left_at", "exposure")
    old = ABResult(*(getattr(result, f) for f in fields))  # as built before these fields existed
    assert report(old)["arms"].keys() == {"pop", "bpr"}


def test_shards_merge_to_the_whole(world):
    log, *_ = world
    whole = simulate(world)
    halves = np.array_split(np.arange(log.num_users), 2)
    merged = merge_results([simulate(world, users=h) for h in halves])
    assert np.array_equal(merged.diversity, whole.diversity, equal_nan=True)
    assert np.array_equal(merged.rating_sum, whole.rating_sum)
    assert np.allclose(merged.rating_per_round(), whole.rating_per_round(), equal_nan=True)
