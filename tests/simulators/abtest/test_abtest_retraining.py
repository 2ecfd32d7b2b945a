"""Policies retrained every R rounds on their arm's clicks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recsys.models.bpr import BPR
from recsys.synthetic import make_interactions
from recsys.train import fit
from simulators.abtest.environment import ClickModel, run_abtest
from simulators.abtest.policies import (
    RecommenderPolicy,
    RetrainingPolicy,
    embedding_trainer,
    itemknn_trainer,
    popularity_trainer,
)


@pytest.fixture(scope="module")
def world():
    log, truth = make_interactions(num_users=120, num_items=80, events_per_user=10, seed=8)
    clicks = ClickModel.calibrated(truth["user_factors"] @ truth["item_factors"].T, base_rate=0.1)
    return log, clicks


def simulate(world, policies, rounds=6, retrain_every=2):
    log, clicks = world
    users = np.arange(log.num_users)
    names, ids = [f"arm{a}" for a in range(len(policies))], [str(u) for u in log.user_ids]
    options = {"rounds": rounds, "k": 4, "patience": 3, "seed": 1, "retrain_every": retrain_every}
    return run_abtest(policies, names, clicks, users, ids, log.num_items, **options)


class Spy:
    """A learner that recommends popular items and records what it is told."""

    def __init__(self, base) -> None:
        self.base, self.updates, self.refits = base, [], []

    def slates(self, users, k, exclude):
        return self.base.slates(users, k, exclude)

    def update(self, users, items, clicked):
        self.updates.append((users, items, clicked))

    def refit(self):
        self.refits.append(len(self.updates))

    def state(self):
        return {}

    def restore(self, state):
        pass


def test_each_arm_gets_its_own_feedback_and_refits_every_r_rounds(world):
    log, _ = world
    train = popularity_trainer(log.user_ids, log.item_ids)
    spies = [Spy(RetrainingPolicy(train, log.to_csr(), "p")) for _ in range(2)]
    result = simulate(world, spies, rounds=7, retrain_every=3)
    for a, spy in enumerate(spies):
        assert spy.refits == [3, 6]  # after rounds 3 and 6, not after the last (7)
        members = result.users[result.arms == a]
        for t, (users, items, clicked) in enumerate(spy.updates):
            assert set(users) <= set(members) and len(users) == len(items) == len(clicked)
            assert len(users) == result.impressions[t, result.arms == a].sum()
            assert clicked.sum() == result.clicks[t, result.arms == a].sum()


def test_a_refit_adds_the_clicked_events_to_the_training_data(world):
    log, _ = world
    policy = RetrainingPolicy(itemknn_trainer(log.user_ids, log.item_ids, k=20), log.to_csr(), "knn")
    before = policy.recommender.train.copy()
    policy.update(np.array([0, 0, 5]), np.array([3, 4, 7]), np.array([True, False, True]))
    policy.refit()
    added = (policy.recommender.train - before).tocoo()
    expected = {(0, 3), (5, 7)} - set(zip(*before.nonzero(), strict=True))
    assert set(zip(added.row, added.col, strict=True)) == expected and (added.data == 1).all()
    assert policy.fitted_events == 3


def test_retraining_changes_what_popularity_shows(world):
    log, _ = world
    train = popularity_trainer(log.user_ids, log.item_ids)
    static = RecommenderPolicy(train(log.to_csr()))
    fixed = simulate(world, [static, static], retrain_every=None)
    learning = simulate(world, [RetrainingPolicy(train, log.to_csr(), "p") for _ in range(2)])
    assert np.array_equal(fixed.impressions[:2], learning.impressions[:2])  # the same until the first refit
    assert not all(np.array_equal(a, b) for a, b in zip(fixed.exposure, learning.exposure, strict=True))


def test_a_warm_started_bpr_refit_is_deterministic(world):
    log, _ = world
    torch.manual_seed(0)
    model = BPR(log.num_users, log.num_items, dim=8)
    fit(model, log, epochs=3, lr=0.02, batch_size=256, progress=False)
    start = {k: v.clone() for k, v in model.state_dict().items()}

    def policies():
        def make(matrix):
            return BPR(log.num_users, log.num_items, dim=8)

        train = embedding_trainer(make, start, log.user_ids, log.item_ids, epochs=2, lr=0.02, batch_size=256)
        return [RetrainingPolicy(train, log.to_csr(), f"bpr{a}") for a in range(2)]

    first, second = policies(), policies()
    a, b = simulate(world, first, rounds=4), simulate(world, second, rounds=4)
    assert np.array_equal(a.clicks, b.clicks) and np.array_equal(a.impressions, b.impressions)
    moved = first[0].recommender.model.state_dict()["user_embedding.weight"]
    assert not torch.equal(moved, start["user_embedding.weight"])


def test_retraining_needs_a_learner_and_one_per_arm(world):
    log, _ = world
    policy = RetrainingPolicy(popularity_trainer(log.user_ids, log.item_ids), log.to_csr(), "p")
    with pytest.raises(ValueError, match="one learning policy serves two arms"):
        simulate(world, [policy, policy])
    static = RecommenderPolicy(policy.recommender)
    with pytest.raises(ValueError, match="no arm can learn"):
        simulate(world, [static, static])
    with pytest.raises(ValueError, match="retrain_every"):
        simulate(world, [policy, Spy(policy)], retrain_every=0)


@pytest.mark.slow
def test_retraining_on_ray_runs_in_lockstep_and_equals_one_process(world):
    pytest.importorskip("ray")
    from simulators.abtest.environment import run_abtest_on_ray

    log, clicks = world
    train = itemknn_trainer(log.user_ids, log.item_ids, k=10)
    static = RecommenderPolicy(popularity_trainer(log.user_ids, log.item_ids)(log.to_csr()))
    users, ids = np.arange(log.num_users), [str(u) for u in log.user_ids]
    options = {"rounds": 6, "k": 4, "patience": 3, "seed": 1, "salt": "ray", "retrain_every": 2}
    local_policy = RetrainingPolicy(train, log.to_csr(), "knn")
    local = run_abtest([static, local_policy], ["pop", "knn"], clicks, users, ids, log.num_items, **options)
    remote = run_abtest_on_ray(
        [static, RetrainingPolicy(train, log.to_csr(), "knn")],
        ["pop", "knn"],
        clicks,
        users,
        ids,
        log.num_items,
        workers=2,
        **options,
    )
    assert local_policy.fitted_events > 0
    for name in ("users", "arms", "impressions", "clicks", "left_at"):
        assert np.array_equal(getattr(remote, name), getattr(local, name)), name
    assert all(np.array_equal(a, b) for a, b in zip(remote.exposure, local.exposure, strict=True))


def test_a_static_arm_against_a_retrained_one(world):
    log, _ = world
    train = popularity_trainer(log.user_ids, log.item_ids)
    static = RecommenderPolicy(train(log.to_csr()))
    learning = RetrainingPolicy(train, log.to_csr(), "p")
    mixed = simulate(world, [static, learning])
    alone = simulate(world, [static, RecommenderPolicy(train(log.to_csr()))], retrain_every=None)
    control = mixed.arms == 0
    assert np.array_equal(mixed.clicks[:, control], alone.clicks[:, control])  # the control is untouched
    assert learning.fitted_events > 0 and not np.array_equal(
        mixed.clicks[:, ~control], alone.clicks[:, ~control]
    )
