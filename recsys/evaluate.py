"""Full-ranking evaluation: every user's relevant items are ranked against all items (or against a
given candidate set), with the user's known items (train, and valid at test time) masked out.

Batched over users so that ML-1M (6,040 users x 3,706 items) evaluates in about a second.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from recsys.data import Interactions
from recsys.metrics import METRICS

ScoreFn = Callable[[np.ndarray], np.ndarray | torch.Tensor]
"""Maps (B,) internal user ids to (B, num_items) scores, higher is better."""


@dataclass(frozen=True)
class EvalResult:
    metrics: dict[str, float]
    num_users: int
    seconds: float
    protocol: dict[str, object]


def mask_known(scores: torch.Tensor, users: np.ndarray, known: sp.csr_matrix | None) -> None:
    """Set scores of each user's known items to -inf, in place. scores: (B, I)."""
    if known is None:
        return
    rows = known[users]
    row_index = np.repeat(np.arange(len(users)), np.diff(rows.indptr))
    scores[torch.from_numpy(row_index), torch.from_numpy(rows.indices.astype(np.int64))] = -torch.inf


def top_k(
    score_fn: ScoreFn,
    users: np.ndarray,
    k: int,
    known: sp.csr_matrix | None = None,
    candidates: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k items and scores for a batch of users: (B, k) int64 items, (B, k) float32 scores.
    Masked or non-candidate positions come last with score -inf."""
    with torch.no_grad():
        scores = torch.as_tensor(score_fn(users), dtype=torch.float32).detach().clone()  # (B, I)
    mask_known(scores, users, known)
    if candidates is not None:
        allowed = torch.zeros(scores.shape[1], dtype=torch.bool)
        allowed[torch.from_numpy(candidates)] = True
        scores[:, ~allowed] = -torch.inf
    k = min(k, scores.shape[1])
    values, items = torch.topk(scores, k, dim=1)  # (B, k)
    return items.numpy(), values.numpy()


def evaluate_scores(
    score_fn: ScoreFn,
    test: Interactions,
    known: sp.csr_matrix | None,
    ks: Sequence[int] = (10, 20),
    batch_size: int = 2048,
    candidates: np.ndarray | None = None,
    protocol: dict[str, object] | None = None,
) -> EvalResult:
    """Recall, NDCG, Hit, MRR and Precision @k for each k, plus item coverage @k.

    Args:
        score_fn: scores for a batch of users (see ScoreFn).
        test: the held-out events; users without any are not evaluated.
        known: (U, I) items to exclude per user (train, plus valid when testing).
        ks: cut-offs.
        batch_size: users scored at once (memory is batch_size x num_items floats).
        candidates: restrict ranking to these items (e.g. cold-start items); None ranks all items.
        protocol: facts to record with the result (data set, split, filters, ...).
    """
    start = time.perf_counter()
    relevant = test.to_csr()
    if candidates is not None:
        keep = np.zeros(test.num_items, dtype=bool)
        keep[candidates] = True
        relevant = relevant.multiply(keep[None, :]).tocsr()
    relevant.eliminate_zeros()
    num_relevant = np.diff(relevant.indptr)
    users = np.flatnonzero(num_relevant > 0)
    max_k = max(ks)
    sums = {f"{name}@{k}": 0.0 for k in ks for name in METRICS}
    covered = {k: np.zeros(test.num_items, dtype=bool) for k in ks}
    for begin in range(0, len(users), batch_size):
        batch = users[begin : begin + batch_size]
        items, values = top_k(score_fn, batch, max_k, known, candidates)  # (B, K)
        dense = relevant[batch].toarray().astype(bool)  # (B, I)
        hits = np.take_along_axis(dense, items, axis=1)  # (B, K)
        hits &= np.isfinite(values)
        n_rel = num_relevant[batch]
        for k in ks:
            for name, fn in METRICS.items():
                sums[f"{name}@{k}"] += float(fn(hits, n_rel, k).sum())
            valid_items = items[:, :k][np.isfinite(values[:, :k])]
            covered[k][valid_items] = True
    n = max(len(users), 1)
    metrics = {key: value / n for key, value in sums.items()}
    pool = test.num_items if candidates is None else len(candidates)
    for k in ks:
        metrics[f"coverage@{k}"] = float(covered[k].sum() / max(pool, 1))
    recorded = {
        "candidates": "all items" if candidates is None else f"{len(candidates)} candidate items",
        "masked": "known items" if known is not None else "none",
        "ks": list(ks),
        **(protocol or {}),
    }
    return EvalResult(metrics, len(users), time.perf_counter() - start, recorded)
