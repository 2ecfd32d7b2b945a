"""Tiny seeded catalogs for the matching tests (stand-in embeddings: ``matching_stubs``)."""

from __future__ import annotations

import pytest

from product.matching.synthetic import SyntheticCatalogs, make_catalogs


@pytest.fixture(scope="session")
def shops() -> SyntheticCatalogs:
    return make_catalogs(40, seed=3)


@pytest.fixture(scope="session")
def other_shops() -> SyntheticCatalogs:
    return make_catalogs(30, seed=4, id_prefix="x")
