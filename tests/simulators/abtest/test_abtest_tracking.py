"""One MLflow run per A/B test on a temporary SQLite store: params, metrics, per-round steps, report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from planted import simulate

from simulators.abtest.analysis import experiment_report
from simulators.abtest.report import write_report
from simulators.abtest.tracking import log_experiment


def test_one_run_holds_the_experiment(tmp_path):
    mlflow = pytest.importorskip("mlflow")
    result = simulate((True, False), rounds=5, extras=True)
    result.arm_names = ["pop#0", "best"]  # a name MLflow must have rewritten
    settings = {"arms": ["pop", "best"], "rounds": 5, "k": 5, "seed": 2026, "salt": "ab", "world": "planted"}
    history = {"active_creators": [5, 5, 4, 4, 3], "genre_entropy": [1.0, 0.9, 0.9, 0.8, 0.8]}
    numbers = experiment_report(result, {**settings, "patience": 3}, creators={"best": history})
    write_report(numbers, tmp_path / "report")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_id = log_experiment(numbers, tmp_path / "report", tracking_uri=uri, experiment="ab", run_name="t")
    client = mlflow.MlflowClient(tracking_uri=uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["rounds"] == "5" and run.data.params["salt"] == "ab"
    assert run.data.params["arms"] == '["pop", "best"]' and run.data.params["patience"] == "3"
    assert run.data.metrics["best/ctr"] == pytest.approx(numbers["arms"]["best"]["ctr"])
    assert run.data.metrics["pop_0/exposure_gini"] == pytest.approx(numbers["arms"]["pop#0"]["exposure_gini"])
    assert run.data.metrics["best/p_value"] == pytest.approx(numbers["comparisons"]["best"]["p_value"])
    assert run.data.metrics["best/mean_rating"] == pytest.approx(numbers["arms"]["best"]["mean_rating"])
    assert len(client.get_metric_history(run_id, "best/round_diversity")) == 5
    history = client.get_metric_history(run_id, "best/round_ctr")
    assert [m.step for m in history] == [1, 2, 3, 4, 5]
    expected = numbers["trajectories"]["best"]["round_ctr"]["ctr"]
    assert np.allclose([m.value for m in history], expected)
    creators = client.get_metric_history(run_id, "best/creators/active_creators")
    assert [(m.step, m.value) for m in creators] == [(1, 5), (2, 5), (3, 4), (4, 4), (5, 3)]
    assert run.data.tags["verdict/best"].startswith("best beats pop#0")
    artifacts = {Path(a.path).name for a in client.list_artifacts(run_id, "report")}
    assert {"report.md", "report.html", "report.json", "ctr_per_round.png"} <= artifacts
