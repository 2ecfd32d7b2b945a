"""Exposure lists and the baseline simulators on planted data (protocol 1)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recsys.models.bpr import BPR
from recsys.models.itemknn import ItemKNN
from recsys.recommender import Recommender
from recsys.synthetic import make_interactions
from recsys.train import fit
from simulators.users import (
    PopularityUser,
    RandomUser,
    RecommenderUser,
    evaluate_simulator,
    heldout_split,
    popularity_exposures,
)


@pytest.fixture(scope="module")
def planted():
    log, _ = make_interactions(num_users=200, num_items=120, events_per_user=20, seed=11)
    held = heldout_split(log, num_users=80, min_events=11, seed=3)
    return log, held, popularity_exposures(log, held, n=5, history=10, seed=3)


def test_targets_are_each_users_last_event_and_never_trained_on(planted):
    log, held, exposures = planted
    assert len(held.train) == len(log) - 80
    for user, row in zip(held.users, held.targets, strict=True):
        mine = np.flatnonzero(log.users == user)
        assert log.timestamps[row] == log.timestamps[mine].max()
    trained = set(zip(held.train.users.tolist(), held.train.items.tolist(), strict=True))
    assert not {(log.users[r], log.items[r]) for r in held.targets} & trained
    with pytest.raises(ValueError, match="only"):
        heldout_split(log, num_users=500)


def test_exposures_hold_the_target_once_among_unseen_negatives(planted):
    log, held, exposures = planted
    item_ids = log.item_ids
    for exposure, user, row in zip(exposures, held.users, held.targets, strict=True):
        assert len(exposure.options) == 5 and len(set(exposure.options)) == 5
        assert exposure.options[exposure.target] == str(item_ids[log.items[row]])
        had = {str(item_ids[i]) for i in log.items[log.users == user]}
        negatives = set(exposure.options) - {exposure.options[exposure.target]}
        assert not negatives & had and len(exposure.history) == 10
    positions = np.bincount([e.target for e in exposures], minlength=5)
    assert positions.min() > 5  # spread over the five positions


def test_a_trained_recommender_beats_random_and_popularity(planted):
    log, held, exposures = planted
    train = held.train
    torch.manual_seed(0)
    model = BPR(train.num_users, train.num_items, dim=16)
    fit(model, train, epochs=30, lr=0.02, batch_size=512, num_negatives=4, progress=False)
    bpr = Recommender(model, train.to_csr(), train.user_ids, train.item_ids)
    knn = Recommender(ItemKNN(train, k=20), train.to_csr(), train.user_ids, train.item_ids)
    results = {
        sim.name: evaluate_simulator(sim, exposures)
        for sim in (RandomUser(), PopularityUser(bpr), RecommenderUser(bpr), RecommenderUser(knn))
    }
    assert results["random"]["sampled_accuracy"] == pytest.approx(0.2)
    assert results["bpr"]["accuracy"] > results["popularity"]["accuracy"] + 0.1
    assert results["itemknn"]["accuracy"] > 0.3 and results["bpr"]["accuracy"] > 0.3
    for result in results.values():
        assert abs(sum(result["position_rates"]) - 1) < 1e-6 and result["decisions_per_s"] > 0


def test_lists_of_different_lengths_are_refused(planted):
    _, _, exposures = planted
    from dataclasses import replace

    mixed = [exposures[0], replace(exposures[1], options=exposures[1].options[:3], target=0)]
    with pytest.raises(ValueError, match="same length"):
        RandomUser().choice_probabilities(mixed)


def test_hard_exposures_interleave_three_lists_and_match_the_target(planted):
    from simulators.users import GenreMedoidUser, ItemMeta, NewestUser, hard_exposures

    log, held, _ = planted
    rng = np.random.default_rng(0)
    meta = ItemMeta(
        years=rng.integers(1950, 1971, size=log.num_items),
        genres=(rng.random((log.num_items, 6)) < 0.3).astype(np.float32),
        popularity=held.train.item_popularity(),
    )
    collaborative = np.tile(np.arange(log.num_items), (len(held.users), 1))  # a fixed ranking
    matched = hard_exposures(log, held, meta, collaborative, n=5, match=True, seed=1)
    plain = hard_exposures(log, held, meta, collaborative, n=5, match=False, seed=1)
    index = {str(i): k for k, i in enumerate(log.item_ids)}
    gaps = {}
    for name, exposures in (("matched", matched), ("plain", plain)):
        gap = []
        for exposure, user in zip(exposures, held.users, strict=True):
            assert len(set(exposure.options)) == 5
            had = {str(log.item_ids[i]) for i in log.items[log.users == user]}
            target = exposure.options[exposure.target]
            assert not (set(exposure.options) - {target}) & had
            rows = [index[o] for o in exposure.options]
            gap.append(np.abs(meta.popularity[rows] - meta.popularity[index[target]]).mean())
        gaps[name] = np.mean(gap)
    assert gaps["matched"] < gaps["plain"]
    years = {str(i): int(y) for i, y in zip(log.item_ids, meta.years, strict=True)}
    genres = {str(i): g for i, g in zip(log.item_ids, meta.genres, strict=True)}
    for heuristic in (NewestUser(years), GenreMedoidUser(genres)):
        result = evaluate_simulator(heuristic, matched)
        assert 0 <= result["accuracy"] <= 1 and result["n"] == 5


def test_a_second_split_can_exclude_the_first_ones_users(planted):
    log, held, _ = planted
    other = heldout_split(held.train, num_users=50, min_events=11, seed=4, exclude=held.users)
    assert not set(other.users.tolist()) & set(held.users.tolist()) and len(other.users) == 50
