"""Seeded train/valid/test splits of one log, saved with a checksum so every model sees the same split.

Three protocols:
- ``random``: per user, a random ratio split (e.g. 80/10/10, as RecBole and MMRec do); each user with
  enough events gets at least one valid and one test event.
- ``loo``: leave-one-out by time: per user the last event is test, the second last valid.
- ``temporal``: one global time cut: the earliest fraction trains, the next validates, the rest tests.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from recsys.data import Interactions
from recsys.storage import atomic_path


@dataclass(frozen=True)
class Split:
    """Three parts of one log over the same id spaces, plus how they were made."""

    train: Interactions
    valid: Interactions
    test: Interactions
    protocol: dict[str, object]

    @property
    def checksum(self) -> str:
        """sha256 over the three parts' (user, item) arrays and the protocol."""
        digest = hashlib.sha256(json.dumps(self.protocol, sort_keys=True).encode())
        for part in (self.train, self.valid, self.test):
            digest.update(np.ascontiguousarray(part.users, dtype=np.int64).tobytes())
            digest.update(np.ascontiguousarray(part.items, dtype=np.int64).tobytes())
        return digest.hexdigest()

    def describe(self) -> str:
        return (
            f"{self.protocol.get('split')} split (seed {self.protocol.get('seed')}): "
            f"train {len(self.train)}, valid {len(self.valid)}, test {len(self.test)} events; "
            f"{self.train.num_users} users x {self.train.num_items} items; "
            f"checksum {self.checksum[:12]}"
        )


def _parts(data: Interactions, role: np.ndarray, protocol: dict[str, object]) -> Split:
    """role: (N,) 0 train, 1 valid, 2 test."""
    train, valid, test = (data.subset(role == r) for r in (0, 1, 2))
    return Split(train=train, valid=valid, test=test, protocol=protocol)


def _rank_within_user(users: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows sorted by ``order`` (users grouped), the 0-based rank of each row within its user
    and the user's row count, both aligned with the original row positions."""
    sorted_users = users[order]
    counts = np.bincount(users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank_sorted = np.arange(len(users)) - starts[sorted_users]
    rank = np.empty(len(users), dtype=np.int64)
    rank[order] = rank_sorted
    return rank, counts[users]


def random_split(
    data: Interactions, ratios: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 2026
) -> Split:
    """Per-user random split. For a user with n events, valid and test get floor(r * n) events each,
    rounded up to one when 0 < r * n < 1 as long as train keeps at least one event."""
    if len(ratios) != 3 or abs(sum(ratios) - 1) > 1e-6 or min(ratios) < 0:
        raise ValueError(f"ratios must be three non-negative numbers summing to 1, got {ratios}")
    rng = np.random.default_rng(seed)
    keys = rng.random(len(data))
    order = np.lexsort((keys, data.users))  # grouped by user, random within
    rank, n = _rank_within_user(data.users, order)
    n_valid = np.floor(ratios[1] * n).astype(np.int64)
    n_test = np.floor(ratios[2] * n).astype(np.int64)
    # Small users: give valid/test one event when their share is fractional, if train keeps >= 1.
    n_test = np.where((n_test == 0) & (ratios[2] > 0) & (n - n_valid >= 2), 1, n_test)
    n_valid = np.where((n_valid == 0) & (ratios[1] > 0) & (n - n_test >= 2), 1, n_valid)
    n_train = n - n_valid - n_test
    role = np.where(rank < n_train, 0, np.where(rank < n_train + n_valid, 1, 2))
    protocol = {"split": "random", "ratios": list(ratios), "seed": seed}
    return _parts(data, role, protocol)


def leave_one_out_split(data: Interactions, seed: int = 2026) -> Split:
    """Per user, by time: last event test, second last valid, the rest train. Users with one event
    keep it in train; with two, the second is test. Ties in time keep file order."""
    if data.timestamps is None:
        raise ValueError("leave-one-out by time needs timestamps, but this log has none")
    order = np.lexsort((np.arange(len(data)), data.timestamps, data.users))
    rank, n = _rank_within_user(data.users, order)
    from_end = n - 1 - rank
    role = np.zeros(len(data), dtype=np.int64)
    role[(from_end == 0) & (n >= 2)] = 2
    role[(from_end == 1) & (n >= 3)] = 1
    return _parts(data, role, {"split": "loo", "seed": seed})


def temporal_split(
    data: Interactions, ratios: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 2026
) -> Split:
    """Global time cut: events ordered by time (ties by file order); the first ratios[0] train,
    the next ratios[1] validate, the rest test."""
    if data.timestamps is None:
        raise ValueError("a temporal split needs timestamps, but this log has none")
    order = np.lexsort((np.arange(len(data)), data.timestamps))
    position = np.empty(len(data), dtype=np.int64)
    position[order] = np.arange(len(data))
    cut1 = int(round(ratios[0] * len(data)))
    cut2 = int(round((ratios[0] + ratios[1]) * len(data)))
    role = np.where(position < cut1, 0, np.where(position < cut2, 1, 2))
    return _parts(data, role, {"split": "temporal", "ratios": list(ratios), "seed": seed})


def save_split(split: Split, path: str | Path) -> Path:
    """Write the split (arrays, id maps, protocol, checksum) to one .npz file, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    for name in ("train", "valid", "test"):
        part: Interactions = getattr(split, name)
        arrays[f"{name}_users"] = part.users
        arrays[f"{name}_items"] = part.items
        if part.ratings is not None:
            arrays[f"{name}_ratings"] = part.ratings
        if part.timestamps is not None:
            arrays[f"{name}_timestamps"] = part.timestamps
    meta = {
        "protocol": split.protocol,
        "checksum": split.checksum,
        "num_users": split.train.num_users,
        "num_items": split.train.num_items,
    }
    arrays["meta"] = np.array(json.dumps(meta))
    if split.train.user_ids is not None:
        arrays["user_ids"] = split.train.user_ids.astype(str)
    if split.train.item_ids is not None:
        arrays["item_ids"] = split.train.item_ids.astype(str)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    return path


def load_split(path: str | Path) -> Split:
    """Read a split written by :func:`save_split`; raises ValueError when its checksum no longer matches."""
    path = Path(path)
    with np.load(path, allow_pickle=False) as archive:
        meta = json.loads(str(archive["meta"]))
        user_ids = archive["user_ids"] if "user_ids" in archive else None
        item_ids = archive["item_ids"] if "item_ids" in archive else None
        parts = {}
        for name in ("train", "valid", "test"):
            parts[name] = Interactions(
                users=archive[f"{name}_users"],
                items=archive[f"{name}_items"],
                num_users=meta["num_users"],
                num_items=meta["num_items"],
                ratings=archive[f"{name}_ratings"] if f"{name}_ratings" in archive else None,
                timestamps=archive[f"{name}_timestamps"] if f"{name}_timestamps" in archive else None,
                user_ids=user_ids,
                item_ids=item_ids,
            )
    split = Split(protocol=meta["protocol"], **parts)
    if split.checksum != meta["checksum"]:
        raise ValueError(f"{path}: checksum mismatch (file altered or written by another version)")
    return split


def with_protocol(split: Split, **extra: object) -> Split:
    """The same split with more protocol facts recorded (data set name, filters, ...)."""
    return replace(split, protocol={**split.protocol, **extra})


def make_split(
    data: Interactions,
    kind: str = "random",
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 2026,
) -> Split:
    """Split by protocol name: ``random``, ``loo`` or ``temporal``."""
    if kind == "random":
        return random_split(data, ratios, seed)
    if kind == "loo":
        return leave_one_out_split(data, seed)
    if kind == "temporal":
        return temporal_split(data, ratios, seed)
    raise ValueError(f"unknown split {kind!r}; choose random, loo or temporal")


def split_from_logs(paths: tuple[Path, Path, Path], columns: dict[str, str], sep: str | None = None) -> Split:
    """A split given as three logs (train, valid, test), e.g. the files another toolkit wrote.

    Each file is read with ``recsys.readers.read_interactions``'s column mapping; the three share
    one id map (users and items numbered over their union, sorted by original id), so a model
    trained on the first is evaluated on the others. Repeated (user, item) pairs within a file are
    kept as they are.
    """
    import pandas as pd

    from recsys.data import from_frame
    from recsys.readers import read_table

    if len(paths) != 3:
        raise ValueError(f"a split needs three files (train, valid, test), got {len(paths)}")
    frames = []
    for role, path in enumerate(paths):
        frame = read_table(path, columns, sep=sep).drop(columns="_line")
        frames.append(frame.assign(_role=role))
    frame = pd.concat(frames, ignore_index=True)
    data = from_frame(
        frame,
        user_col="user",
        item_col="item",
        rating_col="rating" if "rating" in frame else None,
        time_col="timestamp" if "timestamp" in frame else None,
    )
    files = [str(p) for p in paths]
    return _parts(data, frame["_role"].to_numpy(), {"split": "given files", "files": files, "seed": None})
