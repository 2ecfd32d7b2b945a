"""CM³: Calibrating Multimodal Recommendation (Zhou, Wang, Shen, arXiv 2508.01226, 2025).

Objective (users and items on the unit hypersphere, t the uniformity temperature):

    L = L_align + gamma * (L_unif(users) + L_cunif(items)) / 2
    L_align  = E_(u,i) ||u - i||^2                                      alignment
    L_unif   = log E_(a,b) exp(-t ||u_a - u_b||^2)                      uniformity of batch users
    L_cunif  = log E_(a,b) exp(-t (||x_a - x_b||^2 - 2 + 2 s_ab))       calibrated uniformity

where s_ab = clamp(cos(m_a, m_b), min_sim, max_sim) is the similarity of the items' fused multimodal
features m. Since ||x_a - x_b||^2 = 2 - 2 cos(x_a, x_b), the exponent is 2t (cos(x_a, x_b) - s_ab):
pairs of items with dissimilar content get the largest weight in the log-sum-exp, so the repulsion
between dissimilar items is stronger and similar items may stay close. ``calibrated=False`` drops
s_ab (plain uniformity, the ablation). The batch items are the sampled negatives, as in the paper.

Spherical Bézier fusion: each modality m is projected (linear, d) and normalised to a control point
P_m on the sphere; the fused point is the spherical de Casteljau recursion
P^(r)_k = slerp(P^(r-1)_k, P^(r-1)_(k+1), tau) down to one point, so any number of modalities lands
on the same hypersphere (two modalities: one slerp). tau ~ Beta(alpha, alpha) per item while
training (a mixing augmentation); ``fusion="concat"`` instead projects the concatenated features
(the ablation).

Network (as in the authors' public code, github.com/enoche/CM3, read for facts only): items have
no ID embedding, so a new item gets a vector from its content alone. Per modality an MLP
(d_m -> 4d -> d) gives the item's branch input and each user has a free preference vector per
branch; a shared branch pairs a user ID vector with the fused feature. The M+1 normalised branches
are concatenated and propagated over the user-item graph (LightGCN, sum over layers); item vectors
then add one hop over a k-nearest-neighbour item-item graph built from the raw features; user
branches are weighted by a per-user softmax over branches.

Scoring: the loss trains the normalised vectors, but the authors' code ranks with the unnormalised
propagated ones (user branches weighted by the softmax, item vectors after the item-item hop), whose
norms grow with an item's degree and so carry popularity. ``CM3Config.normalize_scores=False`` does
the same; on the Amazon Scientific warm split it was chosen on validation NDCG@20 (0.1307 against
0.1150 with cosine scores, one seed); ``True`` (the default, kept for compatibility) ranks by cosine.

Deviations from the authors' code: (1) at evaluation tau is fixed to 0.5 (the Beta mean) rather than
drawn at random; (2) the item-item graph weights modalities equally (the code uses 0.1 image /
0.9 text); (3) squared distances are computed as 2 - 2 cos on normalised vectors, over all distinct
pairs of the batch; (4) s_ab is treated as a constant (detached) in the calibrated term.
``CM3Config.id_branch`` (off by default) adds an item-ID branch; it is our extension, not the paper's.

Equations are given by name rather than by the paper's numbers: only the abstract and the authors'
code could be read here (no network access to the full text), and the forms above follow them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from recsys.models.lightgcn import SymmetricSpmm, normalized_adjacency, pad_adjacency


@dataclass
class CM3Config:
    dim: int = 64  # width of each branch (users and items are (M + 1) * dim wide)
    num_layers: int = 3  # LightGCN layers over the user-item graph
    knn_k: int = 10  # neighbours per item in the item-item feature graph
    item_layers: int = 1  # hops over the item-item graph
    gamma: float = 0.5  # weight of the uniformity terms
    temperature: float = 2.0  # t in the uniformity kernels
    min_sim: float = 0.0  # clamp of the calibration similarity s_ab
    max_sim: float = 1.0
    alpha: float = 0.5  # Beta(alpha, alpha) of the Bezier parameter tau
    calibrated: bool = True  # False: plain uniformity on items (ablation)
    fusion: str = "bezier"  # "bezier" or "concat" (ablation)
    id_branch: bool = False  # add an item-ID branch (our extension, not in the paper; warm items only)
    normalize_scores: bool = True  # False: score with the unnormalised propagated vectors (authors' code)


def slerp(p: torch.Tensor, q: torch.Tensor, tau: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Spherical interpolation between unit rows p, q (N, d) at tau (N, 1); tau=0 gives p."""
    cos = (p * q).sum(-1, keepdim=True).clamp(-1 + eps, 1 - eps)  # (N, 1)
    theta = torch.acos(cos)
    sin = torch.sin(theta)
    return (torch.sin((1 - tau) * theta) * p + torch.sin(tau * theta) * q) / sin  # (N, d)


def spherical_bezier(points: Sequence[torch.Tensor], tau: torch.Tensor) -> torch.Tensor:
    """De Casteljau on the sphere: unit control points [(N, d)] * M -> (N, d) unit point."""
    level = list(points)
    while len(level) > 1:
        level = [slerp(a, b, tau) for a, b in zip(level[:-1], level[1:], strict=True)]
    return F.normalize(level[0], dim=-1)


def knn_graph(features: Sequence[np.ndarray], k: int) -> sp.csr_matrix:
    """(I, I) k-nearest-neighbour graph (cosine, self included) per modality, rows averaging the
    neighbours, then averaged over modalities."""
    graphs = []
    for matrix in features:
        x = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        sim = x @ x.T  # (I, I)
        top = np.argpartition(-sim, min(k, len(x) - 1), axis=1)[:, :k]  # (I, k), includes self
        rows = np.repeat(np.arange(len(x)), top.shape[1])
        adj = sp.csr_matrix((np.ones(rows.size, np.float32), (rows, top.ravel())), shape=sim.shape)
        graphs.append(adj / top.shape[1])  # every row has k entries: the mean over neighbours
    return (sum(graphs) / len(graphs)).tocsr().astype(np.float32)


class CM3(nn.Module):
    metric = "ip"

    def __init__(
        self,
        num_users: int,
        num_items: int,
        train_csr: sp.csr_matrix,
        features: Sequence[np.ndarray],
        config: CM3Config | None = None,
    ) -> None:
        """features: one (num_items, d_m) float matrix per modality (rows of missing inputs zero)."""
        super().__init__()
        config = config or CM3Config()
        if config.fusion not in ("bezier", "concat"):
            raise ValueError(f"fusion must be 'bezier' or 'concat', got {config.fusion!r}")
        if train_csr.shape != (num_users, num_items):
            raise ValueError(f"train matrix shape {train_csr.shape} != ({num_users}, {num_items})")
        for m, matrix in enumerate(features):
            if matrix.shape[0] != num_items:
                raise ValueError(f"features[{m}] has {matrix.shape[0]} rows, expected {num_items}")
        self.num_users, self.num_items, self.config = num_users, num_items, config
        self.num_modalities = len(features)
        d = config.dim
        for m, matrix in enumerate(features):
            self.register_buffer(f"feature_{m}", torch.as_tensor(matrix, dtype=torch.float32))
        self.branch_mlps = nn.ModuleList(
            nn.Sequential(nn.Linear(f.shape[1], 4 * d), nn.LeakyReLU(), nn.Linear(4 * d, d, bias=False))
            for f in features
        )
        if config.fusion == "bezier":
            self.fusion_proj = nn.ModuleList(nn.Linear(f.shape[1], d) for f in features)
        else:
            self.fusion_proj = nn.ModuleList([nn.Linear(sum(f.shape[1] for f in features), d)])
        for layer in self.fusion_proj:
            nn.init.xavier_normal_(layer.weight)
        branches = self.num_modalities + 1 + int(config.id_branch)
        if config.id_branch:
            # Items with no training event keep a zero ID vector, so cold items still rank by content.
            self.item_id_embedding = nn.Parameter(torch.zeros(num_items, d))
            nn.init.xavier_normal_(self.item_id_embedding)
            warm = np.asarray(train_csr.sum(axis=0)).ravel() > 0
            self.register_buffer("warm_mask", torch.from_numpy(warm.astype(np.float32))[:, None])
        self.user_preference = nn.Parameter(torch.empty(num_users, branches, d))  # (U, M+1, d)
        nn.init.xavier_normal_(self.user_preference)
        self.branch_logits = nn.Parameter(torch.empty(num_users, branches, 1))  # (U, M+1, 1)
        nn.init.xavier_normal_(self.branch_logits)
        self.register_buffer("adjacency", normalized_adjacency(train_csr), persistent=False)
        self.register_buffer("item_graph", _item_graph(features, config.knn_k), persistent=False)
        self._cache: tuple[torch.Tensor, torch.Tensor] | None = None

    def features(self) -> list[torch.Tensor]:
        return [getattr(self, f"feature_{m}") for m in range(self.num_modalities)]

    def init_args(self) -> dict[str, object]:
        """Constructor arguments besides ``train_csr`` and ``features`` (see ``recsys.artifact``)."""
        return {"num_users": self.num_users, "num_items": self.num_items, "config": asdict(self.config)}

    @torch.no_grad()
    def add_items(self, features: Sequence[np.ndarray]) -> None:
        """Append new items from their content (one (n, d_m) matrix per modality) without training.

        Items have no ID embedding, so a new item's branches come from its features; it has no
        user-item edges (the graph gains isolated nodes) and the item-item k-NN graph is rebuilt
        over the grown catalog, as the constructor would build it. Old items' vectors can change
        where a new item enters their neighbourhood. The rebuild is O(I^2) in the catalog size.
        """
        if self.config.id_branch:
            raise ValueError("CM3 with id_branch=True has per-item ID vectors: retrain to add items")
        if len(features) != self.num_modalities:
            raise ValueError(
                f"features: {len(features)} modalities given, the model has {self.num_modalities}"
            )
        n = len(features[0])
        for m, matrix in enumerate(features):
            old = getattr(self, f"feature_{m}")
            if matrix.shape != (n, old.shape[1]):
                raise ValueError(f"features[{m}]: expected shape ({n}, {old.shape[1]}), got {matrix.shape}")
            setattr(self, f"feature_{m}", torch.cat([old, torch.as_tensor(matrix, dtype=torch.float32)]))
        self.adjacency = pad_adjacency(self.adjacency, n)
        self.item_graph = _item_graph([f.numpy() for f in self.features()], self.config.knn_k)
        self.num_items += n
        self._cache = None

    def train(self, mode: bool = True) -> CM3:
        self._cache = None
        return super().train(mode)

    def fused(self) -> torch.Tensor:
        """(I, d) unit vectors fusing all modalities (Bezier or concatenation)."""
        features = self.features()
        if self.config.fusion == "concat":
            return F.normalize(self.fusion_proj[0](torch.cat(features, dim=1)), dim=-1)
        points = [F.normalize(proj(f), dim=-1) for proj, f in zip(self.fusion_proj, features, strict=True)]
        if self.training:
            beta = torch.distributions.Beta(self.config.alpha, self.config.alpha)
            tau = beta.sample((self.num_items, 1))  # (I, 1)
        else:
            tau = torch.full((self.num_items, 1), 0.5)
        return spherical_bezier(points, tau)

    def propagate(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Unnormalised user (U, D) and item (I, D) vectors, D = (M+1) d, and the fused features (I, d)."""
        fused = self.fused()
        item_branches = [mlp(f) for mlp, f in zip(self.branch_mlps, self.features(), strict=True)]
        item_branches.append(fused)
        if self.config.id_branch:
            item_branches.append(self.item_id_embedding * self.warm_mask)
        items = torch.cat([F.normalize(b, dim=-1) for b in item_branches], dim=1)  # (I, D)
        users = F.normalize(self.user_preference, dim=-1).flatten(1)  # (U, D)
        x = torch.cat([users, items], dim=0)  # (U+I, D)
        out = x
        for _ in range(self.config.num_layers):
            x = SymmetricSpmm.apply(self.adjacency, x)
            out = out + x
        user_rep, item_rep = out[: self.num_users], out[self.num_users :]
        h = item_rep
        for _ in range(self.config.item_layers):
            h = torch.sparse.mm(self.item_graph, h)  # (I, D)
        item_rep = item_rep + h
        weights = torch.softmax(self.branch_logits, dim=1)  # (U, M+1, 1)
        user_rep = (user_rep.view(self.num_users, -1, self.config.dim) * weights).flatten(1)
        return user_rep, item_rep, fused

    def loss(self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        """users, pos: (B,); neg: (B, N). Alignment + gamma * (user + calibrated item uniformity) / 2."""
        user_rep, item_rep, fused = self.propagate()
        user_rep, item_rep = F.normalize(user_rep, dim=-1), F.normalize(item_rep, dim=-1)
        u, i = user_rep[users], item_rep[pos]  # (B, D)
        align = (u - i).pow(2).sum(-1).mean()
        negatives = neg.reshape(-1)
        x = item_rep[negatives]  # (B*N, D)
        t = self.config.temperature
        unif_u = _log_mean_exp_pairs(-t * (2 - 2 * u @ u.T))  # (B, B) kernel of user pairs
        exponent = -t * (2 - 2 * x @ x.T)  # (B*N, B*N)
        if self.config.calibrated:
            f = fused[negatives]  # (B*N, d)
            sim = (f @ f.T).clamp(self.config.min_sim, self.config.max_sim)
            exponent = exponent - t * (2 * sim.detach() - 2)
        unif_i = _log_mean_exp_pairs(exponent)
        return align + self.config.gamma * (unif_u + unif_i) / 2

    def _embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training or self._cache is None:
            with torch.set_grad_enabled(self.training):
                user_rep, item_rep, _ = self.propagate()
            if self.config.normalize_scores:
                user_rep, item_rep = F.normalize(user_rep, dim=-1), F.normalize(item_rep, dim=-1)
            if self.training:
                return user_rep, item_rep
            self._cache = user_rep, item_rep
        return self._cache

    def scores(self, users: torch.Tensor) -> torch.Tensor:
        user_rep, item_rep = self._embeddings()
        return user_rep[users] @ item_rep.T  # (B, I)

    def user_vectors(self) -> torch.Tensor:
        return self._embeddings()[0].detach()

    def item_vectors(self) -> torch.Tensor:
        return self._embeddings()[1].detach()


def _item_graph(features: Sequence[np.ndarray], k: int) -> torch.Tensor:
    """:func:`knn_graph` as a coalesced torch sparse COO matrix."""
    graph = knn_graph(features, k).tocoo()
    return torch.sparse_coo_tensor(np.vstack([graph.row, graph.col]), graph.data, graph.shape).coalesce()


def _log_mean_exp_pairs(matrix: torch.Tensor) -> torch.Tensor:
    """log of the mean of exp over the off-diagonal entries of a symmetric (n, n) matrix, i.e. over
    all distinct pairs (masking the diagonal is cheaper than gathering the upper triangle)."""
    n = matrix.shape[0]
    eye = torch.eye(n, dtype=torch.bool)
    return torch.logsumexp(matrix.masked_fill(eye, -torch.inf).flatten(), dim=0) - np.log(max(n * (n - 1), 1))
