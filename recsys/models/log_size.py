"""How big a training log is, for the defaults that depend on it (``bpr_defaults``, ``cml_defaults``)."""

from __future__ import annotations

import numpy as np

from recsys.data import Interactions


def active_counts(train: Interactions) -> tuple[int, int]:
    """Users and items with at least one event in ``train``."""
    return int(np.unique(train.users).size), int(np.unique(train.items).size)


def events_per_row(num_events: int, num_users: int, num_items: int) -> float:
    """Training events per embedding row: events over the users and items that have any."""
    if num_users < 1 or num_items < 1:
        raise ValueError(f"the training log has no events (num_users={num_users}, num_items={num_items})")
    return num_events / (num_users + num_items)
