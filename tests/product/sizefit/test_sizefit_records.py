import gzip
import json

import numpy as np
import pandas as pd
import pytest

from product.sizefit.records import (
    COLUMNS,
    RecordError,
    parse_bust_size,
    parse_height_cm,
    parse_number,
    parse_weight_kg,
    read_fit_file,
    read_modcloth,
    read_renttherunway,
)

RTR = {
    "fit": "fit", "user_id": "420272", "bust size": "34d", "item_id": "2260466", "weight": "137lbs",
    "rating": "10", "rented for": "vacation", "review_text": "Runs small. Love it!", "body type": "hourglass",
    "review_summary": "So cute", "category": "romper", "height": "5' 8\"", "size": 14, "age": "28",
    "review_date": "April 20, 2016",
}  # fmt: skip
MODCLOTH = {
    "item_id": "123373", "waist": "29", "size": 7, "quality": 5, "cup size": "dd/e", "hips": "38.0",
    "bra size": "34", "category": "new", "bust": "37-39", "height": "5ft 6in", "user_name": "Emily",
    "length": "just right", "fit": "small", "user_id": "991571",
}  # fmt: skip


def write_lines(path, rows):
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


@pytest.mark.parametrize(
    "text, cm",
    [
        ("5' 8\"", 172.72),
        ("5ft 6in", 167.64),
        ("5ft", 152.4),
        ("168cm", 168.0),
        ("5’ 2”", 157.48),
        (66, 167.64),
    ],
)
def test_heights(text, cm):
    assert parse_height_cm(text) == pytest.approx(cm)


@pytest.mark.parametrize("text, kg", [("137lbs", 62.14), ("120 lb", 54.43), ("62kg", 62.0), ("150", 68.04)])
def test_weights(text, kg):
    assert parse_weight_kg(text) == pytest.approx(kg, abs=0.01)


@pytest.mark.parametrize(
    "text, band, cup", [("34d", 34, 4), ("36dd/e", 36, 5), ("34d+", 34, 4.5), ("32aa", 32, 0)]
)
def test_bust_sizes(text, band, cup):
    assert parse_bust_size(text) == (band, cup)


@pytest.mark.parametrize("value, number", [("29", 29.0), (7, 7.0), ("38.0", 38.0), ("37-39", 38.0)])
def test_numbers(value, number):
    assert parse_number(value) == number


@pytest.mark.parametrize("bad", ["tall", "5 feet-ish", ""])
def test_bad_heights_raise(bad):
    with pytest.raises(ValueError):
        parse_height_cm(bad)


def test_reads_both_formats(tmp_path):
    rtr = read_renttherunway(write_lines(tmp_path / "rtr.json", [RTR]))
    row = rtr.frame.iloc[0]
    assert list(rtr.frame.columns) == list(COLUMNS)
    assert (row.customer_id, row.product_id, row["size"], row.fit) == ("420272", "2260466", 14.0, "fit")
    assert row.height_cm == pytest.approx(172.72) and row.weight_kg == pytest.approx(62.14, abs=0.01)
    assert (row.band_in, row.cup, row.age, row.rating) == (34.0, 4.0, 28.0, 1.0)
    assert row.review_date.year == 2016 and row.body_type == "hourglass"

    mod = read_modcloth(write_lines(tmp_path / "modcloth.json", [MODCLOTH])).frame.iloc[0]
    assert (mod.bust_in, mod.hips_in, mod.cup, mod.rating) == (38.0, 38.0, 5.0, 1.0)
    assert np.isnan(mod.weight_kg) and mod.review_text == "" and pd.isna(mod.review_date)


def test_unparseable_field_names_line_and_field(tmp_path):
    path = write_lines(tmp_path / "rtr.json", [RTR, {**RTR, "height": "very tall"}])
    with pytest.raises(RecordError, match=r"rtr\.json:2: field 'height'") as caught:
        read_renttherunway(path)
    assert caught.value.line == 2 and caught.value.field == "height"


@pytest.mark.parametrize(
    "broken, field",
    [
        ({**RTR, "fit": "meh"}, "fit"),
        ({k: v for k, v in RTR.items() if k != "size"}, "size"),
        ("{not json", "<json>"),
    ],
)
def test_skip_mode_drops_and_reports(tmp_path, broken, field):
    result = read_renttherunway(write_lines(tmp_path / "rtr.json", [RTR, broken, RTR]), on_error="skip")
    assert len(result.frame) == 2 and result.dropped == 1
    assert (result.issues[0].line, result.issues[0].field) == (2, field)
    assert list(result.frame["line"]) == [1, 3]


def test_implausible_value_is_set_missing_and_reported(tmp_path):
    result = read_renttherunway(write_lines(tmp_path / "rtr.json", [{**RTR, "age": "116"}]))
    assert np.isnan(result.frame["age"].iloc[0]) and result.frame["height_cm"].notna().all()
    assert result.issues[0].action == "set missing" and result.issues[0].field == "age"


def test_gzip_and_format_from_name(tmp_path):
    path = tmp_path / "renttherunway_final_data.json.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(json.dumps(RTR) + "\n\n")
    assert len(read_fit_file(path).frame) == 1
    with pytest.raises(ValueError, match="cannot tell the format"):
        read_fit_file(tmp_path / "clothes.json")


@pytest.mark.data
@pytest.mark.parametrize("name", ["modcloth", "renttherunway"])
def test_real_samples_parse(shared_data, name):
    result = read_fit_file(shared_data / "clothing-fit" / f"{name}_final_data_mini.json")
    assert len(result.frame) == 100 and result.dropped == 0
    assert set(result.frame["fit"]) == {"small", "fit", "large"}
    assert result.frame["height_cm"].between(120, 215).mean() > 0.9
