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
from product.matching.pairs import read_pairs

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


def load_deepmatcher(folder: str | Path) -> MatchingSet:
    """Load one DeepMatcher set, e.g. ``load_deepmatcher(data_dir() / "deepmatcher/abt_buy")``."""
    folder = Path(folder)
    left = load_listings(_table(folder, "tableA"), shop="A")
    right = load_listings(_table(folder, "tableB"), shop="B")
    splits = {split: read_pairs(folder / f"{split}.csv", left, right) for split in SPLITS}
    return MatchingSet(folder.name, left, right, splits)
