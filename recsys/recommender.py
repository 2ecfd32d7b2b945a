"""A trained recommender as an application object: original ids in, original ids out.

Usable from the CLI, a web handler or a simulator loop alike: load once, then call
``recommend`` / ``similar_items``. Saved as one file (torch pickle, written atomically); load only
files you wrote yourself, as with any pickle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from recsys.evaluate import top_k
from recsys.storage import torch_save_atomic


@dataclass
class Recommender:
    """A fitted model plus what is needed to answer in original ids.

    Attributes:
        model: anything with ``scores(users) -> (B, I)`` and a ``metric`` ("ip" or "l2").
        known: (U, I) items each user already has (excluded from recommendations).
        user_ids: (U,) original user ids; item_ids: (I,) original item ids.
        protocol: how the model was trained and evaluated (data set, split, metrics, ...).
    """

    model: object
    known: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray
    protocol: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._user_index = {str(u): i for i, u in enumerate(self.user_ids)}
        self._item_index = {str(v): i for i, v in enumerate(self.item_ids)}

    def user_index(self, user_id: object) -> int:
        try:
            return self._user_index[str(user_id)]
        except KeyError:
            raise KeyError(f"unknown user {user_id!r}: not in the training log") from None

    def item_index(self, item_id: object) -> int:
        try:
            return self._item_index[str(item_id)]
        except KeyError:
            raise KeyError(f"unknown item {item_id!r}: not in the training log") from None

    def recommend(self, user_id: object, k: int = 10, exclude_known: bool = True) -> list[tuple[str, float]]:
        """The k best items for one user as (item_id, score), best first."""
        return self.recommend_many([user_id], k, exclude_known)[0]

    def recommend_many(
        self, user_ids: list[object], k: int = 10, exclude_known: bool = True
    ) -> list[list[tuple[str, float]]]:
        users = np.array([self.user_index(u) for u in user_ids], dtype=np.int64)
        items, scores = top_k(
            lambda u: self.model.scores(torch.from_numpy(u)),
            users,
            k,
            self.known if exclude_known else None,
        )
        return [
            [(str(self.item_ids[i]), float(s)) for i, s in zip(row_i, row_s, strict=True) if np.isfinite(s)]
            for row_i, row_s in zip(items, scores, strict=True)
        ]

    def similar_items(self, item_id: object, k: int = 10) -> list[tuple[str, float]]:
        """Items closest to one item in the model's item space (cosine for dot-product models,
        negative squared distance for metric models), the item itself excluded."""
        index = self.item_index(item_id)
        vectors = self.model.item_vectors().float()  # (I, d)
        if self.model.metric == "l2":
            scores = -(vectors - vectors[index]).pow(2).sum(1)
        else:
            normed = torch.nn.functional.normalize(vectors, dim=1)
            scores = normed @ normed[index]
        scores[index] = -torch.inf
        values, items = torch.topk(scores, min(k, len(scores) - 1))
        pairs = zip(items.tolist(), values.tolist(), strict=True)
        return [(str(self.item_ids[i]), float(v)) for i, v in pairs]

    def save(self, path: str | Path) -> Path:
        """Write atomically (temp file, then rename)."""
        state = {
            "model": self.model,
            "known": self.known,
            "user_ids": self.user_ids,
            "item_ids": self.item_ids,
            "protocol": self.protocol,
        }
        return torch_save_atomic(state, path)

    @classmethod
    def load(cls, path: str | Path) -> Recommender:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no saved recommender (run `alignrec train` first)")
        state = torch.load(path, weights_only=False)
        return cls(**state)
