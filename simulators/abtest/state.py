"""The state of an A/B run between rounds, saved after every round so that a stopped run continues.

One ``.npz`` file (numpy arrays only, read without pickle) holds the next round to simulate, the
per-(round, user) logs, each user's dry spell and seen items, each arm's exposure counts, each
learning policy's ``state()`` and a *fingerprint* of the arguments that shaped the run (seed, salt,
arms, users, rounds, k, patience, catalog, world): a file from a run with other arguments is
refused, naming what differs. Writes are atomic (``recsys.storage.atomic_path``): a run killed
while saving leaves the previous round's file.

Observers keep their own state: a stateful observer (creators adding items) is not restored here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recsys.storage import atomic_path

VERSION = 1
LOGS = ("impressions", "clicks", "diversity", "rating_sum")  # (T, U) per round and user


@dataclass
class LoopState:
    """Everything ``run_abtest`` carries from one round to the next."""

    next_round: int
    logs: dict[str, np.ndarray]  # name in LOGS -> (T, U)
    left_at: np.ndarray  # (U,) round the user left, -1 if active
    dry: np.ndarray  # (U,) rounds in a row without a click
    seen: list[list[int]]  # per user, items shown so far
    exposure: list[np.ndarray]  # per arm, (I,) times each item was shown (grows with the catalog)
    policies: list[dict[str, np.ndarray]] = field(default_factory=list)  # per arm, Learner.state()

    @classmethod
    def start(cls, rounds: int, num_users: int, num_items: int, arms: int) -> LoopState:
        logs = {name: np.zeros((rounds, num_users), dtype=np.int32) for name in ("impressions", "clicks")}
        logs["diversity"] = np.full((rounds, num_users), np.nan, dtype=np.float32)
        logs["rating_sum"] = np.zeros((rounds, num_users), dtype=np.float32)
        return cls(
            0,
            logs,
            np.full(num_users, -1, dtype=np.int64),
            np.zeros(num_users, dtype=np.int64),
            [[] for _ in range(num_users)],
            [np.zeros(num_items, dtype=np.int64) for _ in range(arms)],
        )


def digest(*parts: object) -> str:
    """sha256 of arrays (their dtype, shape and bytes) and other values (their repr)."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(f"{part.dtype}{part.shape}".encode())
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(repr(part).encode())
    return h.hexdigest()[:16]


def save_state(path: str | Path, state: LoopState, fingerprint: dict[str, object]) -> None:
    arrays: dict[str, np.ndarray] = {
        "meta": np.array(json.dumps({"version": VERSION, "fingerprint": fingerprint})),
        "next_round": np.array(state.next_round),
        "left_at": state.left_at,
        "dry": state.dry,
        "seen_counts": np.array([len(s) for s in state.seen], dtype=np.int64),
        "seen_items": np.array([i for s in state.seen for i in s], dtype=np.int64),
        **{f"log_{name}": state.logs[name] for name in LOGS},
        **{f"exposure_{a}": e for a, e in enumerate(state.exposure)},
    }
    for a, policy in enumerate(state.policies):
        arrays.update({f"policy_{a}_{key}": np.asarray(value) for key, value in policy.items()})
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)


def load_state(path: str | Path, fingerprint: dict[str, object]) -> LoopState | None:
    """The saved state, or None when ``path`` does not exist; a ValueError naming every argument
    that differs from the run that wrote it."""
    path = Path(path)
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as saved:
        meta = json.loads(str(saved["meta"]))
        if meta.get("version") != VERSION:
            raise ValueError(f"{path}: state version {meta.get('version')}, this code reads {VERSION}")
        before = meta["fingerprint"]
        differ = [
            f"{key} (saved {before.get(key)!r}, now {fingerprint.get(key)!r})"
            for key in sorted(set(before) | set(fingerprint))
            if before.get(key) != fingerprint.get(key)
        ]
        if differ:
            raise ValueError(
                f"{path}: written by a run with other arguments: {'; '.join(differ)}. "
                "Delete it or give another state_path to start afresh."
            )
        arms = len(fingerprint["arm_names"])  # type: ignore[arg-type]
        ends = np.cumsum(saved["seen_counts"])
        items = saved["seen_items"].tolist()
        seen = [
            items[end - n : end] for n, end in zip(saved["seen_counts"].tolist(), ends.tolist(), strict=True)
        ]
        policies = [
            {key.split("_", 2)[2]: saved[key] for key in saved.files if key.startswith(f"policy_{a}_")}
            for a in range(arms)
        ]
        return LoopState(
            int(saved["next_round"]),
            {name: saved[f"log_{name}"] for name in LOGS},
            saved["left_at"],
            saved["dry"],
            seen,
            [saved[f"exposure_{a}"] for a in range(arms)],
            policies,
        )
