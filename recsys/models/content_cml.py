"""Content-aware Collaborative Metric Learning, after Campo, Espinoza, Rieger and Taliyan,
"Collaborative Metric Learning Recommendation System: Application to Theatrical Movie Releases"
(2018), which places movies in a CML space from their text so that unreleased titles get a position.

Item positions are not free embeddings: x_i = clip(g(f_i)) where g is an MLP over the item's
content vectors (descriptions, images, attributes; each centred and L2-normalised, concatenated,
columns standardised) and clip keeps positions inside the unit ball. Users are free points in the
same ball. The objective is CML's (Hsieh et al., WWW 2017; covariance term from
``recsys.models.cml``): for an observed item i and N sampled items k, the rank-weighted hinge
w_ui [m + d(u, i)^2 - min_k d(u, k)^2]_+ plus covariance regularisation. A new item is placed by g
from its content alone; scores are -d(u, i)^2.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from recsys.models.cml import covariance_loss
from recsys.models.vbpr import modality_means, stack_features


def clip_to_ball(x: torch.Tensor) -> torch.Tensor:
    """Scale rows with norm > 1 back onto the unit sphere (the CML norm constraint)."""
    return x / x.norm(dim=-1, keepdim=True).clamp(min=1.0)


class ContentCML(nn.Module):
    metric = "l2"

    def __init__(
        self,
        num_users: int,
        num_items: int,
        features: Sequence[np.ndarray],
        dim: int = 64,
        hidden: int = 256,
        margin: float = 1.0,  # 1.0 beat 0.5 on cold validation items (Amazon Scientific)
        cov_weight: float = 1.0,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.num_users, self.num_items, self.dim = num_users, num_items, dim
        self.hidden, self.margin, self.cov_weight, self.dropout = hidden, margin, cov_weight, dropout
        # The catalog's statistics are kept so that items added later get the same transform.
        self.num_modalities = len(features)
        for m, mean in enumerate(modality_means(features)):
            self.register_buffer(f"mean_{m}", mean)  # (d_m,)
        stacked = stack_features(features, center=True, means=self._means())  # (I, F)
        # Unit-variance columns give the MLP inputs of norm ~sqrt(F), so items start spread apart.
        self.register_buffer("column_std", stacked.std(0).clamp(min=1e-6))  # (F,)
        self.register_buffer("features", stacked / self.column_std)
        self.item_net = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(self.features.shape[1], hidden),
            nn.LeakyReLU(),
            nn.Linear(hidden, dim),
        )
        self.user_embedding = nn.Embedding(num_users, dim, max_norm=1.0)
        nn.init.normal_(self.user_embedding.weight, std=1.0 / dim**0.5)

    def _means(self) -> list[torch.Tensor]:
        return [getattr(self, f"mean_{m}") for m in range(self.num_modalities)]

    def init_args(self) -> dict[str, object]:
        """Constructor arguments besides ``features`` (see ``recsys.artifact``)."""
        return {
            "num_users": self.num_users,
            "num_items": self.num_items,
            "dim": self.dim,
            "hidden": self.hidden,
            "margin": self.margin,
            "cov_weight": self.cov_weight,
            "dropout": self.dropout,
        }

    @torch.no_grad()
    def add_items(self, features: Sequence[np.ndarray]) -> None:
        """Append new items (one (n, d_m) matrix per modality), placed by the item network from
        their content with the training catalog's centring and scaling."""
        if [f.shape[1] for f in features] != [m.shape[0] for m in self._means()]:
            raise ValueError(
                f"features: widths {[f.shape[1] for f in features]}, the model was built on "
                f"{[m.shape[0] for m in self._means()]}"
            )
        new = stack_features(features, center=True, means=self._means()) / self.column_std  # (n, F)
        self.features = torch.cat([self.features, new])
        self.num_items += len(new)

    def item_positions(self, items: torch.Tensor | None = None) -> torch.Tensor:
        """(n, dim) positions of ``items`` (all items when None) from their content."""
        f = self.features if items is None else self.features[items]
        return clip_to_ball(self.item_net(f))

    def loss(self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        """users, pos: (B,); neg: (B, N) sampled items."""
        u = self.user_embedding(users)  # (B, d)
        positions = self.item_positions()  # (I, d): cheaper than one pass per (B + B*N) rows
        i = positions[pos]  # (B, d)
        k = positions[neg]  # (B, N, d)
        pos_dist = (u - i).pow(2).sum(-1)  # (B,)
        neg_dist = (u.unsqueeze(1) - k).pow(2).sum(-1)  # (B, N)
        hinge = torch.relu(self.margin + pos_dist - neg_dist.min(dim=1).values)  # (B,)
        with torch.no_grad():  # WARP-style rank estimate from the share of impostors
            impostors = (self.margin + pos_dist.unsqueeze(1) - neg_dist > 0).sum(1)  # (B,)
            weight = torch.log1p(torch.floor(self.num_items * impostors.float() / neg.shape[1]))
        cov = covariance_loss(torch.cat([u, i], dim=0))
        return (hinge * weight).mean() + self.cov_weight * cov

    def scores(self, users: torch.Tensor) -> torch.Tensor:
        u = self.user_embedding.weight[users]  # (B, d)
        return -torch.cdist(u, self.item_positions()).pow(2)  # (B, I)

    def user_vectors(self) -> torch.Tensor:
        return self.user_embedding.weight.detach()

    def item_vectors(self) -> torch.Tensor:
        return self.item_positions().detach()
