"""The loop end to end: a tiny BPR served in process, the A/B harness's simulated users shown its
slates and their feedback posted to the service, the served slates turned into exposures, and user
simulators evaluated on them (in Python and through `alignrec simulator evaluate --feedback-db`)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from alignrec.cli import app as alignrec
from recsys.models.bpr import BPR
from recsys.recommender import Recommender
from recsys.synthetic import make_interactions
from recsys.train import fit
from simulators.abtest.environment import ClickModel, run_abtest
from simulators.abtest.policies import HTTPFeedback, HTTPPolicy
from simulators.users import RandomUser, RecommenderUser, evaluate_simulator
from simulators.users.feedback_exposures import read_export_csv, read_store_events, served_exposures

pytest.importorskip("fastapi")
runner = CliRunner()
K = 4


@pytest.fixture(scope="module")
def served_store(tmp_path_factory):
    """A store holding three rounds of two arms' feedback from the served BPR; the base log's CSV."""
    from fastapi.testclient import TestClient

    from serving.config import Settings
    from serving.main import create_app

    root = tmp_path_factory.mktemp("served-slates")
    log, truth = make_interactions(num_users=80, num_items=60, events_per_user=10, seed=5)
    log.to_frame().to_csv(root / "base.csv", index=False)
    torch.manual_seed(0)
    model = BPR(log.num_users, log.num_items, dim=8)
    fit(model, log, epochs=5, lr=0.02, batch_size=256, progress=False)
    folder = Recommender(model, log.to_csr(), log.user_ids, log.item_ids).save(root / "recommender")
    recommender = Recommender.load(folder)
    url = f"sqlite:///{root / 'feedback.db'}"
    clicks = ClickModel.calibrated(truth["user_factors"] @ truth["item_factors"].T, base_rate=0.15)
    with TestClient(create_app(Settings(model_dir=folder, feedback_url=url))) as client:
        policy = HTTPPolicy(client, recommender.user_ids, recommender.item_ids)
        senders = [
            HTTPFeedback(client, recommender.user_ids, recommender.item_ids, a, "exp", 200) for a in (0, 1)
        ]
        users, ids = np.arange(len(recommender.user_ids)), [str(u) for u in recommender.user_ids]
        options = {"rounds": 3, "k": K, "patience": 3, "seed": 7, "salt": "slates", "observers": senders}
        result = run_abtest(
            [policy, policy], ["a", "b"], clicks, users, ids, len(recommender.item_ids), **options
        )
    return url, root / "base.csv", log, recommender, result


def test_served_slates_become_exposures_a_simulator_is_evaluated_on(served_store):
    url, _, log, recommender, result = served_store
    events = read_store_events(url)
    rounds = {slate.split(":")[1] for slate in events["slate"]}
    assert rounds == {"0", "1", "2"}  # HTTPFeedback's slate ids: experiment, round, user
    pairs = zip(events["slate"], events["user"], strict=True)
    assert all(slate == f"exp:{slate.split(':')[1]}:{user}" for slate, user in pairs)
    exposures, report = served_exposures(events, log, history=5)
    slates = events.loc[events["type"] == "impression", "slate"].nunique()
    clicked = events.loc[events["type"] == "click", "slate"].nunique()
    assert report.slates == slates and report.kept == clicked > 10
    assert report.dropped["no_click"] == slates - clicked and report.n == K
    assert sum(report.dropped.values()) + report.kept == report.slates
    for e in exposures[:20]:
        taken = events[(events["user"] == e.user) & (events["type"] == "click")]
        assert e.options[e.target] in set(taken["item"]) and len(e.history) == 5

    # The served model ranked every slate, so it picks the first option every time.
    served_model = evaluate_simulator(RecommenderUser(recommender, name="served"), exposures)
    assert served_model["lists"] == report.kept and served_model["position_rates"][0] == 1.0
    uniform = evaluate_simulator(RandomUser(), exposures)
    assert uniform["sampled_accuracy"] == pytest.approx(1 / K)
    assert uniform["target_rates"] == served_model["target_rates"]


def test_the_evaluate_command_on_the_store(served_store, tmp_path):
    url, base, *_ = served_store
    out = tmp_path / "served.json"
    args = ["simulator", "evaluate", "--data", str(base), "--feedback-db", url, "-s", "random", "-s", "bpr"]
    result = runner.invoke(alignrec, [*args, "--epochs", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "served slates:" in result.output and f"n = {K}" in result.output
    record = json.loads(out.read_text())
    assert record["protocol"] == "served" and record["n"] == K
    assert record["results"]["bpr"]["lists"] == record["slates"]["kept"]

    result = runner.invoke(alignrec, [*args, "-n", "7"])
    assert result.exit_code != 0
    assert "no served slate can be evaluated" in str(result.exception) and "length" in str(result.exception)
    result = runner.invoke(alignrec, [*args, "--feedback-csv", str(base)])
    assert result.exit_code != 0 and "give one source" in str(result.exception)
    result = runner.invoke(alignrec, [*args, "--feedback-since", "2100-01-01"])  # nothing that late
    assert result.exit_code != 0 and "no served slate can be evaluated" in str(result.exception)
    plain = ["simulator", "evaluate", "--data", str(base), "-s", "random", "--feedback-since", "0"]
    result = runner.invoke(alignrec, plain)
    assert result.exit_code != 0 and "--feedback-since filters served slates" in str(result.exception)


def test_the_export_gives_the_stores_exposures(served_store, tmp_path):
    url, base, log, *_ = served_store
    exported = tmp_path / "slates.csv"
    result = runner.invoke(alignrec, ["feedback", "export", "--db", url, "--out", str(exported), "--slates"])
    assert result.exit_code == 0, result.output
    from_store, report = served_exposures(read_store_events(url), log)
    from_file, _ = served_exposures(read_export_csv(exported), log)
    assert from_file == from_store and len(from_store) == report.kept
    args = ["simulator", "evaluate", "--data", str(base), "--feedback-csv", str(exported), "-s", "random"]
    result = runner.invoke(alignrec, [*args, "--epochs", "1"])
    assert result.exit_code == 0, result.output
    assert f"{report.slates} read, {report.kept} kept" in result.output
