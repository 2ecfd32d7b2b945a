"""Product listings: one schema for every catalog, read tolerantly from CSV or JSON Lines.

A catalog is a ``pandas.DataFrame`` with exactly the columns in ``LISTING_COLUMNS``:

==================  ======================================================================
``id``              str, unique within the catalog (the 0-based record number when absent)
``title``           str ("" when missing); ``name`` / ``product_name`` are read as title
``description``     str ("" when missing)
``brand``           str ("" when missing); ``manufacturer`` / ``maker`` are read as brand
``category``        str ("" when missing)
``price``           float (NaN when missing); "$1,299.00" and "12,99 Kč" are read as numbers
``specifications``  dict[str, str]; a JSON object, a JSON list of ``{"key", "value"}`` (ProMap),
                    plus every input column outside the schema (e.g. ``modelno``)
``image``           str, a path or URL ("" when missing); a JSON list keeps its first entry
``shop``            str, the catalog's shop ("" when unknown)
==================  ======================================================================

Missing fields are fine, but a catalog needs listings and titles: an empty or header-only file, or
one where no listing has a title, is refused. A malformed file raises ``ValueError`` naming the
file, line and field; a missing file raises ``FileNotFoundError`` naming it.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd

LISTING_COLUMNS = (
    "id",
    "title",
    "description",
    "brand",
    "category",
    "price",
    "specifications",
    "image",
    "shop",
)
TEXT_FIELDS = ("title", "description", "brand", "category", "image", "shop")

# Other spellings of schema fields met in public matching data (Abt-Buy's ``name``,
# Amazon-Google's ``manufacturer``, ProMap's ``specification`` and ``image_url``).
ALIASES = {
    "name": "title",
    "product_name": "title",
    "manufacturer": "brand",
    "maker": "brand",
    "specs": "specifications",
    "specification": "specifications",
    "image_url": "image",
    "image_path": "image",
    "images": "image",
}

_PRICE_NUMBER = re.compile(r"\d[\d\s.,']*")


def read_text(path: str | Path) -> str:
    """The text of a UTF-8 file (a BOM is dropped), gunzipped when it ends in ``.gz``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not gzip data, or not UTF-8, naming ``file:line`` of the first bad byte.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    data = path.read_bytes()
    if path.suffix.lower() == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as error:
            raise ValueError(f"{path}: not a gzip file ({error})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ValueError(
            f"{path}:{line}: byte 0x{data[error.start]:02x} is not UTF-8; re-save the file as UTF-8"
        ) from None


def load_listings(path: str | Path, shop: str | None = None) -> pd.DataFrame:
    """Read a catalog from ``.csv``, ``.jsonl`` / ``.json`` (JSON Lines), optionally gzipped.

    Args:
        path: the catalog file.
        shop: fills ``shop`` where a record has none.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a malformed line or field, naming ``file:line`` and the field; an empty
            catalog or one without titles, naming the file.
    """
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    kind = suffixes[-1] if suffixes else ""
    if kind not in (".csv", ".jsonl", ".json", ".ndjson"):
        raise ValueError(f"{path}: unknown catalog format {kind!r}; use .csv or .jsonl")
    handle = io.StringIO(read_text(path), newline="")
    if kind == ".csv":
        records = list(csv_records(handle, str(path)))
    else:
        records = list(_jsonl_records(handle, str(path)))
    return normalize_listings(records, source=str(path), shop=shop)


def listings_from_frame(
    frame: pd.DataFrame, source: str = "<frame>", shop: str | None = None
) -> pd.DataFrame:
    """Normalise an in-memory table to the listing schema (rows are numbered from 1 in errors)."""
    raw = frame.to_dict(orient="records")
    return normalize_listings(((i + 1, row) for i, row in enumerate(raw)), source=source, shop=shop)


def normalize_listings(
    records: Iterable[tuple[int, dict]], source: str, shop: str | None = None
) -> pd.DataFrame:
    """Turn ``(line, raw record)`` pairs into a catalog with ``LISTING_COLUMNS``.

    Raises ``ValueError`` naming ``source`` when there is no record or no record has a title: TF-IDF
    and blocking read titles, and a matcher trained without them learns nothing useful.
    """
    rows = []
    first_line: dict[str, int] = {}
    columns: dict[str, None] = {}  # every input field name, in order of appearance
    for number, (line, raw) in enumerate(records):
        columns.update(dict.fromkeys(str(key).strip() for key in raw))
        row = _normalize_record(raw, where=f"{source}:{line}")
        if not row["id"]:
            row["id"] = str(number)
        if row["id"] in first_line:
            raise ValueError(
                f"{source}:{line}: field 'id': {row['id']!r} repeats line {first_line[row['id']]}"
            )
        first_line[row["id"]] = line
        if shop and not row["shop"]:
            row["shop"] = shop
        rows.append(row)
    if not rows:
        raise ValueError(f"{source}: no listings (the file is empty or has only a header)")
    if not any(row["title"] for row in rows):
        titled = [c for c in columns if ALIASES.get(c.lower(), c.lower()) == "title"]
        if titled:
            raise ValueError(f"{source}: column {titled[0]!r} (the title) is empty in every listing")
        raise ValueError(f"{source}: no title column (title, name or product_name); found {list(columns)}")
    frame = pd.DataFrame(rows, columns=list(LISTING_COLUMNS))
    frame["price"] = frame["price"].astype(float)
    return frame


def csv_records(handle: io.TextIOBase, source: str) -> Iterator[tuple[int, dict]]:
    """``(line, record)`` of a CSV with a header; a repeated column or a row with more fields than
    the header raises ``ValueError`` naming ``source:line``."""
    reader = csv.DictReader(handle)
    if reader.fieldnames is None:
        return
    header = [name.strip() for name in reader.fieldnames]
    if len(set(header)) != len(header):
        raise ValueError(f"{source}:1: the header repeats a column: {header}")
    reader.fieldnames = header
    try:
        for raw in reader:
            if None in raw:
                raise ValueError(
                    f"{source}:{reader.line_num}: {len(header) + len(raw[None])} fields, "
                    f"the header has {len(header)}"
                )
            yield reader.line_num, raw
    except csv.Error as error:
        raise ValueError(f"{source}:{reader.line_num}: {error}") from error


def _jsonl_records(handle: io.TextIOBase, source: str) -> Iterator[tuple[int, dict]]:
    for line_number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{source}:{line_number}: not valid JSON ({error.msg})") from error
        if not isinstance(raw, dict):
            raise ValueError(f"{source}:{line_number}: expected a JSON object, got {type(raw).__name__}")
        yield line_number, raw


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _normalize_record(raw: dict, where: str) -> dict:
    row: dict = {field: "" for field in TEXT_FIELDS}
    row["id"] = ""
    row["price"] = math.nan
    specifications: dict[str, str] = {}
    extras: dict[str, str] = {}
    for key, value in raw.items():
        name = ALIASES.get(str(key).strip().lower(), str(key).strip().lower())
        if _is_missing(value):
            continue
        if name == "id":
            row["id"] = _as_text(value, where, "id")
        elif name == "price":
            row["price"] = parse_price(value, where)
        elif name == "specifications":
            specifications.update(parse_specifications(value, where))
        elif name == "image":
            row["image"] = _first_image(value, where)
        elif name in TEXT_FIELDS:
            row[name] = _as_text(value, where, name)
        else:
            extras[str(key).strip()] = _as_text(value, where, str(key))
    row["specifications"] = {**extras, **specifications}
    return row


def _as_text(value: object, where: str, field: str) -> str:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value).strip()
    raise ValueError(f"{where}: field {field!r}: expected text, got {type(value).__name__}")


def parse_price(value: object, where: str = "<value>") -> float:
    """A price as a float: numbers pass through; text keeps its first number.

    "1,299.00" and "1 299,00" and "12,99" are all read with the last ``.``/``,`` as the decimal
    mark when two or fewer digits follow it. Raises ``ValueError`` naming ``where`` otherwise.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        price = float(value)
    elif isinstance(value, str):
        match = _PRICE_NUMBER.search(value)
        if match is None:
            raise ValueError(f"{where}: field 'price': cannot read {value!r} as a price")
        digits = re.sub(r"[\s']", "", match.group()).rstrip(".,")
        head, mark, tail = max(digits.rpartition("."), digits.rpartition(","), key=lambda p: len(p[0]))
        if mark and len(tail) <= 2:
            digits = re.sub(r"[.,]", "", head) + "." + tail
        else:
            digits = re.sub(r"[.,]", "", digits)
        price = float(digits)
    else:
        raise ValueError(f"{where}: field 'price': expected a number, got {type(value).__name__}")
    if price < 0 or math.isinf(price):
        raise ValueError(f"{where}: field 'price': {value!r} is not a price")
    return price


def parse_specifications(value: object, where: str = "<value>") -> dict[str, str]:
    """Key/value specifications from a dict, a ProMap list of ``{"key", "value"}``, or their JSON."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(f"{where}: field 'specifications': not valid JSON ({error.msg})") from error
    if isinstance(value, dict):
        return {str(k).strip(): _spec_value(v) for k, v in value.items() if not _is_missing(v)}
    if isinstance(value, list):
        specs: dict[str, str] = {}
        for item in value:
            if not (isinstance(item, dict) and "key" in item and "value" in item):
                raise ValueError(
                    f"{where}: field 'specifications': list entries need 'key' and 'value', got {item!r}"
                )
            if not _is_missing(item["value"]):
                specs.setdefault(str(item["key"]).strip(), _spec_value(item["value"]))
        return specs
    raise ValueError(
        f"{where}: field 'specifications': expected an object or a list, got {type(value).__name__}"
    )


def _spec_value(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(v).strip() for v in value)
    return str(value).strip()


def _first_image(value: object, where: str) -> str:
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(f"{where}: field 'image': not valid JSON ({error.msg})") from error
    if isinstance(value, list):
        return str(value[0]).strip() if value else ""
    return _as_text(value, where, "image")


def listing_text(listing: pd.Series | dict, with_description: bool = True) -> str:
    """Every textual field of one listing in one string (brand, title, specifications, description)."""
    specs = " ".join(f"{k} {v}" for k, v in listing["specifications"].items())
    parts = [listing["brand"], listing["title"], listing["category"], specs]
    if with_description:
        parts.append(listing["description"])
    return " ".join(part for part in parts if part)
