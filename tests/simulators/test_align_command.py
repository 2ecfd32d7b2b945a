"""``alignrec align build / train`` end to end with a tiny llama saved to a folder."""

from __future__ import annotations

import json
import math

import pytest
from tiny_models import char_tokenizer, tiny_llama
from typer.testing import CliRunner

from alignrec.commands.align import app
from recsys.synthetic import make_interactions

runner = CliRunner()
FAST = [
    "--max-steps",
    "2",
    "--batch-size",
    "2",
    "--threads",
    "1",
    "--set",
    "max_length=160",
    "--set",
    "disable_tqdm=true",
    "--set",
    "save_steps=1",
]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("align")
    tokenizer = char_tokenizer()
    tiny_llama(tokenizer).save_pretrained(root / "model")
    tokenizer.save_pretrained(root / "model")
    log = make_interactions(num_users=12, num_items=25, events_per_user=6, seed=4)[0]
    log.to_frame().to_csv(root / "log.csv", index=False)
    with open(root / "reviews.jsonl", "w") as handle:
        for row in log.to_frame().itertuples():
            record = {
                "reviewerID": row.user_id,
                "asin": row.item_id,
                "overall": float(row.rating),
                "unixReviewTime": int(row.timestamp),
                "reviewText": f"it was a {int(row.rating)}",
            }
            handle.write(json.dumps(record) + "\n")
    for kind in ("pairwise", "binary", "listwise"):
        result = runner.invoke(
            app,
            [
                "build",
                "--data",
                str(root / "log.csv"),
                "--out",
                str(root / kind),
                "--kind",
                kind,
                "--history",
                "2",
                "--max-per-user",
                "2",
                "--eval-fraction",
                "0.25",
            ],
        )
        assert result.exit_code == 0, result.output
    result = runner.invoke(
        app,
        [
            "build",
            "--data",
            str(root / "reviews.jsonl"),
            "--format",
            "amazon",
            "--out",
            str(root / "judgments"),
            "--kind",
            "judgments",
            "--history",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "judgments:" in result.output
    return root


@pytest.mark.parametrize(
    ("objective", "kind"),
    [
        ("sft", "pairwise"),
        ("dpo", "pairwise"),
        ("kto", "binary"),
        ("bco", "binary"),
        ("lipo", "listwise"),
        ("cut", "judgments"),
    ],
)
def test_train_each_objective(workspace, tmp_path, objective, kind):
    out = tmp_path / objective
    result = runner.invoke(
        app,
        [
            "train",
            "--objective",
            objective,
            "--data",
            str(workspace / kind),
            "--base-model",
            str(workspace / "model"),
            "--out",
            str(out),
            "--no-track",
            *FAST,
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 2 and "eval_loss" in metrics
    assert (out / "final" / "adapter_config.json").exists()  # LoRA by default
    assert (out / "checkpoint-2").is_dir()


def test_keep_uncertain_filters_the_training_pairs(workspace, tmp_path):
    out = tmp_path / "run"
    args = [
        "train",
        "--objective",
        "dpo",
        "--data",
        str(workspace / "pairwise"),
        "--base-model",
        str(workspace / "model"),
        "--out",
        str(out),
        "--no-track",
        "--keep-uncertain",
        "0.5",
        *FAST,
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    total = json.loads((workspace / "pairwise" / "report.json").read_text())["report"]["train_examples"]
    assert f"kept {round(total / 2)} of {total} training pairs" in result.output
    assert json.loads((out / "metrics.json").read_text())["train_examples"] == round(total / 2)


@pytest.mark.parametrize(
    ("option", "first_loss"),
    [
        (["--loss-type", "sigmoid"], math.log(2)),
        (["--loss-type", "hinge"], 1.0),
        (["--set", "loss_type=[ipo]"], (1 / (2 * 0.1)) ** 2),
    ],
)
def test_dpo_loss_type_reaches_trl(workspace, tmp_path, option, first_loss):
    out = tmp_path / "run"
    args = ["--data", str(workspace / "pairwise"), "--base-model", str(workspace / "model")]
    result = runner.invoke(
        app,
        ["train", "--objective", "dpo", *args, "--out", str(out), "--no-track", *option, *FAST]
        + ["--set", "logging_steps=1"],
    )
    assert result.exit_code == 0, result.output
    state = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())
    first = next(entry for entry in state["log_history"] if "loss" in entry)
    # At step 1 the LoRA update is still zero, so Δ = 0 and each loss is its constant at zero margin:
    # sigmoid ln 2, hinge relu(1 − 0) = 1, IPO (0 − 1/(2β))² with β = 0.1.
    assert first["rewards/margins"] == pytest.approx(0.0, abs=1e-6)
    assert first["loss"] == pytest.approx(first_loss)


def test_resume_tracks_to_mlflow_and_reads_yaml(workspace, tmp_path):
    out = tmp_path / "run"
    config = tmp_path / "bco.yaml"
    config.write_text("beta: 0.3\nlearning_rate: 0.001\nlora:\n  r: 2\n  target_modules: [q_proj]\n")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    base = [
        "train",
        "--objective",
        "bco",
        "--data",
        str(workspace / "binary"),
        "--base-model",
        str(workspace / "model"),
        "--out",
        str(out),
        "--config",
        str(config),
        "--tracking-uri",
        uri,
        *FAST,
        "--set",
        "logging_steps=1",
    ]
    assert runner.invoke(app, base).exit_code == 0
    result = runner.invoke(app, [*base, "--max-steps", "3", "--resume"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "metrics.json").read_text())["steps"] == 3
    assert json.loads((out / "final" / "adapter_config.json").read_text())["r"] == 2

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("alignrec-align").experiment_id])
    assert len(runs) == 2 and all(run.info.status == "FINISHED" for run in runs)
    resumed, first = sorted(runs, key=lambda run: -run.info.start_time)
    assert [m.step for m in client.get_metric_history(first.info.run_id, "loss")] == [1, 2]
    assert [m.step for m in client.get_metric_history(resumed.info.run_id, "loss")] == [
        3
    ]  # only the new step
    assert resumed.data.params["beta"] == "0.3" and "eval_loss" in resumed.data.metrics
    assert "rewards/desirable" in resumed.data.metrics and "delta" in resumed.data.metrics


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--objective", "dpo", "--data", "binary"], "dpo trains on pairwise data"),
        (["--objective", "sft", "--data", "pairwise", "--beta", "0.1"], "has no field"),
        (["--objective", "kto", "--data", "binary", "--set", "nonsense"], "expected KEY=VALUE"),
        (["--objective", "dpo", "--data", "pairwise", "--loss-type", "nonsense"], "is not a DPO loss"),
        (["--objective", "dpo", "--data", "pairwise", "--set", "loss_type=[ipo, x]"], "is not a DPO loss"),
        (["--objective", "kto", "--data", "binary", "--loss-type", "ipo"], "is an option of dpo"),
        (["--objective", "kto", "--data", "binary", "--keep-uncertain", "0.5"], "filters pairwise data"),
    ],
)
def test_bad_runs_fail_with_a_message(workspace, tmp_path, args, message):
    args = [a if a not in ("binary", "pairwise") else str(workspace / a) for a in args]
    result = runner.invoke(
        app, ["train", *args, "--base-model", str(workspace / "model"), "--out", str(tmp_path)]
    )
    assert result.exit_code != 0 and message in str(result.exception)


def test_eval_examples_caps_or_skips_the_evaluation_after_training(workspace, tmp_path):
    def train(out, count):
        args = ["train", "--objective", "kto", "--data", str(workspace / "binary"), "--out", str(out)]
        args += ["--base-model", str(workspace / "model"), "--no-track", "--eval-examples", str(count)]
        result = runner.invoke(app, [*args, *FAST])
        assert result.exit_code == 0, result.output
        return json.loads((out / "metrics.json").read_text())

    assert "eval_loss" not in train(tmp_path / "none", 0)
    assert "eval_loss" in train(tmp_path / "one", 1)
