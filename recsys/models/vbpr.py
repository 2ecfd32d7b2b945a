"""VBPR: Visual Bayesian Personalised Ranking (He & McAuley, AAAI 2016), over any item features.

    score(u, i) = b_i + <gamma_u, gamma_i> + <theta_u, E f_i> + <beta', f_i>

with f_i the concatenated (L2-normalised) modality features of item i, E a learned projection to
``content_dim`` and beta' a global content bias; trained with BPR and L2 on the batch embeddings.
This is the simple multimodal baseline CM³ is measured against. Items without interactions (cold
start) have no usable ID part: ``id_items`` marks the items whose ID terms are used; the others are
scored by the content terms alone ("VBPR's content part").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def modality_means(features: Sequence[np.ndarray]) -> list[torch.Tensor]:
    """Each modality's mean over its non-missing (non-zero) rows: [(d_m,)] float32."""
    means = []
    for f in features:
        x = torch.as_tensor(f, dtype=torch.float32)
        means.append(x[x.abs().sum(1) > 0].mean(0))
    return means


def stack_features(
    features: Sequence[np.ndarray], center: bool = False, means: Sequence[torch.Tensor] | None = None
) -> torch.Tensor:
    """Row-normalise each modality and concatenate: (I, sum d_m) float32.

    ``center`` first subtracts each modality's mean over the non-missing items: pretrained features
    share a large common direction (cosines of 0.8 between unrelated items), which would make a
    network's initial outputs nearly identical for every item. ``means`` gives those means (from
    :func:`modality_means` of the training catalog) so that items added later are centred alike.
    """
    if center and means is None:
        means = modality_means(features)
    parts = []
    for m, f in enumerate(features):
        x = torch.as_tensor(f, dtype=torch.float32)
        if center:
            present = x.abs().sum(1) > 0  # missing rows stay zero
            x = torch.where(present[:, None], x - means[m], x)
        parts.append(F.normalize(x, dim=1))
    return torch.cat(parts, dim=1)


class VBPR(nn.Module):
    metric = "ip"

    def __init__(
        self,
        num_users: int,
        num_items: int,
        features: Sequence[np.ndarray],
        dim: int = 64,
        content_dim: int = 64,
        reg: float = 1e-4,
        id_items: np.ndarray | None = None,
    ) -> None:
        super().__init__()
        self.num_users, self.num_items, self.dim, self.reg = num_users, num_items, dim, reg
        self.content_dim = content_dim
        self.register_buffer("features", stack_features(features))  # (I, F)
        mask = np.ones(num_items, dtype=bool) if id_items is None else np.asarray(id_items, dtype=bool)
        self.register_buffer("id_mask", torch.from_numpy(mask.astype(np.float32))[:, None])  # (I, 1)
        self.user_embedding = nn.Embedding(num_users, dim)
        self.item_embedding = nn.Embedding(num_items, dim)
        self.user_content = nn.Embedding(num_users, content_dim)
        self.item_bias = nn.Embedding(num_items, 1)
        self.projection = nn.Linear(self.features.shape[1], content_dim, bias=False)
        self.content_bias = nn.Linear(self.features.shape[1], 1, bias=False)
        for table in (self.user_embedding, self.item_embedding, self.user_content):
            nn.init.xavier_normal_(table.weight)
        nn.init.zeros_(self.item_bias.weight)
        nn.init.zeros_(self.content_bias.weight)

    def init_args(self) -> dict[str, object]:
        """Constructor arguments besides ``features`` (see ``recsys.artifact``)."""
        return {
            "num_users": self.num_users,
            "num_items": self.num_items,
            "dim": self.dim,
            "content_dim": self.content_dim,
            "reg": self.reg,
            "id_items": self.id_mask[:, 0].numpy() > 0,
        }

    @torch.no_grad()
    def add_items(self, features: Sequence[np.ndarray]) -> None:
        """Append new items from their content (one (n, d_m) matrix per modality); they have no ID
        part, so they are scored by the content terms alone, as cold items are."""
        new = stack_features(features)  # (n, F)
        if new.shape[1] != self.features.shape[1]:
            raise ValueError(
                f"features: {new.shape[1]} columns in all, the model was built on {self.features.shape[1]}"
            )
        n = len(new)
        self.features = torch.cat([self.features, new])
        self.id_mask = torch.cat([self.id_mask, torch.zeros(n, 1)])
        for name in ("item_embedding", "item_bias"):
            table = getattr(self, name)
            grown = nn.Embedding(self.num_items + n, table.embedding_dim)
            grown.weight.zero_()
            grown.weight[: self.num_items] = table.weight
            setattr(self, name, grown)
        self.num_items += n

    def _item_parts(self, items: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """ID part [gamma_i; b_i] (n, d+1) and content part [E f_i; beta' f_i] (n, c+1)."""
        f = self.features if items is None else self.features[items]
        mask = self.id_mask if items is None else self.id_mask[items]
        ids = self.item_embedding.weight if items is None else self.item_embedding(items)
        bias = self.item_bias.weight if items is None else self.item_bias(items)
        id_part = torch.cat([ids, bias], dim=-1) * mask  # (n, d+1)
        content = torch.cat([self.projection(f), self.content_bias(f)], dim=-1)  # (n, c+1)
        return id_part, content

    def _user_parts(self, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ones = torch.ones(len(users), 1)
        id_part = torch.cat([self.user_embedding(users), ones], dim=-1)  # (B, d+1)
        content = torch.cat([self.user_content(users), ones], dim=-1)  # (B, c+1)
        return id_part, content

    def loss(self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        """users, pos: (B,); neg: (B, N). Mean BPR loss plus L2 on the batch's embeddings."""
        u_id, u_content = self._user_parts(users)
        i_id, i_content = self._item_parts(pos)
        j_id, j_content = self._item_parts(neg.reshape(-1))
        n = neg.shape[1]
        pos_score = (u_id * i_id).sum(-1) + (u_content * i_content).sum(-1)  # (B,)
        j_id = j_id.view(len(users), n, -1)
        j_content = j_content.view(len(users), n, -1)
        neg_score = torch.einsum("bd,bnd->bn", u_id, j_id) + torch.einsum("bc,bnc->bn", u_content, j_content)
        ranking = -F.logsigmoid(pos_score[:, None] - neg_score).mean()
        l2 = (
            self.user_embedding(users).pow(2).sum()
            + self.user_content(users).pow(2).sum()
            + self.item_embedding(pos).pow(2).sum()
            + self.item_embedding(neg).pow(2).sum() / n
            + self.projection.weight.pow(2).sum()
        ) / len(users)
        return ranking + self.reg * l2

    def scores(self, users: torch.Tensor) -> torch.Tensor:
        u_id, u_content = self._user_parts(users)
        i_id, i_content = self._item_parts()
        return u_id @ i_id.T + u_content @ i_content.T  # (B, I)

    def user_vectors(self) -> torch.Tensor:
        users = torch.arange(self.num_users)
        return torch.cat(self._user_parts(users), dim=1).detach()

    def item_vectors(self) -> torch.Tensor:
        return torch.cat(self._item_parts(), dim=1).detach()
