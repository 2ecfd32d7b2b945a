"""The A/B environment on planted data: stable arms, per-user randomness, a better policy detected."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recsys.models.bpr import BPR
from recsys.models.popularity import MostPopular
from recsys.recommender import Recommender
from recsys.synthetic import make_interactions
from recsys.train import fit
from simulators.abtest.analysis import gini, report
from simulators.abtest.environment import ClickModel, RecommenderPolicy, arm_of, run_abtest


@pytest.fixture(scope="module")
def world():
    log, truth = make_interactions(num_users=300, num_items=150, events_per_user=15, seed=4)
    torch.manual_seed(0)
    model = BPR(log.num_users, log.num_items, dim=16)
    fit(model, log, epochs=25, lr=0.02, batch_size=512, num_negatives=4, progress=False)
    bpr = Recommender(model, log.to_csr(), log.user_ids, log.item_ids)
    pop = Recommender(MostPopular(log), log.to_csr(), log.user_ids, log.item_ids)
    scores = truth["user_factors"] @ truth["item_factors"].T  # (U, I) the planted tastes
    return log, bpr, pop, ClickModel.calibrated(scores, base_rate=0.05)


def run(world, policies, names, users=None, rounds=8, salt="t"):
    log, *_, clicks = world
    users = np.arange(log.num_users) if users is None else users
    return run_abtest(
        policies,
        names,
        clicks,
        users,
        [str(log.user_ids[u]) for u in users],
        log.num_items,
        rounds=rounds,
        k=5,
        patience=4,
        seed=3,
        salt=salt,
    )


def test_arms_come_from_a_stable_hash():
    ids = [f"u{i}" for i in range(1000)]
    arms = arm_of(ids, 2, "exp-1")
    assert np.array_equal(arms, arm_of(ids, 2, "exp-1")) and 0.45 < arms.mean() < 0.55
    assert not np.array_equal(arms, arm_of(ids, 2, "exp-2"))
    assert set(arm_of(ids, 3, "x")) == {0, 1, 2}


def test_a_users_outcome_does_not_depend_on_who_else_is_simulated(world):
    log, bpr, pop, _ = world
    policies, names = [RecommenderPolicy(pop), RecommenderPolicy(bpr)], ["pop", "bpr"]
    everyone = run(world, policies, names)
    half = np.arange(0, log.num_users, 2)
    some = run(world, policies, names, users=half[::-1])  # other users, other order
    position = {u: i for i, u in enumerate(everyone.users)}
    for j, u in enumerate(some.users):
        assert np.array_equal(some.clicks[:, j], everyone.clicks[:, position[u]])


def test_the_better_policy_wins_and_an_aa_test_does_not(world):
    _, bpr, pop, _ = world
    ab = report(run(world, [RecommenderPolicy(pop), RecommenderPolicy(bpr)], ["pop", "bpr"]))
    assert ab["arms"]["bpr"]["ctr"] > ab["arms"]["pop"]["ctr"]
    assert ab["comparisons"]["bpr"]["significant"] and ab["comparisons"]["bpr"]["sequential_stop_round"]
    assert ab["arms"]["bpr"]["coverage"] > ab["arms"]["pop"]["coverage"]
    aa = report(run(world, [RecommenderPolicy(bpr), RecommenderPolicy(bpr)], ["a", "a'"], salt="aa"))
    assert aa["comparisons"]["a'"]["sequential_stop_round"] is None


def test_gini():
    assert gini(np.ones(10)) == pytest.approx(0.0)
    assert gini(np.array([0, 0, 0, 10])) == pytest.approx(0.75)


@pytest.mark.slow
def test_ray_shards_give_the_one_process_result(world):
    pytest.importorskip("ray")
    from simulators.abtest.environment import run_abtest_on_ray

    log, bpr, pop, clicks = world
    policies, names = [RecommenderPolicy(pop), RecommenderPolicy(bpr)], ["pop", "bpr"]
    users, ids = np.arange(log.num_users), [str(u) for u in log.user_ids]
    options = {"rounds": 6, "k": 5, "patience": 4, "seed": 3, "salt": "t"}
    local = run_abtest(policies, names, clicks, users, ids, log.num_items, **options)
    remote = run_abtest_on_ray(policies, names, clicks, users, ids, log.num_items, workers=2, **options)
    assert np.array_equal(remote.users, local.users) and np.array_equal(remote.clicks, local.clicks)
    assert all(np.array_equal(a, b) for a, b in zip(remote.exposure, local.exposure, strict=True))


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int, np.ndarray, np.ndarray, np.ndarray]] = []

    def on_round(self, t, arm, users, slates, clicks) -> None:
        self.calls.append((t, arm, users.copy(), slates.copy(), clicks.copy()))


def test_observers_see_each_arm_round_and_its_clicks(world):
    log, bpr, pop, clicks = world
    recorder = Recorder()
    users = np.arange(log.num_users)
    result = run_abtest(
        [RecommenderPolicy(pop), RecommenderPolicy(bpr)],
        ["pop", "bpr"],
        clicks,
        users,
        [str(log.user_ids[u]) for u in users],
        log.num_items,
        rounds=4,
        k=5,
        patience=4,
        seed=3,
        observers=[recorder],
    )
    assert [(t, a) for t, a, *_ in recorder.calls] == [(t, a) for t in range(4) for a in (0, 1)]
    position = {u: i for i, u in enumerate(result.users)}
    for t, arm, seen_users, slates, clicked in recorder.calls:
        assert slates.shape == clicked.shape == (len(seen_users), 5) and clicked.dtype == bool
        assert (result.arms[[position[u] for u in seen_users]] == arm).all()
        assert np.array_equal(clicked.sum(1), result.clicks[t, [position[u] for u in seen_users]])
        assert not clicked[slates < 0].any()


class NewItemEachRound:
    """A policy whose slates lead with the newest item; its observer adds one item per round."""

    def __init__(self, base, clicks: ClickModel, num_items: int) -> None:
        self.base, self.clicks, self.num_items, self.newest = base, clicks, num_items, num_items - 1

    def slates(self, users, k, exclude):
        slates = self.base.slates(users, k, [e[e < self.num_items] for e in exclude])
        slates[:, 0] = self.newest
        return slates

    def on_round(self, t, arm, users, slates, clicks) -> None:
        if arm == 1:
            self.newest += 1
            self.clicks.add_items(np.full((self.clicks.scores.shape[0], 1), self.clicks.scores.max()))


def test_items_added_during_a_run_grow_the_exposure_counts(world):
    log, bpr, pop, clicks = world
    world_clicks = ClickModel(clicks.scores.copy(), clicks.bias, clicks.temperature)
    growing = NewItemEachRound(RecommenderPolicy(bpr), world_clicks, log.num_items)
    users = np.arange(log.num_users)
    result = run_abtest(
        [RecommenderPolicy(pop), growing],
        ["pop", "new"],
        world_clicks,
        users,
        [str(log.user_ids[u]) for u in users],
        log.num_items,
        rounds=3,
        k=5,
        patience=4,
        seed=3,
        observers=[growing],
    )
    assert all(len(e) == log.num_items + 2 for e in result.exposure)  # items added after rounds 0 and 1
    new_arm = int((result.arms == 1).sum())
    assert result.exposure[1][log.num_items :].tolist() == [new_arm, new_arm]
    assert result.exposure[0][log.num_items :].tolist() == [0, 0]
    assert report(result)["arms"]["new"]["coverage"] > 0


def test_ray_refuses_observers(world):
    from simulators.abtest.environment import run_abtest_on_ray

    log, bpr, pop, clicks = world
    with pytest.raises(ValueError, match="observers"):
        run_abtest_on_ray(
            [RecommenderPolicy(pop), RecommenderPolicy(bpr)],
            ["a", "b"],
            clicks,
            np.arange(3),
            ["1", "2", "3"],
            log.num_items,
            observers=[Recorder()],
        )
