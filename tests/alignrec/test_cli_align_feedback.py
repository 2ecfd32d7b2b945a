"""``alignrec align build --feedback-db / --feedback-csv``: preference data from the slates a feedback
store holds, then one DPO step of a tiny llama on it (``alignrec align train``)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from alignrec.commands.align import app
from serving.feedback import FeedbackStore, export_log
from simulators.preference_data import load_preferences

runner = CliRunner()
USERS = [f"u{k}" for k in range(6)]
ITEMS = [f"i{k}" for k in range(10)]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A base log (each user rated 3 items; all 10 items rated) and a store of 2 slates of 4 items per
    user: the first with a click on its third item, the second with none; and the store's export."""
    root = tmp_path_factory.mktemp("align-feedback")
    base = [(u, ITEMS[(2 * k + j) % 10], 4.0, j) for k, u in enumerate(USERS) for j in range(3)]
    frame = pd.DataFrame(base, columns=["user_id", "item_id", "rating", "timestamp"])
    frame.to_csv(root / "base.csv", index=False)
    url = f"sqlite:///{root / 'feedback.db'}"
    store = FeedbackStore(url)
    rows = []
    for k, user in enumerate(USERS):
        for s in range(2):
            slate, time = f"exp:{s}:{user}", 100.0 + 10 * s
            shown = [ITEMS[(k + 3 + s + p) % 10] for p in range(4)]
            event = {"user_id": user, "slate_id": slate}
            for p, item in enumerate(shown):
                rows.append(
                    {**event, "client_event_id": f"{slate}:{p}", "type": "impression", "item_id": item}
                    | {"position": p, "event_time": time}
                )
            if s == 0:
                rows.append(
                    {**event, "client_event_id": f"{slate}:c", "type": "click", "item_id": shown[2]}
                    | {"event_time": time + 1}
                )
    store.add(rows)
    export_log(store, root / "slates.csv", types=("impression", "click"), slates=True)
    store.close()
    return root, url


def build(root, *args):
    return runner.invoke(app, ["build", "--data", str(root / "base.csv"), *args], catch_exceptions=True)


def test_the_store_builds_pairs_that_one_dpo_step_trains_on(served, tmp_path, tiny_llama_dir):
    root, url = served
    result = build(root, "--feedback-db", url, "--out", str(tmp_path / "pairs"), "--eval-fraction", "0.34")
    assert result.exit_code == 0, result.output
    prefs = load_preferences(tmp_path / "pairs")
    report = json.loads((tmp_path / "pairs" / "report.json").read_text())["report"]
    assert prefs.kind == "pairwise" and report["slates_read"] == 12 and report["dropped_no_click"] == 6
    assert report["slates_used"] == 6 and report["examples"] == 18  # 3 passed over per slate
    assert len(prefs.train) + len(prefs.eval) == 18 and report["eval_users"] == 2
    first = next(row for row in [*prefs.train, *prefs.eval] if row["user"] == "u0")
    assert (first["chosen"], first["rejected"]) == (" item i5", " item i3")
    assert (
        "Recently you chose: item i0 (rated 4/5); item i1 (rated 4/5); item i2 (rated 4/5).\n"
        in first["prompt"]
    )
    assert "You are shown: item i3; item i4; item i5; item i6.\n" in first["prompt"]

    shutil.copytree(tiny_llama_dir, tmp_path / "model")
    trained = runner.invoke(
        app,
        [
            "train",
            "--objective",
            "dpo",
            "--data",
            str(tmp_path / "pairs"),
            "--base-model",
            str(tmp_path / "model"),
        ]
        + [
            "--out",
            str(tmp_path / "dpo"),
            "--no-track",
            "--max-steps",
            "1",
            "--batch-size",
            "2",
            "--threads",
            "1",
        ]
        + ["--set", "max_length=200", "--set", "disable_tqdm=true", "--eval-examples", "0"],
    )
    assert trained.exit_code == 0, trained.output
    assert json.loads((tmp_path / "dpo" / "metrics.json").read_text())["steps"] == 1


def test_the_export_gives_the_store_s_data(served, tmp_path):
    root, url = served
    for name, source in (
        ("db", ["--feedback-db", url]),
        ("csv", ["--feedback-csv", str(root / "slates.csv")]),
    ):
        result = build(
            root, *source, "--kind", "listwise", "--passed-over", "above", "--out", str(tmp_path / name)
        )
        assert result.exit_code == 0, result.output
    from_db, from_csv = load_preferences(tmp_path / "db"), load_preferences(tmp_path / "csv")
    assert from_db.train.to_list() == from_csv.train.to_list() and from_db.report == from_csv.report
    assert {tuple(r) for r in from_db.train["relevance"]} == {(0.0, 0.0, 1.0)}  # the last item is left out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "judgments"], "served slates hold clicks only"),
        (["--rejected-from", "disliked"], "use --passed-over"),
        (["--feedback-since", "2030-01-01"], "no served slate can be evaluated"),
        (["--list-size", "3"], "no served slate can be evaluated"),
    ],
)
def test_refusals_say_why(served, tmp_path, args, message):
    root, url = served
    result = build(root, "--feedback-db", url, "--out", str(tmp_path / "x"), *args)
    assert result.exit_code != 0 and message in str(result.exception)
    assert not (tmp_path / "x").exists()


def test_feedback_options_need_a_feedback_source(served, tmp_path):
    root, _ = served
    result = build(root, "--passed-over", "above", "--out", str(tmp_path / "x"))
    assert result.exit_code != 0 and "give --feedback-db or --feedback-csv" in str(result.exception)
