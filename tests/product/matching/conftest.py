"""Tiny seeded catalogs and cheap stand-in embeddings for the matching tests."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from product.matching.features import field_texts
from product.matching.synthetic import SyntheticCatalogs, make_catalogs


def hashed_embeddings(listings, dim: int = 64) -> np.ndarray:
    """Bag-of-words vectors from hashed title tokens: unit rows, deterministic, no model needed."""
    vectors = np.zeros((len(listings), dim), dtype=np.float32)
    for row, text in enumerate(field_texts(listings, "title")):
        for token in text.lower().split():
            vectors[row, zlib.crc32(token.encode()) % dim] += 1.0
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


@pytest.fixture(scope="session")
def shops() -> SyntheticCatalogs:
    return make_catalogs(40, seed=3)


@pytest.fixture(scope="session")
def other_shops() -> SyntheticCatalogs:
    return make_catalogs(30, seed=4, id_prefix="x")


def fake_embeddings(catalogs: SyntheticCatalogs) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {"title": (hashed_embeddings(catalogs.left), hashed_embeddings(catalogs.right))}
