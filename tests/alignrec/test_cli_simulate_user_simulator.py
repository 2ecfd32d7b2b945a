"""`alignrec simulate abtest --user-simulator DIR`: a distilled user simulator (tuned on the log the
run was trained on) is the A/B test's world instead of ItemKNN."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alignrec.cli import app
from recsys.synthetic import make_interactions

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def distil(root: Path, log_name: str, out: Path, model: Path):
    result = invoke(
        "simulator", "distil", "--data", str(root / log_name), "--base-model", str(model),
        "--num-users", "10", "--epochs", "2", "--threads", "1", "--train-users", "10",
        "--lists-per-user", "2", "--rounds", "10", "--no-text", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, tiny_llama_dir):
    root = tmp_path_factory.mktemp("simulated-world")
    make_interactions(num_users=50, num_items=30, events_per_user=14, seed=5)[0].to_frame().to_csv(
        root / "log.csv", index=False
    )
    trained = invoke("train", "-m", "pop", "-m", "itemknn", "--data", str(root / "log.csv"), "--no-track",
                     "--out", str(root / "run"))  # fmt: skip
    assert trained.exit_code == 0, trained.output
    return root, distil(root, "log.csv", root / "distilled", tiny_llama_dir), tiny_llama_dir


def test_the_distilled_simulator_is_the_world(workspace):
    root, folder, _ = workspace
    arms = ["-a", "pop", "-a", "itemknn", "--rounds", "3", "-k", "5", "--in-process", "--no-track"]
    result = invoke("simulate", "abtest", "--run", str(root / "run"), *arms, "--user-simulator", str(folder))
    assert result.exit_code == 0, result.output
    assert "world: the user simulator of" in result.output and "no star ratings" in result.output
    report = json.loads((root / "run" / "abtest-ab" / "report.json").read_text())
    assert report["settings"]["world"] == f"simulator({folder})" and report["settings"]["ratings"] is False
    ctr = report["trajectories"]["itemknn"]["round_ctr"]["ctr"]
    assert len(ctr) == 3 and all(0 <= c <= 1 for c in ctr) and sum(ctr) > 0  # the simulator clicked
    knn = invoke("simulate", "abtest", "--run", str(root / "run"), *arms, "--salt", "knn")
    assert knn.exit_code == 0, knn.output
    other = json.loads((root / "run" / "abtest-knn" / "report.json").read_text())
    assert other["settings"]["world"].startswith("itemknn")
    assert other["trajectories"]["itemknn"]["round_ctr"]["ctr"] != ctr  # another world, other clicks


def test_a_simulator_of_another_catalog_and_resume_are_refused(workspace):
    root, folder, model = workspace
    make_interactions(num_users=50, num_items=20, events_per_user=14, seed=6)[0].to_frame().to_csv(
        root / "small.csv", index=False
    )
    small = distil(root, "small.csv", root / "small-distilled", model)  # 20 items: the run has 30
    arms = ["-a", "pop", "-a", "itemknn", "--rounds", "2", "--in-process", "--no-track", "--salt", "x"]
    refused = invoke("simulate", "abtest", "--run", str(root / "run"), *arms, "--user-simulator", str(small))
    assert refused.exit_code != 0 and "catalog lacks 10 of the run's 30 items" in str(refused.exception)
    resumed = invoke("simulate", "abtest", "--run", str(root / "run"), *arms, "--user-simulator", str(folder),
                     "--resume")  # fmt: skip
    assert resumed.exit_code != 0 and "no simulated user's memory" in str(resumed.exception)
