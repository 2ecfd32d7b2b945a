"""Resumable A/B runs: an interrupted run, resumed, gives the uninterrupted result."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.synthetic import make_interactions
from simulators.abtest.environment import ClickModel, run_abtest
from simulators.abtest.policies import RetrainingPolicy, itemknn_trainer


@pytest.fixture(scope="module")
def world():
    log, truth = make_interactions(num_users=100, num_items=70, events_per_user=10, seed=9)
    clicks = ClickModel.calibrated(truth["user_factors"] @ truth["item_factors"].T, base_rate=0.1)
    clicks.fit_ratings(log.users, log.items, log.ratings)
    return log, clicks, np.eye(6)[truth["item_cluster"]]


class StopAt:
    """Interrupts the run (as Ctrl-C would) when arm ``arm``'s round ``t`` ends."""

    def __init__(self, t: int, arm: int = 0) -> None:
        self.t, self.arm = t, arm

    def on_round(self, t, arm, users, slates, clicks) -> None:
        if (t, arm) == (self.t, self.arm):
            raise KeyboardInterrupt


def simulate(world, state_path=None, observers=(), **changes):
    log, clicks, genres = world
    train = itemknn_trainer(log.user_ids, log.item_ids, k=10)
    policies = [RetrainingPolicy(train, log.to_csr(), f"knn{a}") for a in range(2)]  # fresh: a new process
    users = np.arange(log.num_users)
    options = {"rounds": 7, "k": 4, "patience": 3, "seed": 5, "salt": "s", "retrain_every": 2, **changes}
    ids = [str(u) for u in log.user_ids]
    return run_abtest(
        policies, ["a", "b"], clicks, users, ids, log.num_items, state_path=state_path, observers=observers,
        item_features=genres, **options,
    )  # fmt: skip


def assert_same(x, y) -> None:
    for name in ("users", "arms", "impressions", "clicks", "left_at", "rating_sum", "diversity"):
        assert np.array_equal(getattr(x, name), getattr(y, name), equal_nan=True), name
    assert all(np.array_equal(a, b) for a, b in zip(x.exposure, y.exposure, strict=True))


def test_an_interrupted_run_resumes_to_the_uninterrupted_result(world, tmp_path):
    whole = simulate(world)
    path = tmp_path / "run.npz"
    with pytest.raises(KeyboardInterrupt):
        simulate(world, path, observers=[StopAt(3)])
    assert path.exists()
    again = []

    class Count:
        def on_round(self, t, arm, users, slates, clicks) -> None:
            again.append(t)

    resumed = simulate(world, path, observers=[Count()])
    assert sorted(set(again)) == [3, 4, 5, 6]  # rounds 0-2 were not simulated again
    assert whole.clicks[3:].sum() > 0
    assert_same(resumed, whole)
    again.clear()
    assert_same(simulate(world, path, observers=[Count()]), whole)  # finished: nothing left to run
    assert again == []


def test_a_run_stopped_before_a_refit_resumes_too(world, tmp_path):
    path = tmp_path / "run.npz"
    with pytest.raises(KeyboardInterrupt):
        simulate(world, path, observers=[StopAt(4, arm=1)])  # saved after round 3, the second refit
    assert_same(simulate(world, path), simulate(world))


@pytest.mark.parametrize(
    ("change", "named"),
    [({"seed": 6}, "seed (saved 5, now 6)"), ({"salt": "other"}, "salt"), ({"rounds": 8}, "rounds")],
)
def test_a_state_from_other_arguments_is_refused(world, tmp_path, change, named):
    path = tmp_path / "run.npz"
    simulate(world, path)
    with pytest.raises(ValueError, match=named.replace("(", r"\(").replace(")", r"\)")):
        simulate(world, path, **change)


def test_a_state_from_other_users_or_arms_is_refused(world, tmp_path):
    log, clicks, _ = world
    path = tmp_path / "run.npz"
    simulate(world, path)
    train = itemknn_trainer(log.user_ids, log.item_ids, k=10)
    users, ids = np.arange(50), [str(u) for u in log.user_ids[:50]]
    policies = [RetrainingPolicy(train, log.to_csr(), "p") for _ in range(2)]
    options = {"rounds": 7, "k": 4, "patience": 3, "seed": 5, "salt": "s", "retrain_every": 2}
    with pytest.raises(ValueError, match="user_ids .*users"):
        run_abtest(policies, ["a", "b"], clicks, users, ids, log.num_items, state_path=path, **options)
    users, ids = np.arange(log.num_users), [str(u) for u in log.user_ids]
    with pytest.raises(ValueError, match="arm_names"):
        run_abtest(policies, ["a", "c"], clicks, users, ids, log.num_items, state_path=path, **options)
