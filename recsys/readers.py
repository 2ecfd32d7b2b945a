"""Readers for interaction logs: any CSV/TSV/Parquet/JSON Lines file with a column mapping,
and the formats of public data sets (MovieLens, Amazon reviews, MMRec/RecBole ``.inter``).

Every reader validates at the boundary: a missing column, a malformed row or a non-numeric
rating or timestamp raises ``ValueError`` naming the file, the line and the field. Nothing is
dropped silently; intended drops (duplicates, thresholds, k-core) happen later and are counted.

The field separator of a text file is detected from its first lines (``detect_sep``) unless
given: a ``.dat`` or ``.txt`` log is as often tab- or ``::``-separated as comma-separated.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.data import Interactions, from_frame

FIELDS = ("user", "item", "rating", "timestamp")
# Separators tried by ``detect_sep``, in order of preference when several fit (a tab or "::"
# rarely occurs inside a field; a comma often does).
SEPARATORS = ("\t", "::", ";", "|", ",")
TAB_SUFFIXES = (".tsv", ".inter", ".data", ".base", ".test")


def _suffix(path: Path) -> str:
    suffixes = [s for s in path.suffixes if s not in (".gz", ".bz2", ".zip")]
    return suffixes[-1].lower() if suffixes else ""


def _open_binary(path: Path) -> io.BufferedIOBase:
    """A text log's bytes, gzip-, bz2- or zip-compressed (first member) or not."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:  # the member keeps the file open
            return archive.open(archive.namelist()[0])  # type: ignore[return-value]
    return {".gz": gzip.open, ".bz2": bz2.open}.get(path.suffix, open)(path, "rb")


def _head_lines(path: Path, count: int = 20) -> list[str]:
    """The first ``count`` non-empty lines of a text file."""
    lines: list[str] = []
    with io.TextIOWrapper(_open_binary(path), encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.strip():
                lines.append(line.rstrip("\r\n"))
            if len(lines) == count:
                break
    return lines


def _undecodable(path: Path, encoding: str) -> str:
    """Where a file stops being ``encoding`` text: "line N: byte 0x.." (for error messages)."""
    with _open_binary(path) as handle:
        for line_no, line in enumerate(handle, start=1):
            try:
                line.decode(encoding)
            except UnicodeDecodeError as err:
                return f"line {line_no}: byte 0x{line[err.start]:02x} is not {encoding}"
    return f"not {encoding}"


def _field_counts(lines: list[str], sep: str) -> list[int]:
    if len(sep) > 1:
        return [line.count(sep) + 1 for line in lines]
    return [len(row) for row in csv.reader(lines, delimiter=sep)]  # quoted fields count once


def detect_sep(path: str | Path) -> str | None:
    """The separator that splits every one of the first lines into the same number (> 1) of fields,
    preferring tab, then "::", ";", "|" and ","; None when none does (e.g. a one-column file)."""
    lines = _head_lines(Path(path))
    for sep in SEPARATORS:
        counts = _field_counts(lines, sep)
        if counts and min(counts) > 1 and len(set(counts)) == 1:
            return sep
    return None


def _resolve_sep(path: Path, sep: str | None) -> str:
    """``sep`` when given, else the detected separator, else tab for .tsv/.inter/... and comma."""
    if sep:
        return sep
    return detect_sep(path) or ("\t" if _suffix(path) in TAB_SUFFIXES else ",")


def _read_jsonl(path: Path, wanted: list[str]) -> pd.DataFrame:
    """Parse JSON Lines one record at a time so that a bad line is reported by number."""
    opener = gzip.open if path.suffix == ".gz" else open
    rows = []
    with opener(path, "rt", encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}, line {line_no}: not valid JSON ({err.msg})") from None
            if not isinstance(record, dict):
                raise ValueError(f"{path}, line {line_no}: expected a JSON object")
            rows.append([record.get(name) for name in wanted] + [line_no])
    return pd.DataFrame(rows, columns=[*wanted, "_line"])


def read_table(
    path: str | Path,
    columns: dict[str, str],
    sep: str | None = None,
    header: bool = True,
    names: list[str] | None = None,
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Read the mapped columns of a log file into a frame with columns user, item[, rating, timestamp]
    and ``_line`` (the 1-based line of each row in the file, for error messages).

    Args:
        path: a .csv, .tsv, .txt, .dat, .inter, .parquet, .jsonl or .json file (optionally .gz).
        columns: maps our fields ``user``, ``item`` (required), ``rating``, ``timestamp`` (optional)
            to the file's column names.
        sep: field separator for text files (default: detected from the first lines, see
            ``detect_sep``; a multi-character separator such as "::" is read literally).
        header: whether a text file's first line holds column names.
        names: column names for a text file without header.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    unknown = set(columns) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s) {sorted(unknown)} in column mapping; use {FIELDS}")
    for required in ("user", "item"):
        if required not in columns:
            raise ValueError(f"column mapping must name the '{required}' column")
    wanted = list(columns.values())
    kind = _suffix(path)
    first_data_line = 2 if header else 1
    if kind in (".jsonl", ".json"):
        frame = _read_jsonl(path, wanted)
        missing = [c for c in wanted if frame[c].isna().all()] if len(frame) else []
        if missing and len(frame):
            raise ValueError(f"{path}: field(s) {missing} absent from every record")
    elif kind == ".parquet":
        frame = pd.read_parquet(path)
        _check_columns(path, frame, wanted)
        frame = frame[wanted].copy()
        frame["_line"] = np.arange(1, len(frame) + 1)  # row number for Parquet
    else:
        sep = _resolve_sep(path, sep)
        try:
            frame = pd.read_csv(
                path,
                sep=sep,
                header=0 if header else None,
                names=names,
                dtype=str,
                keep_default_na=False,
                engine="python" if len(sep) > 1 else "c",
                encoding=encoding,
            )
        except pd.errors.ParserError as err:
            raise ValueError(f"{path}: malformed row: {err}") from None
        except pd.errors.EmptyDataError:
            raise ValueError(f"{path}: empty file") from None
        except UnicodeDecodeError:
            raise ValueError(f"{path}, {_undecodable(path, encoding)}; re-save it as {encoding}") from None
        if header:
            frame.columns = [str(c).split(":")[0] for c in frame.columns]  # RecBole 'user_id:token'
        _check_columns(path, frame, wanted, sep)
        frame = frame[wanted].copy()
        frame["_line"] = np.arange(first_data_line, first_data_line + len(frame))
        for column in wanted:
            frame[column] = frame[column].replace("", None)
    frame = frame.rename(columns={v: k for k, v in columns.items()})
    _validate(path, frame)
    return frame


def _check_columns(path: Path, frame: pd.DataFrame, wanted: list[str], sep: str | None = None) -> None:
    missing = [c for c in wanted if c not in frame.columns]
    if not missing:
        return
    message = f"{path}: missing column(s) {missing}; found {list(frame.columns)}"
    glued = [s for s in SEPARATORS if s != sep and any(s in str(c) for c in frame.columns)]
    if sep is not None and glued:
        message += f" (read with separator {sep!r}; the header contains {glued[0]!r}: set the separator)"
    raise ValueError(message)


def _validate(path: Path, frame: pd.DataFrame) -> None:
    """Raise on the first empty id or non-numeric rating/timestamp, naming file, line and field."""
    for field in ("user", "item"):
        empty = frame[field].isna().to_numpy()
        if empty.any():
            line = int(frame["_line"].to_numpy()[empty.argmax()])
            raise ValueError(f"{path}, line {line}: field '{field}' is empty")
    for field in ("rating", "timestamp"):
        if field not in frame:
            continue
        raw = frame[field]
        numeric = pd.to_numeric(raw, errors="coerce")
        bad = numeric.isna().to_numpy()
        if bad.any():
            row = int(bad.argmax())
            line = int(frame["_line"].to_numpy()[row])
            raise ValueError(
                f"{path}, line {line}: field '{field}' is not a number: {raw.iloc[row]!r}"
            )
        frame[field] = numeric


def read_interactions(
    path: str | Path,
    columns: dict[str, str] | None = None,
    sep: str | None = None,
    header: bool = True,
    names: list[str] | None = None,
) -> Interactions:
    """Load any log file with a column mapping (default: user_id, item_id, rating, timestamp when
    present) into Interactions with contiguous ids."""
    if columns is None:
        columns = {"user": "user_id", "item": "item_id"}
        probe = read_header(path, sep) if header else []
        for field, name in (("rating", "rating"), ("timestamp", "timestamp")):
            if name in probe:
                columns[field] = name
    frame = read_table(path, columns, sep=sep, header=header, names=names)
    return _to_interactions(frame)


def read_header(path: str | Path, sep: str | None = None) -> list[str]:
    """Column names of a text, JSON Lines or Parquet log (used to pick default columns)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    kind = _suffix(path)
    if kind == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    if kind in (".jsonl", ".json"):
        frame = pd.read_json(path, lines=True, nrows=1)
        return list(frame.columns)
    sep = _resolve_sep(path, sep)
    try:
        head = pd.read_csv(path, sep=sep, nrows=0, engine="python" if len(sep) > 1 else "c")
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: empty file") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}, {_undecodable(path, 'utf-8')}; re-save it as utf-8") from None
    return [str(c).split(":")[0] for c in head.columns]


def _to_interactions(frame: pd.DataFrame) -> Interactions:
    frame = frame.drop(columns="_line")
    return from_frame(
        frame,
        user_col="user",
        item_col="item",
        rating_col="rating" if "rating" in frame else None,
        time_col="timestamp" if "timestamp" in frame else None,
    )


# --- public data sets -------------------------------------------------------------------------


def read_movielens_100k(path: str | Path) -> Interactions:
    """MovieLens 100K ``u.data``: tab-separated user, item, rating, timestamp, no header."""
    names = ["user_id", "item_id", "rating", "timestamp"]
    columns = {"user": "user_id", "item": "item_id", "rating": "rating", "timestamp": "timestamp"}
    frame = read_table(path, columns, sep="\t", header=False, names=names)
    return _to_interactions(frame)


def read_movielens_1m(path: str | Path) -> Interactions:
    """MovieLens 1M: the original ``ratings.dat`` (``UserID::MovieID::Rating::Timestamp``) or the
    timestamp-free CSV ``user_id,item_idx,rating`` (as in the shared data folder)."""
    path = Path(path)
    if ".dat" in path.suffixes:
        names = ["user_id", "item_id", "rating", "timestamp"]
        columns = {"user": "user_id", "item": "item_id", "rating": "rating", "timestamp": "timestamp"}
        frame = read_table(path, columns, sep="::", header=False, names=names, encoding="latin-1")
    else:
        columns = {"user": "user_id", "item": "item_idx", "rating": "rating"}
        frame = read_table(path, columns, sep=",")
    return _to_interactions(frame)


def read_movielens_latest(path: str | Path) -> Interactions:
    """MovieLens latest / latest-small ``ratings.csv``: userId, movieId, rating, timestamp."""
    columns = {"user": "userId", "item": "movieId", "rating": "rating", "timestamp": "timestamp"}
    return _to_interactions(read_table(path, columns, sep=","))


def read_amazon_reviews(path: str | Path) -> Interactions:
    """Amazon review JSON Lines (2014/2018): reviewerID, asin, overall, unixReviewTime."""
    columns = {
        "user": "reviewerID",
        "item": "asin",
        "rating": "overall",
        "timestamp": "unixReviewTime",
    }
    return _to_interactions(read_table(path, columns))


def read_mmrec_inter(path: str | Path) -> Interactions:
    """MMRec/RecBole atomic ``.inter`` TSV with a header such as ``userID itemID rating timestamp``
    or ``user_id:token item_id:token ...``; rating and timestamp are used when present."""
    header = read_header(path, sep="\t")
    columns: dict[str, str] = {}
    for field, options in (
        ("user", ("userID", "user_id")),
        ("item", ("itemID", "item_id")),
        ("rating", ("rating",)),
        ("timestamp", ("timestamp",)),
    ):
        found = [name for name in options if name in header]
        if found:
            columns[field] = found[0]
    if "user" not in columns or "item" not in columns:
        raise ValueError(f"{path}: needs a userID/user_id and an itemID/item_id column; found {header}")
    return _to_interactions(read_table(path, columns, sep="\t"))


READERS = {  # format name -> reader, for the CLI and the benchmarks
    "movielens-100k": read_movielens_100k,
    "movielens-1m": read_movielens_1m,
    "movielens-latest": read_movielens_latest,
    "amazon": read_amazon_reviews,
    "mmrec": read_mmrec_inter,
}
