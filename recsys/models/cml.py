"""Collaborative Metric Learning (Hsieh et al., WWW 2017).

Users and items live in one Euclidean space, with norms clipped to <= 1: every row a batch looks up is
renormalised first (what ``nn.Embedding(max_norm=1)`` does, vectorised: the built-in renorms row by
row and made a step ~10x slower). For a user u, an observed item i and N sampled items k:

    L_m = sum w_ui * [m + d(u, i)^2 - min_k d(u, k)^2]_+            (eq. 3, hardest sampled impostor)
    w_ui = log(rank_ui + 1),  rank_ui ~ floor(J * M / N)                (WARP weighting, section 3.3)

where M counts impostors among the N samples (those inside the margin) and J is the number of items.
Covariance regularisation (section 3.4) de-correlates embedding dimensions, here over the batch's
user and positive-item rows: L_c = (||C||_F - ||diag C||_2^2) / B.
Scores are -d(u, i)^2, so FAISS indexes it with L2.
"""

from __future__ import annotations

import torch
from torch import nn


def covariance_loss(x: torch.Tensor) -> torch.Tensor:
    """Off-diagonal covariance of rows x (B, d), per the paper's L_c."""
    centered = x - x.mean(dim=0, keepdim=True)  # (B, d)
    cov = centered.T @ centered / len(x)  # (d, d)
    return (torch.linalg.norm(cov) - cov.diagonal().pow(2).sum()) / len(x)


class CML(nn.Module):
    metric = "l2"

    def __init__(
        self,
        num_users: int,
        num_items: int,
        dim: int = 64,
        margin: float = 1.0,
        cov_weight: float = 1.0,
        use_rank_weight: bool = True,
    ) -> None:
        super().__init__()
        self.num_users, self.num_items, self.dim = num_users, num_items, dim
        self.margin, self.cov_weight, self.use_rank_weight = margin, cov_weight, use_rank_weight
        self.user_embedding = nn.Embedding(num_users, dim)
        self.item_embedding = nn.Embedding(num_items, dim)
        nn.init.normal_(self.user_embedding.weight, std=1.0 / dim**0.5)
        nn.init.normal_(self.item_embedding.weight, std=1.0 / dim**0.5)

    def init_args(self) -> dict[str, object]:
        """Constructor arguments that rebuild this model (see ``recsys.artifact``)."""
        return {
            "num_users": self.num_users,
            "num_items": self.num_items,
            "dim": self.dim,
            "margin": self.margin,
            "cov_weight": self.cov_weight,
            "use_rank_weight": self.use_rank_weight,
        }

    @torch.no_grad()
    def clip_norms(self, users: torch.Tensor, items: torch.Tensor) -> None:
        """Rescale the given rows to norm <= 1, in place."""
        for table, index in ((self.user_embedding.weight, users), (self.item_embedding.weight, items)):
            index = index.unique()
            rows = table[index]  # (n, d)
            table[index] = rows / rows.norm(dim=1, keepdim=True).clamp(min=1.0)

    def loss(self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        """users, pos: (B,); neg: (B, N) sampled items (N around 10–20 for a useful rank estimate)."""
        self.clip_norms(users, torch.cat([pos, neg.reshape(-1)]))
        u = self.user_embedding(users)  # (B, d)
        i = self.item_embedding(pos)  # (B, d)
        k = self.item_embedding(neg)  # (B, N, d)
        pos_dist = (u - i).pow(2).sum(-1)  # (B,)
        # ||u - k||^2 expanded, so the (B, N, d) tensor is read once instead of materialising u - k
        cross = torch.einsum("bd,bnd->bn", u, k)  # (B, N)
        neg_dist = (u * u).sum(-1, keepdim=True) + (k * k).sum(-1) - 2 * cross  # (B, N)
        hinge = torch.relu(self.margin + pos_dist - neg_dist.min(dim=1).values)  # (B,)
        if self.use_rank_weight:
            with torch.no_grad():
                impostors = (self.margin + pos_dist.unsqueeze(1) - neg_dist > 0).sum(1)  # (B,)
                rank = torch.floor(self.num_items * impostors.float() / neg.shape[1])
                weight = torch.log1p(rank)
            hinge = hinge * weight
        cov = covariance_loss(torch.cat([u, i], dim=0))
        return hinge.mean() + self.cov_weight * cov

    def scores(self, users: torch.Tensor) -> torch.Tensor:
        u = self.user_embedding.weight[users]  # (B, d), no renorm on inference
        return -torch.cdist(u, self.item_embedding.weight).pow(2)  # (B, I)

    def user_vectors(self) -> torch.Tensor:
        return self.user_embedding.weight.detach()

    def item_vectors(self) -> torch.Tensor:
        return self.item_embedding.weight.detach()
