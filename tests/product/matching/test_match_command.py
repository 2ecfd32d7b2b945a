"""`alignrec match train | run | evaluate` end to end on tiny generated shops: once with the real
MiniLM, then with stand-in embeddings for the checks of repeats, errors and file shapes."""

import json

import numpy as np
import pandas as pd
import pytest
from matching_stubs import fake_embed_fields
from typer.testing import CliRunner

import product.matching.matcher as matcher_module
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


# --- the same commands on hashed stand-in embeddings (no MiniLM): quick checks of the CLI's contract


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """Catalog files, a labelled pairs file and a trained matcher on 12 generated families."""
    monkeypatch.setattr(matcher_module, "embed_fields", fake_embed_fields)
    shops = make_catalogs(12, seed=7)
    left, right = tmp_path / "left.csv", tmp_path / "right.csv"
    for frame, path in ((shops.left, left), (shops.right, right)):
        frame.drop(columns="specifications").to_csv(path, index=False)
    pairs = _labelled_pairs(shops)
    pairs.to_csv(tmp_path / "pairs.csv", index=False)
    model = tmp_path / "matcher.json"
    _invoke(
        "train",
        "--pairs",
        tmp_path / "pairs.csv",
        "--left",
        left,
        "--right",
        right,
        "--out",
        model,
        "--rounds",
        "20",
        "--no-cache",
    )
    return shops, left, right, pairs, model


def _labelled_pairs(shops) -> pd.DataFrame:
    """Every match plus three random non-matches per left listing."""
    rng = np.random.default_rng(0)
    others = [(a, b) for a in shops.left["id"] for b in rng.choice(shops.right["id"], 3)]
    pairs = pd.DataFrame(others, columns=["left_id", "right_id"])
    pairs = pd.concat([shops.matches[["left_id", "right_id"]], pairs]).drop_duplicates()
    return label_pairs(pairs, shops.matches).reset_index(drop=True)


def _invoke(*args, ok: bool = True):
    result = CliRunner().invoke(app, ["match", *map(str, args)])
    if ok:
        assert result.exit_code == 0, result.output
    return result


def _metrics(output: str) -> list[str]:
    return [line for line in output.splitlines() if any(m in line for m in ("precision", "recall", "f1"))]


def test_evaluate_counts_a_repeated_pair_once(tiny, tmp_path):
    _, left, right, pairs, model = tiny
    common = ("--left", left, "--right", right, "--model", model, "--no-cache")
    once = _invoke("evaluate", "--pairs", tmp_path / "pairs.csv", *common)
    repeated = tmp_path / "repeated.csv"
    pd.concat([pairs, pairs[pairs["label"] == 0], pairs.head(3)]).to_csv(repeated, index=False)
    twice = _invoke("evaluate", "--pairs", repeated, *common)
    assert _metrics(twice.output) == _metrics(once.output) and len(_metrics(once.output)) == 4
    assert f"({len(pairs)} distinct pairs" in " ".join(twice.output.split())


def test_bad_input_is_reported_before_encoding(tiny, tmp_path, monkeypatch):
    _, left, right, pairs, model = tiny

    def no_encoding(*args, **kwargs):
        raise AssertionError("encoding started before the input was checked")

    monkeypatch.setattr(matcher_module.Matcher, "encode", no_encoding)
    bad = tmp_path / "bad.csv"
    pairs.assign(right_id=pairs["right_id"].where(pairs.index != 5, "nope")).to_csv(bad, index=False)
    line = 5 + 2  # the header is line 1
    for command in (("train", "--out", tmp_path / "m.json"), ("evaluate", "--model", model)):
        result = _invoke(*command, "--pairs", bad, "--left", left, "--right", right, ok=False)
        assert isinstance(result.exception, ValueError)
        assert f"bad.csv:{line}: field 'right_id': 'nope' is not in the right catalog" in str(
            result.exception
        )
    result = _invoke("evaluate", "--pairs", bad, "--left", left, "--model", model, ok=False)
    assert "give both --left and --right" in result.output
    result = _invoke(
        "evaluate",
        "--pairs",
        tmp_path / "pairs.csv",
        "--left",
        left,
        "--right",
        right,
        "--model",
        tmp_path / "none.json",
        ok=False,
    )
    assert isinstance(result.exception, FileNotFoundError) and "none.json: no such file" in str(
        result.exception
    )
    pairs.assign(label=0).to_csv(bad, index=False)
    result = _invoke("train", "--pairs", bad, "--left", left, "--right", right, ok=False)
    assert "bad.csv: needs both matches (label 1) and non-matches" in str(result.exception)


def _pair_rows(shops, pairs: pd.DataFrame) -> pd.DataFrame:
    """ProMap's layout: one row per pair, <field>1 and <field>2 columns, then match."""
    sides = []
    for catalog, column, suffix in ((shops.left, "left_id", "1"), (shops.right, "right_id", "2")):
        fields = catalog.set_index("id")[["title", "description", "price"]].rename(columns={"title": "name"})
        side = fields.loc[pairs[column]].reset_index().rename(columns={"index": "id"})
        sides.append(side.add_suffix(suffix))
    return pd.concat([*sides, pairs["label"].rename("match").reset_index(drop=True)], axis=1)


def test_promap_style_files_with_the_strong_config(tiny, tmp_path):
    shops, _, _, pairs, _ = tiny
    pairs = pairs.sample(frac=1.0, random_state=0)  # matches in both halves
    half = len(pairs) // 2
    train, valid = tmp_path / "train.csv", tmp_path / "valid.csv"
    _pair_rows(shops, pairs.iloc[:half].reset_index(drop=True)).to_csv(train, index=False)
    _pair_rows(shops, pairs.iloc[half:].reset_index(drop=True)).to_csv(valid, index=False)
    model = tmp_path / "strong.json"
    result = _invoke(
        "train",
        "--pairs",
        train,
        "--valid",
        valid,
        "--config",
        "strong",
        "--rounds",
        "20",
        "--out",
        model,
        "--no-cache",
    )
    output = " ".join(result.output.split())  # rich wraps long lines
    listings = f"between {pairs['left_id'].nunique()} and {pairs['right_id'].nunique()} listings"
    assert listings in output and "from validation pairs" in output  # both files' products
    config = json.loads(model.read_text())["config"]
    assert config["text_precision"] == "auto"
    assert config["fields"] == ["title", "description", "text"]
    assert (config["learning_rate"], config["num_boost_round"]) == (0.03, 20)  # strong, --rounds wins
    result = _invoke("evaluate", "--pairs", valid, "--model", model, "--no-cache")
    assert "f1" in result.output and "blocking_recall" in result.output


def test_text_precision_is_kept_in_the_matcher_and_used_again(tiny, tmp_path):
    from matching_stubs import PRECISIONS_ASKED

    from alignrec.commands.match import TextPrecision
    from product.text_encoder import PRECISIONS

    assert tuple(p.value for p in TextPrecision) == PRECISIONS  # the CLI's copy of the encoder's list
    _, left, right, _, _ = tiny
    model = tmp_path / "fp32.json"
    common = ("--left", left, "--right", right, "--no-cache")
    PRECISIONS_ASKED.clear()
    _invoke(
        "train",
        "--pairs",
        tmp_path / "pairs.csv",
        *common,
        "--out",
        model,
        "--rounds",
        "5",
        "--text-precision",
        "fp32",
    )
    assert json.loads(model.read_text())["config"]["text_precision"] == "fp32"
    assert PRECISIONS_ASKED and set(PRECISIONS_ASKED) == {"fp32"}
    PRECISIONS_ASKED.clear()
    _invoke("evaluate", "--pairs", tmp_path / "pairs.csv", *common, "--model", model)
    assert PRECISIONS_ASKED and set(PRECISIONS_ASKED) == {"fp32"}  # the saved matcher's precision
    refused = _invoke(
        "train", "--pairs", tmp_path / "pairs.csv", *common, "--text-precision", "fp16", ok=False
    )
    assert refused.exit_code != 0 and "fp16" in refused.output
