"""Creators inside A/B arms, on a small planted genre world with a tiny VBPR."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recsys.models.bpr import BPR
from recsys.models.vbpr import VBPR
from recsys.recommender import Recommender
from recsys.synthetic import genre_interactions
from recsys.train import fit
from simulators.abtest.creator_platform import CreatorArm, GenreWorld, run_creator_abtest
from simulators.abtest.creators import CreatorConfig, Creators

GENRES = 5


@pytest.fixture(scope="module")
def planted():
    """Users with genre tastes who played items of their genres, and a VBPR over genre vectors."""
    log, taste, genres = genre_interactions(120, 80, GENRES, 8, sharpness=8.0, seed=0)
    num_users, num_items = log.num_users, log.num_items
    torch.manual_seed(0)
    features = [genres.astype(np.float32)]
    model = VBPR(num_users, num_items, features, dim=8, content_dim=4)
    fit(model, log, epochs=3, batch_size=256, lr=0.01, num_negatives=2, progress=False)
    recommender = Recommender(model, log.to_csr(), log.user_ids, log.item_ids, features=features)
    return taste, genres, recommender


def arms(planted, rankings=("popularity", "model"), full=False, seed=0, creators=12):
    taste, genres, recommender = planted
    world = GenreWorld.calibrated(taste, genres, base_rate=0.1)
    topics = genres[:creators] / genres[:creators].sum(1, keepdims=True)
    config = CreatorConfig(full_information=full, leave_from=4)
    return world, [
        CreatorArm(
            f"{ranking}-{a}",
            recommender,
            world,
            Creators(topics, config, np.random.default_rng([seed, a])),
            ranking=ranking,
            seed=seed,
        )
        for a, ranking in enumerate(rankings)
    ]


def simulate(planted, rounds=8, **options):
    world, built = arms(planted, **options)
    users = np.arange(planted[2].train.shape[0])
    result = run_creator_abtest(built, users, [str(u) for u in users], rounds=rounds, k=5, seed=3)
    return world, built, result


def test_the_world_scores_added_items_and_is_calibrated(planted):
    taste, genres, _ = planted
    world = GenreWorld.calibrated(taste, genres, base_rate=0.1)
    affinity = (world.taste[:, None, :] * world.features[None]).sum(-1)
    median = 1 / (1 + np.exp(-(np.median(affinity) - world.bias) / world.temperature))
    assert median == pytest.approx(0.1, abs=0.02)
    new = world.add_items(np.eye(GENRES)[[0, 3]])
    assert new.tolist() == [80, 81] and world.num_items == 82
    p = world.click_probabilities(np.array([0, 1]), np.array([[81, 80, -1], [5, 81, 0]]))
    assert p.shape == (2, 3) and p[0, 2] == 0 and ((p >= 0) & (p < 1)).all()
    fan = int(np.argmax(taste[:, 3]))
    assert world.click_probabilities(np.array([fan]), np.array([[81]]))[0, 0] > median


def test_slates_mix_catalog_and_fresh_new_items(planted):
    world, (popular, personal) = arms(planted)
    assert world.num_items == 80 + len(popular.pending) + len(personal.pending)
    users = np.arange(10)
    seen = [np.array([int(personal.global_index[-1])]) if u == 0 else np.zeros(0, np.int64) for u in users]
    for arm in (popular, personal):
        slates = arm.slates(users, 5, seen if arm is personal else [np.zeros(0, np.int64)] * 10)
        mine = set(arm.global_index.tolist())
        assert slates.shape == (10, 5) and set(slates.ravel().tolist()) <= mine
        assert all(len(set(row)) == 5 for row in slates.tolist())
        assert (slates[:, 3:] >= 80).all()  # the two fresh slots hold this arm's new items
        known = arm.recommender.known
        assert not any(known[u, arm._local(slates[u : u + 1])[0]].nnz for u in users)
    assert personal.global_index[-1] not in slates[0]


def test_popularity_fresh_slots_follow_the_clicks_in_the_arm(planted):
    _, (popular, _) = arms(planted, rankings=("popularity", "popularity"))
    target = int(popular.global_index[popular.catalog + 2])
    users = np.arange(6)
    slates = np.full((6, 5), -1)
    slates[:, 0] = target
    popular.observe(0, users, slates, np.ones((6, 5), dtype=bool))
    fresh = popular.slates(np.arange(6, 12), 5, [np.zeros(0, np.int64)] * 6)[:, 3]
    assert (fresh == target).all()
    assert popular.creators.item_clicks[2] == 6 and popular.history["new_clicks"] == [6]


def test_a_run_is_reproducible_and_arms_keep_their_creators_apart(planted):
    world, built, result = simulate(planted)
    _, again, repeat = simulate(planted)
    assert [a.history for a in built] == [a.history for a in again]
    assert np.array_equal(result.clicks, repeat.clicks)
    for a, arm in enumerate(built):
        history = arm.history
        assert all(len(values) == 8 for values in history.values())
        assert history["active_creators"][0] == 12 and history["new_items"][0] > 0
        assert all(
            0 <= history[key][-1] <= 1 for key in ("cold_success", "new_item_share", "creator_retention")
        )
        assert sum(history["impressions"]) == result.impressions[:, result.arms == a].sum()
        # each arm's creators get exactly the clicks on their items, shown only in their arm
        other = built[1 - a]
        exposure = np.pad(result.exposure[a], (0, world.num_items - len(result.exposure[a])))
        assert exposure[arm.global_index].sum() == exposure.sum() > 0
        assert exposure[other.global_index[other.catalog :]].sum() == 0
        assert arm.creators.item_clicks.sum() == sum(history["new_clicks"])
        assert len(arm.recommender.item_ids) == arm.catalog + arm.creators.num_items
    assert world.num_items == 80 + sum(arm.creators.num_items for arm in built)


def test_full_information_changes_what_creators_make(planted):
    _, bounded, _ = simulate(planted, full=False, rounds=10)
    _, full, _ = simulate(planted, full=True, rounds=10)
    assert any(
        not np.array_equal(b.creators.item_genre, f.creators.item_genre)
        for b, f in zip(bounded, full, strict=True)
    )


def test_bad_arms_are_refused(planted):
    taste, genres, recommender = planted
    world = GenreWorld.calibrated(taste, genres)
    creators = Creators(np.full((2, GENRES), 0.2), CreatorConfig(), np.random.default_rng(0))
    with pytest.raises(ValueError, match="ranking"):
        CreatorArm("x", recommender, world, creators, ranking="lightgcn")
    log_matrix = recommender.train
    plain = Recommender(BPR(*log_matrix.shape, dim=4), log_matrix, recommender.user_ids, recommender.item_ids)
    with pytest.raises(ValueError, match="feature modality"):
        CreatorArm("x", plain, world, creators)
    one = CreatorArm("a", recommender, world, creators)
    two = CreatorArm("b", recommender, GenreWorld.calibrated(taste, genres), creators)
    with pytest.raises(ValueError, match="one GenreWorld"):
        run_creator_abtest([one, two], np.arange(3), ["0", "1", "2"], rounds=1)


@pytest.mark.data
def test_lastfm_creators_in_two_arms(shared_data):
    from simulators.abtest.lastfm import creator_topics, read_lastfm

    folder = shared_data / "lastfm-hetrec2011"
    if not folder.exists():
        pytest.skip(f"{folder} not found")
    world = read_lastfm(folder)
    log, features = world.listens, [world.tag_vectors.astype(np.float32)]
    torch.manual_seed(0)
    model = VBPR(log.num_users, log.num_items, features, dim=8, content_dim=4)
    fit(model, log, epochs=1, batch_size=4096, lr=0.01, progress=False)
    recommender = Recommender(model, log.to_csr(), log.user_ids, log.item_ids, features=features)
    clicks = GenreWorld.calibrated(world.user_taste, world.tag_vectors)
    _, topics = creator_topics(world, 20, seed=0)
    built = [
        CreatorArm(name, recommender, clicks, Creators(topics, CreatorConfig(), np.random.default_rng(a)), r)
        for a, (name, r) in enumerate((("pop", "popularity"), ("vbpr", "model")))
    ]
    users = np.arange(0, log.num_users, 6)
    run_creator_abtest(built, users, [str(world.user_ids[u]) for u in users], rounds=3, k=10)
    for arm in built:
        assert arm.history["new_items"][0] > 0 and sum(arm.history["new_impressions"]) > 0
        assert len(arm.recommender.item_ids) == len(world.artist_ids) + arm.creators.num_items
