"""`alignrec match train | run | evaluate` end to end on tiny generated shops (real MiniLM)."""

import pandas as pd
from typer.testing import CliRunner

from alignrec.cli import app
from product.matching.synthetic import label_pairs, make_catalogs


def test_train_run_evaluate(tmp_path, monkeypatch):
    monkeypatch.setenv("ALIGNREC_HOME", str(tmp_path / "home"))
    shops = make_catalogs(25, seed=5)
    left, right = tmp_path / "left.jsonl", tmp_path / "right.csv"
    shops.left.to_json(left, orient="records", lines=True)
    right_csv = shops.right.assign(specifications="{}")
    right_csv.to_csv(right, index=False)
    # labelled pairs: every left listing against every variant of its family (its match and its
    # close non-matches, ids "L-f3v0" / "R-f3v1") and against one random right listing
    family = {
        listing_id: listing_id[2:].split("v")[0] for listing_id in [*shops.left["id"], *shops.right["id"]]
    }
    siblings = [(a, b) for a in shops.left["id"] for b in shops.right["id"] if family[a] == family[b]]
    random_right = shops.right["id"].sample(len(shops.left), replace=True, random_state=0)
    pairs = pd.DataFrame(
        siblings + list(zip(shops.left["id"], random_right, strict=True)), columns=["left_id", "right_id"]
    ).drop_duplicates()
    labelled = label_pairs(pairs, shops.matches).rename(
        columns={"left_id": "ltable_id", "right_id": "rtable_id"}
    )
    labelled.to_csv(tmp_path / "pairs.csv", index=False)
    model = tmp_path / "matcher.json"
    runner = CliRunner()

    result = runner.invoke(
        app,
        [
            "match",
            "train",
            "--pairs",
            str(tmp_path / "pairs.csv"),
            "--left",
            str(left),
            "--right",
            str(right),
            "--out",
            str(model),
            "--rounds",
            "30",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "threshold" in result.output and model.exists()

    out = tmp_path / "matches.csv"
    result = runner.invoke(
        app, ["match", "run", str(left), str(right), "--model", str(model), "--out", str(out), "--one-to-one"]
    )
    assert result.exit_code == 0, result.output
    matches = pd.read_csv(out)
    assert list(matches.columns) == ["left_id", "right_id", "score", "match", "why"]
    assert matches["match"].all() and not matches["left_id"].duplicated().any()
    found = set(zip(matches["left_id"], matches["right_id"], strict=True))
    truth = set(zip(shops.matches["left_id"], shops.matches["right_id"], strict=True))
    assert len(found & truth) / len(truth) > 0.7

    result = runner.invoke(
        app,
        [
            "match",
            "evaluate",
            "--pairs",
            str(tmp_path / "pairs.csv"),
            "--left",
            str(left),
            "--right",
            str(right),
            "--model",
            str(model),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "blocking_recall" in result.output and "f1" in result.output
    assert any((tmp_path / "home" / "cache" / "vectors").rglob("chunk-*.npz"))  # vectors were cached
