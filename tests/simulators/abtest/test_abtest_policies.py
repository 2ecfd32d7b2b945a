"""Policies over HTTP: a served recommender gives the same A/B result as the same one in process."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from recsys.models.bpr import BPR
from recsys.recommender import Recommender
from recsys.synthetic import make_interactions
from recsys.train import fit
from simulators.abtest.environment import ClickModel, run_abtest
from simulators.abtest.policies import HTTPPolicy, RecommenderPolicy

pytest.importorskip("fastapi")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny BPR saved as the service loads it, the same one loaded here, and a planted world."""
    log, truth = make_interactions(num_users=80, num_items=60, events_per_user=10, seed=5)
    torch.manual_seed(0)
    model = BPR(log.num_users, log.num_items, dim=8)
    fit(model, log, epochs=5, lr=0.02, batch_size=256, progress=False)
    folder = Recommender(model, log.to_csr(), log.user_ids, log.item_ids).save(
        tmp_path_factory.mktemp("served") / "recommender"
    )
    clicks = ClickModel.calibrated(truth["user_factors"] @ truth["item_factors"].T, base_rate=0.1)
    return folder, Recommender.load(folder), clicks


@pytest.fixture
def app(saved, tmp_path):
    from serving.config import Settings
    from serving.main import create_app

    return create_app(Settings(model_dir=saved[0], feedback_url=f"sqlite:///{tmp_path / 'feedback.db'}"))


def simulate(policy, recommender, clicks, rounds=4):
    users = np.arange(len(recommender.user_ids))
    options = {"rounds": rounds, "k": 4, "patience": 3, "seed": 7, "salt": "http"}
    ids = [str(u) for u in recommender.user_ids]
    return run_abtest([policy, policy], ["a", "b"], clicks, users, ids, len(recommender.item_ids), **options)


def same(x, y) -> bool:
    return all(
        np.array_equal(getattr(x, f), getattr(y, f))
        for f in ("users", "arms", "impressions", "clicks", "left_at")
    ) and all(np.array_equal(a, b) for a, b in zip(x.exposure, y.exposure, strict=True))


def test_the_same_seed_gives_the_same_result_over_http_and_in_process(saved, app):
    from fastapi.testclient import TestClient

    _, recommender, clicks = saved
    local = simulate(RecommenderPolicy(recommender, batch=1), recommender, clicks)  # the server's arithmetic
    with TestClient(app) as client:
        remote = simulate(HTTPPolicy(client, recommender.user_ids, recommender.item_ids), recommender, clicks)
    assert local.clicks.sum() > 0 and same(local, remote)
    assert same(simulate(RecommenderPolicy(recommender, batch=7), recommender, clicks), local)


def test_items_the_simulation_does_not_know_are_an_error(saved, app):
    from fastapi.testclient import TestClient

    _, recommender, _ = saved
    with TestClient(app) as client:
        policy = HTTPPolicy(client, recommender.user_ids, recommender.item_ids[:10])
        with pytest.raises(ValueError, match="not in item_ids"):
            policy.slates(np.array([0]), 5, [np.array([], dtype=np.int64)])


def test_a_real_server_by_url_with_retries(saved, app):
    import pickle
    import socket

    import uvicorn

    _, recommender, clicks = saved
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    policy = HTTPPolicy(url, recommender.user_ids, recommender.item_ids, retries=6)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    # The server starts late on purpose: the first requests are refused and retried.
    thread = threading.Timer(0.3, server.run)
    thread.start()
    try:
        remote = simulate(policy, recommender, clicks, rounds=2)
        parallel = HTTPPolicy(url, recommender.user_ids, recommender.item_ids, concurrency=4)
        assert same(simulate(parallel, recommender, clicks, rounds=2), remote)
        parallel.close()
        copy = pickle.loads(pickle.dumps(policy))  # as sent to a Ray worker: its own connections
        assert np.array_equal(
            copy.slates(np.array([3]), 4, [np.array([], dtype=np.int64)]),
            policy.slates(np.array([3]), 4, [np.array([], dtype=np.int64)]),
        )
    finally:
        policy.close()
        server.should_exit = True
        thread.join(10)
    assert same(remote, simulate(RecommenderPolicy(recommender), recommender, clicks, rounds=2))


def test_a_policy_on_a_given_client_cannot_be_copied(saved):
    import pickle

    import httpx

    _, recommender, _ = saved
    with httpx.Client(base_url="http://127.0.0.1:1") as client:
        with pytest.raises(TypeError, match="base URL"):
            pickle.dumps(HTTPPolicy(client, recommender.user_ids, recommender.item_ids))


def test_transport_errors_are_retried_then_raised(saved):
    import httpx

    _, recommender, _ = saved
    calls = []

    def refuse(request):
        calls.append(time.perf_counter())
        raise httpx.ConnectError("refused", request=request)

    client = httpx.Client(base_url="http://sim", transport=httpx.MockTransport(refuse))
    policy = HTTPPolicy(client, recommender.user_ids, recommender.item_ids, retries=2)
    with pytest.raises(httpx.ConnectError):
        policy.slates(np.array([0]), 3, [np.array([], dtype=np.int64)])
    assert len(calls) == 3


def test_feedback_reaches_the_servers_store_once(saved, app):
    from fastapi.testclient import TestClient

    from simulators.abtest.policies import HTTPFeedback

    _, recommender, clicks = saved
    with TestClient(app) as client:
        policy = HTTPPolicy(client, recommender.user_ids, recommender.item_ids)
        senders = [
            HTTPFeedback(client, recommender.user_ids, recommender.item_ids, a, "exp-1", 50) for a in (0, 1)
        ]
        users, ids = np.arange(len(recommender.user_ids)), [str(u) for u in recommender.user_ids]
        options = {"rounds": 3, "k": 4, "patience": 3, "seed": 7, "salt": "fb", "observers": senders}
        result = run_abtest(
            [policy, policy], ["a", "b"], clicks, users, ids, len(recommender.item_ids), **options
        )
        store = app.state.serving.store
        events = int(result.impressions.sum() + result.clicks.sum())
        assert store.count() == events > 0
        clicked = [row for row in store.rows(types=("click",))]
        assert len(clicked) == result.clicks.sum()
        run_abtest([policy, policy], ["a", "b"], clicks, users, ids, len(recommender.item_ids), **options)
        assert store.count() == events  # a replayed run sends the same event ids: stored once
