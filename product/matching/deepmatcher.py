"""Read a DeepMatcher/Magellan benchmark folder (Mudgal et al., SIGMOD 2018).

A folder holds ``tableA.csv`` and ``tableB.csv`` (records with ``id`` plus attributes; either may
be gzipped) and ``train.csv``, ``valid.csv``, ``test.csv`` with ``ltable_id, rtable_id, label``.
Tables go through the listing schema (``name`` -> title, ``manufacturer`` -> brand, ``modelno``
-> a specification); pairs are returned as ``left_id, right_id, label``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from product.matching.listing import load_listings

SPLITS = ("train", "valid", "test")


@dataclass
class MatchingSet:
    """Two catalogs and labelled pairs per split (``left_id, right_id, label``)."""

    name: str
    left: pd.DataFrame
    right: pd.DataFrame
    splits: dict[str, pd.DataFrame]


def _table(folder: Path, stem: str) -> Path:
    for candidate in (folder / f"{stem}.csv", folder / f"{stem}.csv.gz"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{folder}: no {stem}.csv or {stem}.csv.gz")


def read_pairs(path: str | Path) -> pd.DataFrame:
    """Labelled pairs from a CSV with ``ltable_id, rtable_id, label`` (or ``left_id, right_id``)."""
    pairs = pd.read_csv(path, dtype=str)
    pairs = pairs.rename(columns={"ltable_id": "left_id", "rtable_id": "right_id"})
    missing = {"left_id", "right_id", "label"} - set(pairs.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
    labels = pd.to_numeric(pairs["label"], errors="coerce")
    bad = ~labels.isin([0, 1])
    if bad.any():
        line = int(bad.to_numpy().argmax()) + 2  # header is line 1
        raise ValueError(f"{path}:{line}: field 'label': {pairs['label'].iat[line - 2]!r} is not 0 or 1")
    return pd.DataFrame(
        {
            "left_id": pairs["left_id"].str.strip(),
            "right_id": pairs["right_id"].str.strip(),
            "label": labels.astype(int),
        }
    )


def load_deepmatcher(folder: str | Path) -> MatchingSet:
    """Load one DeepMatcher set, e.g. ``load_deepmatcher(data_dir() / "deepmatcher/abt_buy")``."""
    folder = Path(folder)
    left = load_listings(_table(folder, "tableA"), shop="A")
    right = load_listings(_table(folder, "tableB"), shop="B")
    splits = {split: read_pairs(folder / f"{split}.csv") for split in SPLITS}
    for split, pairs in splits.items():
        for side, catalog in (("left_id", left), ("right_id", right)):
            unknown = set(pairs[side]) - set(catalog["id"])
            if unknown:
                raise ValueError(f"{folder / split}.csv: field {side!r}: unknown ids {sorted(unknown)[:5]}")
    return MatchingSet(folder.name, left, right, splits)
