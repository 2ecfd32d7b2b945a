"""Labelled pairs files, read and checked before any encoding starts.

Two shapes are read:

* ``read_pairs``: ``left_id, right_id, label`` (DeepMatcher's ``ltable_id, rtable_id, label``
  too), ids of two catalogs given separately;
* ``read_pair_rows``: one row per pair with both products' fields, as in ProMap (Macková &
  Pilát, 2023): ``id1, name1, price1, ..., id2, name2, price2, ..., match``. A column ``<f>1``
  with a partner ``<f>2`` is field ``f`` of the left / right product; other columns belong to
  the pair (``match`` or ``label``; ``category`` is given to both products).

A pair repeated in a file counts once (a repeat with the other label is an error). Every error
names the file and, where there is one, the line.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from product.matching.listing import csv_records, normalize_listings, read_text

# Shared pair columns that are listing fields of both products (ProMap's ``category``).
SHARED_FIELDS = ("category", "brand", "shop")
# Per-product columns that ProMap holds twice: ``image`` counts the images of ``image_url``, and
# ``specification_text`` is ``specification`` flattened; reading both would count them twice.
REDUNDANT = {"image": "image_url", "specification_text": "specification"}
DESCRIPTION_PARTS = ("description", "short_description", "long_description")


def _records(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    """Header and ``(line, record)`` of a CSV pairs file; refuses an empty or header-only file."""
    handle = io.StringIO(read_text(path), newline="")
    header = handle.readline()
    if not header.strip():
        raise ValueError(f"{path}: empty file; expected a header such as left_id,right_id,label")
    handle.seek(0)
    # a row shorter than the header has empty trailing fields (csv gives None for them)
    records = [(line, {k: v or "" for k, v in raw.items()}) for line, raw in csv_records(handle, str(path))]
    if not records:
        raise ValueError(f"{path}: no pairs after the header")
    return list(records[0][1]), records


def _label(value: str, path: Path, line: int, field: str) -> int:
    if value.strip() in ("0", "1", "0.0", "1.0"):
        return int(float(value))
    raise ValueError(f"{path}:{line}: field {field!r}: {value!r} is not 0 or 1")


def _unique(rows: list[tuple[int, str, str, int]], path: Path) -> list[int]:
    """Indices of the first occurrence of each (left, right) pair in ``(line, left, right, label)``
    rows; a repeat with another label raises naming both lines."""
    first: dict[tuple[str, str], tuple[int, int]] = {}
    keep = []
    for index, (line, left, right, label) in enumerate(rows):
        seen = first.get((left, right))
        if seen is None:
            first[(left, right)] = (line, label)
            keep.append(index)
        elif seen[1] != label:
            raise ValueError(
                f"{path}:{line}: pair ({left!r}, {right!r}) has label {label}, "
                f"but line {seen[0]} gave it label {seen[1]}"
            )
    return keep


def _check_ids(
    path: Path, rows: list[tuple[int, str, str, int]], left: pd.DataFrame | None, right: pd.DataFrame | None
) -> None:
    """Raise on the first ``(line, left, right, label)`` row with an id outside its catalog."""
    checks = [
        (position, column, set(catalog["id"]))
        for position, column, catalog in ((1, "left_id", left), (2, "right_id", right))
        if catalog is not None
    ]
    unknown = [
        (row, position, column)
        for row in rows
        for position, column, ids in checks
        if row[position] not in ids
    ]
    if unknown:
        row, position, column = unknown[0]
        more = f" ({len(unknown)} unknown ids in all)" if len(unknown) > 1 else ""
        raise ValueError(
            f"{path}:{row[0]}: field {column!r}: {row[position]!r} is not in the "
            f"{column.removesuffix('_id')} catalog{more}"
        )


def read_pairs(
    path: str | Path, left: pd.DataFrame | None = None, right: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Labelled pairs ``left_id, right_id, label`` (int 0/1), each pair once, in file order.

    Args:
        path: CSV with ``left_id, right_id, label`` or ``ltable_id, rtable_id, label``.
        left, right: catalogs whose ``id`` column every pair's ids must be in, when given.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an empty or header-only file, a missing column, an empty id, a label other
            than 0/1, a pair repeated with the other label, an id not in its catalog; naming
            ``file:line`` and the field.
    """
    path = Path(path)
    header, records = _records(path)
    names = {"ltable_id": "left_id", "rtable_id": "right_id"}
    columns = {names.get(name, name): name for name in header}
    missing = [c for c in ("left_id", "right_id", "label") if c not in columns]
    if missing:
        raise ValueError(f"{path}:1: missing column(s) {missing}; found {header}")
    rows = []
    for line, record in records:
        ids = []
        for field in ("left_id", "right_id"):
            value = record[columns[field]].strip()
            if not value:
                raise ValueError(f"{path}:{line}: field {columns[field]!r} is empty")
            ids.append(value)
        rows.append((line, ids[0], ids[1], _label(record[columns["label"]], path, line, "label")))
    rows = [rows[i] for i in _unique(rows, path)]
    _check_ids(path, rows, left, right)
    return pd.DataFrame(
        {
            "left_id": [row[1] for row in rows],
            "right_id": [row[2] for row in rows],
            "label": pd.array([row[3] for row in rows], dtype="int64"),
        }
    )


def _product(record: dict, fields: list[str], suffix: str, shared: list[str]) -> dict:
    """One product of a pair row: its ``<field><suffix>`` columns under the field's name."""
    raw = {f: record[f + suffix] for f in fields if f not in DESCRIPTION_PARTS}
    raw = {f: "" if value == "nan" else value for f, value in raw.items()}  # ProMap's missing values
    parts = [record[f + suffix] for f in DESCRIPTION_PARTS if f in fields]
    raw["description"] = " ".join(p for p in parts if p not in ("", "nan"))
    raw.update({f: record[f] for f in shared})
    return raw


def read_pair_rows(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The left catalog, the right catalog and the pairs of a file with one row per pair.

    A product listed in several rows keeps the fields of its first row. The pairs frame has
    ``left_id, right_id, label`` plus the file's other pair columns (ProMap's ``match_type``).

    Raises:
        FileNotFoundError: no such file.
        ValueError: as ``read_pairs``, and a file without ``id1, id2`` or a label column.
    """
    path = Path(path)
    header, records = _records(path)
    fields = [c[:-1] for c in header if c.endswith("1") and c[:-1] + "2" in header]
    fields = [f for f in fields if not (f in REDUNDANT and REDUNDANT[f] in fields)]
    label_column = next((c for c in ("match", "label") if c in header), None)
    if "id" not in fields or label_column is None:
        hint = " (left_id, right_id, label pairs need the two catalogs too)" if "left_id" in header else ""
        raise ValueError(
            f"{path}:1: a file with both products per row needs columns id1, id2 and match (or label); "
            f"found {header}{hint}"
        )
    paired = {f + s for f in fields for s in "12"} | {c + s for c in REDUNDANT for s in "12"}
    shared = [c for c in header if c in SHARED_FIELDS]
    extra = [c for c in header if c not in paired and c not in shared and c != label_column]
    catalogs = []
    for suffix in "12":
        first: dict[str, tuple[int, dict]] = {}
        for line, record in records:
            product = _product(record, fields, suffix, shared)
            if not product["id"].strip():
                raise ValueError(f"{path}:{line}: field 'id{suffix}' is empty")
            first.setdefault(product["id"].strip(), (line, product))
        catalogs.append(normalize_listings(first.values(), source=str(path)))
    rows = [
        (line, r["id1"].strip(), r["id2"].strip(), _label(r[label_column], path, line, label_column))
        for line, r in records
    ]
    keep = _unique(rows, path)
    pairs = pd.DataFrame(
        {
            "left_id": [rows[i][1] for i in keep],
            "right_id": [rows[i][2] for i in keep],
            "label": pd.array([rows[i][3] for i in keep], dtype="int64"),
        }
    )
    for column in extra:
        pairs[column] = [records[i][1][column] for i in keep]
    return catalogs[0], catalogs[1], pairs


def union_catalogs(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """The listings of two catalogs, each id once (``first``'s listing when both have it)."""
    return pd.concat([first, second[~second["id"].isin(first["id"])]], ignore_index=True)


def check_labels(labels: pd.Series | np.ndarray, source: str) -> None:
    """Refuse labels that cannot train or calibrate a matcher: both 0 and 1 must occur."""
    present = sorted(set(np.asarray(labels).tolist()))
    if present != [0, 1]:
        raise ValueError(
            f"{source}: needs both matches (label 1) and non-matches (label 0); found only label {present}"
        )
