import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from alignrec.cli import app
from product.sizefit.synthetic import generate_fit_data

CUPS = {0: "aa", 1: "a", 2: "b", 3: "c", 4: "d", 5: "dd/e", 6: "ddd/f", 7: "dddd/g", 8: "h"}


def as_renttherunway(frame: pd.DataFrame) -> list[dict]:
    """Canonical records written back in RentTheRunway's raw JSON Lines format."""
    rows = []
    for r in frame.itertuples(index=False):
        row = {
            "fit": r.fit, "user_id": r.customer_id, "item_id": r.product_id, "size": int(r.size),
            "category": r.category, "review_text": r.review_text, "review_summary": r.review_summary,
            "review_date": r.review_date.strftime("%B %d, %Y"), "rating": "10",
            "body type": r.body_type or None,
        }  # fmt: skip
        if pd.notna(r.height_cm):
            inches = round(r.height_cm / 2.54)
            row["height"] = f"{inches // 12}' {inches % 12}\""
        if pd.notna(r.weight_kg):
            row["weight"] = f"{round(r.weight_kg / 0.45359237)}lbs"
        if pd.notna(r.band_in) and pd.notna(r.cup):
            row["bust size"] = f"{int(r.band_in)}{CUPS[int(r.cup)]}"
        if pd.notna(r.age):
            row["age"] = str(int(r.age))
        rows.append(row)
    return rows


@pytest.fixture(scope="module")
def rtr_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "renttherunway_sample.json"
    frame = generate_fit_data(num_customers=600, num_products=60, seed=1).frame
    path.write_text("".join(json.dumps(row) + "\n" for row in as_renttherunway(frame)))
    return path


def test_train_evaluate_recommend(rtr_file, tmp_path, fake_encoder):
    runner = CliRunner(env={"COLUMNS": "250"})
    model = tmp_path / "sizefit.pt"
    result = runner.invoke(app, ["sizefit", "train", str(rtr_file), "--out", str(model), "--epochs", "5"])
    assert result.exit_code == 0, result.output
    assert model.exists() and "wrote" in result.output

    result = runner.invoke(app, ["sizefit", "evaluate", str(rtr_file), "--epochs", "5"])
    assert result.exit_code == 0, result.output
    for row in ("no reviews", "with reviews", "customer's most common size", "product fit rates"):
        assert row in result.output

    args = ["sizefit", "recommend", "--model", str(model), "--product", "p00001", "--sizes", "4,8,12"]
    result = runner.invoke(app, [*args, "--customer", "c000003"])
    assert result.exit_code == 0, result.output
    assert "recommended size" in result.output and "history" in result.output
    result = runner.invoke(app, [*args, "--height", "5' 6\"", "--weight", "140lbs", "--bust-size", "34c"])
    assert result.exit_code == 0 and "measurements" in result.output


def test_bad_record_stops_training_unless_skipped(rtr_file, tmp_path):
    bad = tmp_path / "renttherunway_bad.json"
    lines = rtr_file.read_text().splitlines()
    lines[4] = json.dumps({**json.loads(lines[4]), "fit": "meh"})
    bad.write_text("\n".join(lines) + "\n")
    runner = CliRunner(env={"COLUMNS": "250"})
    train = ["sizefit", "train", str(bad), "--out", str(tmp_path / "m.pt"), "--no-reviews", "--epochs", "2"]
    result = runner.invoke(app, train)
    assert result.exit_code != 0 and ":5: field 'fit'" in str(result.exception)
    result = runner.invoke(app, [*train, "--skip-bad-records"])
    assert result.exit_code == 0, result.output
    assert ":5: fit" in result.output and "1 dropped" in result.output
