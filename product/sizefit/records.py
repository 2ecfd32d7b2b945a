"""Readers for the ModCloth and RentTheRunway clothing-fit JSON Lines files (Misra et al., RecSys 2018).

Both files hold one purchase (or rental) per line with a fit verdict ``small`` / ``fit`` / ``large``
and messy, mostly optional fields: heights as ``5ft 6in`` or ``5' 8"``, weights as ``137lbs``, bust
sizes as ``34d``, numbers written as strings, ranges such as ``37-39``. Each reader returns one
canonical frame (columns in ``COLUMNS``) in which every value is either parsed or missing.

Nothing unparseable is kept: a present field that cannot be parsed is a ``RecordError`` naming the
file, line and field (``on_error="raise"``), or the whole record is dropped and listed in
``ReadResult.issues`` (``on_error="skip"``). A value that parses but is physically implausible (an
age of 116, a height of 1 ft) is set missing and listed as an issue with ``action="set missing"``.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

FIT_LABELS = ("small", "fit", "large")  # ordinal: the product was too small < fitted < too large

# Canonical columns shared by every source (and by the synthetic generator).
COLUMNS = (
    "line",  # 1-based line in the source file (or row number for generated data)
    "customer_id",
    "product_id",
    "size",  # the size bought, on the product's own numeric scale
    "fit",  # one of FIT_LABELS
    "category",
    "height_cm",
    "weight_kg",
    "band_in",  # bra band, inches
    "cup",  # cup as an ordinal number: aa=0, a=1, b=2, c=3, d=4, dd=5, ...
    "bust_in",
    "waist_in",
    "hips_in",
    "age",
    "body_type",
    "rating",  # scaled to [0, 1]: RentTheRunway rating / 10, ModCloth quality / 5
    "review_text",
    "review_summary",
    "review_date",
)
MEASUREMENTS = ("height_cm", "weight_kg", "band_in", "cup", "bust_in", "waist_in", "hips_in", "age")

# Plausible ranges; values outside are set missing (and reported), not kept.
PLAUSIBLE = {
    "height_cm": (120.0, 215.0),
    "weight_kg": (30.0, 250.0),
    "band_in": (26.0, 56.0),
    "bust_in": (24.0, 70.0),
    "waist_in": (18.0, 70.0),
    "hips_in": (24.0, 75.0),
    "age": (13.0, 100.0),
}

CUPS = {
    "aa": 0.0, "a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0, "d+": 4.5, "dd": 5.0, "e": 5.0, "dd/e": 5.0,
    "ddd": 6.0, "f": 6.0, "ddd/e": 6.0, "ddd/f": 6.0, "dddd": 7.0, "g": 7.0, "dddd/g": 7.0,
    "h": 8.0, "i": 9.0, "j": 10.0, "k": 11.0,
}  # fmt: skip


class RecordError(ValueError):
    """A field that cannot be parsed, located by file, line and field."""

    def __init__(self, path: str, line: int, field: str, value: object, reason: str):
        super().__init__(f"{path}:{line}: field {field!r}: {reason} (value {value!r})")
        self.path, self.line, self.field, self.value, self.reason = path, line, field, value, reason


@dataclass(frozen=True)
class RecordIssue:
    """A problem met while reading: the record was dropped, or one value was set missing."""

    line: int
    field: str
    value: object
    reason: str
    action: Literal["dropped record", "set missing"]


@dataclass
class ReadResult:
    frame: pd.DataFrame  # columns COLUMNS, one row per kept record
    issues: list[RecordIssue] = field(default_factory=list)

    @property
    def dropped(self) -> int:
        return sum(issue.action == "dropped record" for issue in self.issues)


# --- field parsers: each takes the raw JSON value and returns a float/str or raises ValueError ---

_NUMBER = r"\d+(?:\.\d+)?"
_FEET_INCHES = re.compile(rf"^({_NUMBER})\s*(?:ft|feet|'|’)\s*(?:({_NUMBER})\s*(?:in|inches|\"|”|'')?)?$")
_CM = re.compile(rf"^({_NUMBER})\s*cm$")
_WEIGHT = re.compile(rf"^({_NUMBER})\s*(lbs?|pounds|kg)?$")
_BUST_SIZE = re.compile(r"^(\d{2})\s*([a-k][a-k/+]*)$")
_RANGE = re.compile(rf"^({_NUMBER})\s*-\s*({_NUMBER})$")


def parse_number(value: object) -> float:
    """A number given as a JSON number, a numeric string, or a range ``37-39`` (its midpoint)."""
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip()
        match = _RANGE.match(text)
        number = (float(match[1]) + float(match[2])) / 2 if match else float(text)
    if not np.isfinite(number):
        raise ValueError("not a finite number")
    return number


def parse_height_cm(value: object) -> float:
    """``5ft 6in``, ``5' 8"``, ``5ft``, ``168cm`` or a bare number of inches, in centimetres."""
    text = str(value).strip().lower()
    if match := _FEET_INCHES.match(text):
        return (float(match[1]) * 12 + float(match[2] or 0)) * 2.54
    if match := _CM.match(text):
        return float(match[1])
    if isinstance(value, int | float) or re.fullmatch(_NUMBER, text):
        return float(text) * 2.54
    raise ValueError("expected a height such as 5ft 6in, 5' 8\" or 168cm")


def parse_weight_kg(value: object) -> float:
    """``137lbs``, ``137 lb``, ``62kg`` or a bare number of pounds, in kilograms."""
    match = _WEIGHT.match(str(value).strip().lower())
    if not match:
        raise ValueError("expected a weight such as 137lbs or 62kg")
    return float(match[1]) if match[2] == "kg" else float(match[1]) * 0.45359237


def parse_bust_size(value: object) -> tuple[float, float]:
    """``34d``, ``36dd/e``, ``34d+`` as (band inches, cup number)."""
    match = _BUST_SIZE.match(str(value).strip().lower())
    if not match or match[2] not in CUPS:
        raise ValueError("expected a bra size such as 34d or 36dd/e")
    return float(match[1]), CUPS[match[2]]


def parse_cup(value: object) -> float:
    text = str(value).strip().lower()
    if text not in CUPS:
        raise ValueError(f"unknown cup size; expected one of {sorted(CUPS)}")
    return CUPS[text]


def parse_fit(value: object) -> str:
    text = str(value).strip().lower()
    if text not in FIT_LABELS:
        raise ValueError(f"expected one of {FIT_LABELS}")
    return text


def parse_id(value: object) -> str:
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("expected an id")
    text = str(int(value)) if isinstance(value, float) else str(value).strip()
    if not text:
        raise ValueError("empty id")
    return text


def parse_size(value: object) -> float:
    number = parse_number(value)
    if number < 0:
        raise ValueError("negative size")
    return number


def parse_text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("expected text")
    return value.strip()


def parse_date(value: object) -> pd.Timestamp:
    """``April 20, 2016`` (RentTheRunway's format) or an ISO date."""
    text = str(value).strip()
    for fmt in ("%B %d, %Y", "%Y-%m-%d"):
        try:
            return pd.to_datetime(text, format=fmt)
        except ValueError:
            continue
    raise ValueError("expected a date such as 'April 20, 2016'")


def _scaled(top: float) -> Callable[[object], float]:
    def parse(value: object) -> float:
        number = parse_number(value)
        if not 0 <= number <= top:
            raise ValueError(f"expected a number in [0, {top:g}]")
        return number / top

    return parse


# --- per-source field maps: source field -> (parser, canonical column(s)) ---

Parser = Callable[[object], object]
_REQUIRED = {"user_id": "customer_id", "item_id": "product_id", "size": "size", "fit": "fit"}
_REQUIRED_PARSERS: dict[str, Parser] = {
    "user_id": parse_id, "item_id": parse_id, "size": parse_size, "fit": parse_fit,
}  # fmt: skip

MODCLOTH_FIELDS: dict[str, tuple[Parser, tuple[str, ...]]] = {
    "category": (parse_text, ("category",)),
    "height": (parse_height_cm, ("height_cm",)),
    "bra size": (parse_number, ("band_in",)),
    "cup size": (parse_cup, ("cup",)),
    "bust": (parse_number, ("bust_in",)),
    "waist": (parse_number, ("waist_in",)),
    "hips": (parse_number, ("hips_in",)),
    "quality": (_scaled(5.0), ("rating",)),
    "review_text": (parse_text, ("review_text",)),
    "review_summary": (parse_text, ("review_summary",)),
}
RENTTHERUNWAY_FIELDS: dict[str, tuple[Parser, tuple[str, ...]]] = {
    "category": (parse_text, ("category",)),
    "height": (parse_height_cm, ("height_cm",)),
    "weight": (parse_weight_kg, ("weight_kg",)),
    "bust size": (parse_bust_size, ("band_in", "cup")),
    "age": (parse_number, ("age",)),
    "body type": (parse_text, ("body_type",)),
    "rating": (_scaled(10.0), ("rating",)),
    "review_text": (parse_text, ("review_text",)),
    "review_summary": (parse_text, ("review_summary",)),
    "review_date": (parse_date, ("review_date",)),
}


def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8")


def _empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _parse_record(
    text: str, fields: dict[str, tuple[Parser, tuple[str, ...]]], path: str, line: int
) -> tuple[dict, list[RecordIssue]]:
    """One JSON line as a canonical row, and the implausible values that were set missing."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise RecordError(path, line, "<json>", text.strip()[:80], f"invalid JSON: {error.msg}") from None
    if not isinstance(raw, dict):
        raise RecordError(path, line, "<json>", text.strip()[:80], "expected a JSON object")
    row: dict[str, object] = {"line": line}
    for source, column in _REQUIRED.items():
        value = raw.get(source)
        if _empty(value):
            raise RecordError(path, line, source, value, "required field is missing")
        try:
            row[column] = _REQUIRED_PARSERS[source](value)
        except ValueError as error:
            raise RecordError(path, line, source, value, str(error)) from None
    implausible = []
    for source, (parse, columns) in fields.items():
        value = raw.get(source)
        if _empty(value):
            continue
        try:
            parsed = parse(value)
        except (ValueError, TypeError) as error:
            raise RecordError(path, line, source, value, str(error)) from None
        for column, number in zip(columns, parsed if len(columns) > 1 else (parsed,), strict=True):
            low, high = PLAUSIBLE.get(column, (-np.inf, np.inf))
            if isinstance(number, float) and not low <= number <= high:
                reason = f"{column}={number:.4g} outside the plausible [{low:g}, {high:g}]"
                implausible.append(RecordIssue(line, source, value, reason, "set missing"))
            else:
                row[column] = number
    return row, implausible


def _read(path: Path | str, fields: dict, on_error: Literal["raise", "skip"]) -> ReadResult:
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
    path = Path(path)
    rows: list[dict] = []
    issues: list[RecordIssue] = []
    with _open_text(path) as handle:
        for line, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                row, implausible = _parse_record(text, fields, str(path), line)
            except RecordError as error:
                if on_error == "raise":
                    raise
                issues.append(RecordIssue(line, error.field, error.value, error.reason, "dropped record"))
                continue
            rows.append(row)
            issues += implausible
    return ReadResult(frame=to_frame(rows), issues=issues)


def to_frame(rows: list[dict]) -> pd.DataFrame:
    """Canonical rows (dicts keyed by COLUMNS, any subset) as a typed frame with every column."""
    frame = pd.DataFrame.from_records(rows, columns=list(COLUMNS))
    frame["line"] = frame["line"].astype("int64")
    for column in ("customer_id", "product_id", "fit"):
        frame[column] = frame[column].astype(str)
    for column in ("size", "rating", *MEASUREMENTS):
        frame[column] = pd.to_numeric(frame[column]).astype("float64")
    for column in ("category", "body_type", "review_text", "review_summary"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), "").astype(str)
    frame["review_date"] = pd.to_datetime(frame["review_date"])
    return frame


def read_modcloth(path: Path | str, on_error: Literal["raise", "skip"] = "raise") -> ReadResult:
    """Read ``modcloth_final_data.json[.gz]``. ModCloth has no dates: file order stands for time."""
    return _read(path, MODCLOTH_FIELDS, on_error)


def read_renttherunway(path: Path | str, on_error: Literal["raise", "skip"] = "raise") -> ReadResult:
    """Read ``renttherunway_final_data.json[.gz]``."""
    return _read(path, RENTTHERUNWAY_FIELDS, on_error)


def read_fit_file(path: Path | str, on_error: Literal["raise", "skip"] = "raise") -> ReadResult:
    """Read either format, told apart by the file name (``modcloth`` or ``renttherunway``)."""
    name = Path(path).name.lower()
    if "modcloth" in name:
        return read_modcloth(path, on_error)
    if "renttherunway" in name or "rtr" in name:
        return read_renttherunway(path, on_error)
    raise ValueError(f"{path}: cannot tell the format from the name; expected 'modcloth' or 'renttherunway'")
