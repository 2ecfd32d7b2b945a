"""Interaction logs as integer arrays with the id maps that produced them.

An :class:`Interactions` holds one row per (user, item) event with contiguous internal ids
``0..num_users-1`` / ``0..num_items-1``; ``user_ids[u]`` / ``item_ids[i]`` give the original
ids back. Splits of one log share the same id maps, so vectors, indexes and served results
can always be mapped to the ids a shop uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp


@dataclass(frozen=True)
class Interactions:
    """A log of user–item events with internal ids.

    Attributes:
        users: (N,) int64 internal user ids.
        items: (N,) int64 internal item ids.
        num_users: size of the user id space (may exceed users.max() + 1 in a split).
        num_items: size of the item id space.
        ratings: (N,) float32 explicit ratings, or None for implicit logs.
        timestamps: (N,) int64 event times (seconds), or None.
        user_ids: (num_users,) original user ids, or None.
        item_ids: (num_items,) original item ids, or None.
        stats: counts of what loading and filtering did (rows read, duplicates dropped, ...).
    """

    users: np.ndarray
    items: np.ndarray
    num_users: int
    num_items: int
    ratings: np.ndarray | None = None
    timestamps: np.ndarray | None = None
    user_ids: np.ndarray | None = None
    item_ids: np.ndarray | None = None
    stats: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.users)
        if len(self.items) != n:
            raise ValueError(f"users ({n}) and items ({len(self.items)}) differ in length")
        for name in ("ratings", "timestamps"):
            values = getattr(self, name)
            if values is not None and len(values) != n:
                raise ValueError(f"{name} has {len(values)} rows, expected {n}")
        if n and (self.users.min() < 0 or self.users.max() >= self.num_users):
            raise ValueError(f"user ids must lie in [0, {self.num_users})")
        if n and (self.items.min() < 0 or self.items.max() >= self.num_items):
            raise ValueError(f"item ids must lie in [0, {self.num_items})")

    def __len__(self) -> int:
        return len(self.users)

    def to_csr(self) -> sp.csr_matrix:
        """Binary user × item matrix (num_users, num_items); repeated pairs count once."""
        data = np.ones(len(self), dtype=np.float32)
        matrix = sp.csr_matrix(
            (data, (self.users, self.items)), shape=(self.num_users, self.num_items)
        )
        matrix.data[:] = 1.0
        return matrix

    def subset(self, mask: np.ndarray) -> Interactions:
        """Rows selected by a boolean mask or an index array, same id spaces."""
        return replace(
            self,
            users=self.users[mask],
            items=self.items[mask],
            ratings=None if self.ratings is None else self.ratings[mask],
            timestamps=None if self.timestamps is None else self.timestamps[mask],
            stats={},
        )

    def item_popularity(self) -> np.ndarray:
        """(num_items,) number of events per item."""
        return np.bincount(self.items, minlength=self.num_items)

    def to_frame(self) -> pd.DataFrame:
        """Rows with original ids where known (columns user_id, item_id, rating?, timestamp?)."""
        frame = pd.DataFrame(
            {
                "user_id": self.users if self.user_ids is None else self.user_ids[self.users],
                "item_id": self.items if self.item_ids is None else self.item_ids[self.items],
            }
        )
        if self.ratings is not None:
            frame["rating"] = self.ratings
        if self.timestamps is not None:
            frame["timestamp"] = self.timestamps
        return frame


def from_frame(
    frame: pd.DataFrame,
    user_col: str = "user_id",
    item_col: str = "item_id",
    rating_col: str | None = "rating",
    time_col: str | None = "timestamp",
) -> Interactions:
    """Build Interactions from a validated frame, assigning contiguous ids in order of first appearance
    sorted by original id (so the same log always gets the same ids)."""
    user_ids, users = np.unique(frame[user_col].to_numpy(), return_inverse=True)
    item_ids, items = np.unique(frame[item_col].to_numpy(), return_inverse=True)
    ratings = None
    if rating_col is not None and rating_col in frame:
        ratings = frame[rating_col].to_numpy(dtype=np.float32)
    timestamps = None
    if time_col is not None and time_col in frame:
        timestamps = frame[time_col].to_numpy(dtype=np.int64)
    return Interactions(
        users=users.astype(np.int64),
        items=items.astype(np.int64),
        num_users=len(user_ids),
        num_items=len(item_ids),
        ratings=ratings,
        timestamps=timestamps,
        user_ids=user_ids,
        item_ids=item_ids,
        stats={"rows": len(frame)},
    )


def to_implicit(data: Interactions, threshold: float | None = None) -> Interactions:
    """Keep events with rating >= threshold (all when None) and drop repeated (user, item) pairs,
    keeping the earliest. Returns new Interactions re-indexed to the surviving users and items;
    ``stats`` counts what was dropped."""
    stats = dict(data.stats)
    keep = np.ones(len(data), dtype=bool)
    if threshold is not None:
        if data.ratings is None:
            raise ValueError("a rating threshold needs ratings, but this log has none")
        keep = data.ratings >= threshold
        stats["below_threshold"] = int((~keep).sum())
    frame = data.subset(keep).to_frame()
    if "timestamp" in frame:
        frame = frame.sort_values("timestamp", kind="stable")
    before = len(frame)
    frame = frame.drop_duplicates(["user_id", "item_id"], keep="first")
    stats["duplicates"] = before - len(frame)
    result = from_frame(frame)
    return replace(result, stats={**stats, "rows": len(result)})


def k_core(data: Interactions, user_k: int = 5, item_k: int = 5) -> Interactions:
    """Iteratively keep users with >= user_k and items with >= item_k events; re-indexes ids.
    ``stats`` records the rows, users and items removed."""
    users, items = data.users, data.items
    keep = np.ones(len(data), dtype=bool)
    while True:
        user_count = np.bincount(users[keep], minlength=data.num_users)
        item_count = np.bincount(items[keep], minlength=data.num_items)
        new_keep = keep & (user_count[users] >= user_k) & (item_count[items] >= item_k)
        if new_keep.sum() == keep.sum():
            break
        keep = new_keep
    frame = data.subset(keep).to_frame()
    result = from_frame(frame)
    stats = {
        **data.stats,
        "k_core_rows_removed": int(len(data) - keep.sum()),
        "k_core_users_removed": int(data.num_users - result.num_users),
        "k_core_items_removed": int(data.num_items - result.num_items),
        "rows": len(result),
    }
    return replace(result, stats=stats)
