import json

import numpy as np
from typer.testing import CliRunner

from alignrec.cli import app


def test_encode_writes_features_and_report(tmp_path):
    catalog = tmp_path / "catalog.csv"
    catalog.write_text(
        "item_id,title,description,categories,brand,price\n"
        "a,Gorilla glue,Waterproof,Adhesives,Gorilla,7.5\n"
        "b,,,,,\n"
        "c,Glass beaker 250 ml,,Lab|Glassware,Pyrex,12\n"
    )
    out = tmp_path / "features"
    args = ["encode", str(catalog), "--out", str(out), "--modality", "text", "--modality", "attributes"]
    result = CliRunner().invoke(app, [*args, "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    assert (out / "item_ids.txt").read_text().split() == ["a", "b", "c"]
    assert np.load(out / "text_feat.npy").shape == (3, 384)
    assert np.load(out / "text_mask.npy").tolist() == [True, False, True]
    report = json.loads((out / "report.json").read_text())
    assert report["attributes"]["missing"] == 1 and report["text"]["missing_rate"] == 1 / 3


def test_encode_bad_catalog_names_line(tmp_path):
    catalog = tmp_path / "bad.csv"
    catalog.write_text("item_id,price\na,abc\n")
    result = CliRunner().invoke(app, ["encode", str(catalog), "--out", str(tmp_path / "f"), "--no-cache"])
    assert result.exit_code != 0
    assert "line 2" in str(result.exception)
