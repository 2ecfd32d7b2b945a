"""Cheap stand-in embeddings for the matching tests: hashed bag-of-words vectors, no model needed.

A module of its own (not ``conftest``) so that test files import it by a name no other test folder
uses.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from product.matching.features import field_texts
from product.matching.synthetic import SyntheticCatalogs


def hashed_embeddings(listings: pd.DataFrame, dim: int = 64, field: str = "title") -> np.ndarray:
    """Unit rows (zeros for empty text) from hashed tokens of ``field``, (n, dim); deterministic."""
    vectors = np.zeros((len(listings), dim), dtype=np.float32)
    for row, text in enumerate(field_texts(listings, field)):
        for token in text.lower().split():
            vectors[row, zlib.crc32(token.encode()) % dim] += 1.0
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


def fake_embeddings(catalogs: SyntheticCatalogs) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {"title": (hashed_embeddings(catalogs.left), hashed_embeddings(catalogs.right))}


PRECISIONS_ASKED: list[str] = []  # the ``precision`` of every fake_embed_fields call, in order


def fake_embed_fields(
    listings: pd.DataFrame, fields: tuple[str, ...], cache_root: Path | None = None, precision: str = "auto"
) -> dict[str, np.ndarray]:
    """Drop-in for ``product.matching.features.embed_fields`` (records the precision asked for)."""
    PRECISIONS_ASKED.append(precision)
    return {field: hashed_embeddings(listings, field=field) for field in fields}
