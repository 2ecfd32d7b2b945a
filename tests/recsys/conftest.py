"""Tiny seeded interaction data shared by the recsys tests."""

from __future__ import annotations

import pytest

from recsys.data import Interactions
from recsys.splits import Split, random_split
from recsys.synthetic import make_interactions


@pytest.fixture(scope="session")
def planted() -> tuple[Interactions, dict]:
    return make_interactions(num_users=120, num_items=80, events_per_user=15, seed=7)


@pytest.fixture(scope="session")
def planted_split(planted) -> Split:
    return random_split(planted[0], (0.8, 0.1, 0.1), seed=7)
