"""MostPopular: every user gets the items with the most training events."""

from __future__ import annotations

import numpy as np
import torch

from recsys.data import Interactions


class MostPopular:
    metric = "ip"

    def __init__(self, train: Interactions) -> None:
        self.num_users, self.num_items = train.num_users, train.num_items
        self.popularity = train.item_popularity().astype(np.float32)  # (I,)

    def init_args(self) -> dict[str, object]:
        """Constructor arguments besides ``train`` (none; see ``recsys.artifact``)."""
        return {}

    def scores(self, users: torch.Tensor) -> torch.Tensor:
        row = torch.from_numpy(self.popularity)
        return row.expand(len(users), -1)  # (B, I)

    def user_vectors(self) -> torch.Tensor:
        return torch.ones(self.num_users, 1)

    def item_vectors(self) -> torch.Tensor:
        return torch.from_numpy(self.popularity)[:, None]
