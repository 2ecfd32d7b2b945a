"""Read the ProMap product-mapping sets (Macková & Pilát, "ProMap: Datasets for Product Mapping in
E-commerce", 2023): ProMapCz (Alza vs Mall), ProMapEn (Walmart vs Amazon), and the authors'
re-processed amazon-google and amazon-walmart.

Each folder holds ``<prefix>-train_data_similarities.csv`` and ``<prefix>-test_data_similarities.csv``
(the published similarity features: ``id1, id2``, about 30 features, ``match``) and
``<prefix>-test_data.csv[.gz]`` (the test pairs with both products' text, one row per pair).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from product.matching.deepmatcher import MatchingSet
from product.matching.pairs import read_pair_rows

PREFIXES = {
    "ProMapCz": "promapcz",
    "ProMapEn": "promapen",
    "amazon-google": "amazon_google",
    "amazon-walmart": "amazon_walmart",
}


def _file(folder: Path, name: str) -> Path:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{folder}: no {name} or {name}.gz")


def load_promap_features(folder: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The published (train, test) feature tables: feature columns plus ``match`` (0/1)."""
    folder = Path(folder)
    prefix = PREFIXES[folder.name]
    tables = []
    for split in ("train", "test"):
        path = _file(folder, f"{prefix}-{split}_data_similarities.csv")
        table = pd.read_csv(path).drop(columns=["id1", "id2"])
        if "match" not in table.columns:
            raise ValueError(f"{path}: missing column 'match'")
        non_numeric = [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
        if non_numeric:
            raise ValueError(f"{path}: non-numeric feature column(s) {non_numeric}")
        tables.append(table)
    return tables[0], tables[1]


def load_promap_pairs(folder: str | Path) -> MatchingSet:
    """The test pairs with product text as two catalogs and one ``test`` split.

    The split keeps ``match_type`` (match / close_nonmatch / medium_nonmatch) where the set has it.
    """
    folder = Path(folder)
    left, right, pairs = read_pair_rows(_file(folder, f"{PREFIXES[folder.name]}-test_data.csv"))
    return MatchingSet(folder.name, left, right, {"test": pairs})
