"""`alignrec simulate abtest` end to end on a tiny synthetic run."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from alignrec.cli import app

runner = CliRunner()


def test_abtest_reports_arms_and_tests(tmp_path):
    run = tmp_path / "run"
    trained = runner.invoke(app, ["train", "-m", "pop", "-m", "itemknn", "--no-track", "--out", str(run)])
    assert trained.exit_code == 0, trained.output
    result = runner.invoke(
        app,
        ["simulate", "abtest", "--run", str(run), "-a", "pop", "-a", "itemknn", "--rounds", "4", "-k", "5"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    report = json.loads((run / "abtest-ab.json").read_text())
    assert set(report["arms"]) == {"pop", "itemknn"} and "itemknn" in report["comparisons"]
    assert "always-valid test stops at round" in result.output
    aa = runner.invoke(
        app,
        ["simulate", "abtest", "--run", str(run), "-a", "pop", "-a", "pop", "--rounds", "2", "--salt", "aa"],
    )
    assert aa.exit_code == 0, aa.output
    assert set(json.loads((run / "abtest-aa.json").read_text())["arms"]) == {"pop#0", "pop#1"}
    missing = runner.invoke(app, ["simulate", "abtest", "--run", str(tmp_path / "none")])
    assert missing.exit_code != 0 and "no run folder there" in str(missing.exception)
