"""User simulators as the users of an A/B test (``SimulatorClickModel``)."""

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
from simulators.abtest.environment import run_abtest
from simulators.abtest.policies import RecommenderPolicy
from simulators.abtest.simulated_users import SimulatorClickModel
from simulators.users.exposures import log_histories
from simulators.users.simulators import RandomUser, RecommenderUser


@pytest.fixture(scope="module")
def world():
    log, _ = make_interactions(num_users=200, num_items=120, events_per_user=15, seed=8)
    torch.manual_seed(0)
    model = BPR(log.num_users, log.num_items, dim=16)
    fit(model, log, epochs=20, lr=0.02, batch_size=512, num_negatives=4, progress=False)
    bpr = Recommender(model, log.to_csr(), log.user_ids, log.item_ids)
    pop = Recommender(MostPopular(log), log.to_csr(), log.user_ids, log.item_ids)
    return log, bpr, pop


def test_an_indifferent_simulator_clicks_at_the_engagement_rate(world):
    log, *_ = world
    users = SimulatorClickModel(RandomUser(), log.user_ids, log.item_ids, log_histories(log), engagement=0.1)
    slates = np.array([[0, 1, 2, 3], [4, 5, -1, -1]])
    p = users.click_probabilities(np.array([0, 1]), slates)
    np.testing.assert_allclose(p[0], 0.1)
    np.testing.assert_allclose(p[1], [0.1 * 4 / 2, 0.1 * 4 / 2, 0.0, 0.0])  # two options, k = 4
    assert users.decisions == 2
    exposure = users.exposure(0, np.array([3, 1]))
    assert exposure.options == (str(log.item_ids[3]), str(log.item_ids[1]))
    assert len(exposure.history) == 10 and exposure.user == str(log.user_ids[0])


def test_a_recommender_simulator_runs_an_ab_test_and_remembers_its_clicks(world):
    log, bpr, pop = world
    histories = log_histories(log)

    def simulate():
        users = SimulatorClickModel(
            RecommenderUser(bpr, temperature=0.5), log.user_ids, log.item_ids, histories
        )
        ids = [str(u) for u in log.user_ids]
        policies = [RecommenderPolicy(pop), RecommenderPolicy(bpr)]
        result = run_abtest(
            policies, ["pop", "bpr"], users, np.arange(log.num_users), ids, log.num_items,
            rounds=4, k=5, seed=3,
        )  # fmt: skip
        return users, result

    users, result = simulate()
    again = simulate()[1]
    assert (result.clicks == again.clicks).all()  # the same seed, the same run
    clicked = int(result.clicks.sum())
    assert clicked > 0 and users.decisions == int((result.impressions > 0).sum())
    grown = sum(len(users.histories[u]) - len(histories[u]) for u in histories)
    assert grown == clicked  # every click entered its user's history
    numbers = report(result)
    assert set(numbers["arms"]) == {"pop", "bpr"} and np.isfinite(users.decisions_per_second)


def test_bad_settings_are_refused(world):
    log, *_ = world
    with pytest.raises(ValueError, match="engagement"):
        SimulatorClickModel(RandomUser(), log.user_ids, log.item_ids, {}, engagement=0)
    with pytest.raises(ValueError, match="history"):
        SimulatorClickModel(RandomUser(), log.user_ids, log.item_ids, {}, history=-1)


@pytest.mark.slow
def test_simulated_users_on_ray_remember_their_clicks_as_in_one_process(world):
    pytest.importorskip("ray")
    from simulators.abtest.environment import run_abtest_on_ray

    log, bpr, pop = world
    histories = log_histories(log)
    ids = [str(u) for u in log.user_ids]
    policies = [RecommenderPolicy(pop), RecommenderPolicy(bpr)]
    options = {"rounds": 4, "k": 5, "seed": 3}

    def users():
        return SimulatorClickModel(
            RecommenderUser(bpr, temperature=0.5), log.user_ids, log.item_ids, histories
        )

    one = run_abtest(
        policies, ["pop", "bpr"], users(), np.arange(log.num_users), ids, log.num_items, **options
    )
    sharded = run_abtest_on_ray(
        policies, ["pop", "bpr"], users(), np.arange(log.num_users), ids, log.num_items, workers=2, **options
    )
    assert one.clicks.sum() > 0
    for name in ("users", "arms", "impressions", "clicks", "left_at"):
        assert np.array_equal(getattr(sharded, name), getattr(one, name)), name
