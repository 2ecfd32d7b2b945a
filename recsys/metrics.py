"""Ranking metrics for full-ranking evaluation: top-k item arrays and relevance in, floats out.

All functions take ``hits``: (U, K) booleans, ``hits[u, r]`` true when the item ranked r+1 for user u
is relevant, and ``num_relevant``: (U,) the user's number of relevant items. They return per-user
values (U,); callers average.
"""

from __future__ import annotations

import numpy as np


def recall_at_k(hits: np.ndarray, num_relevant: np.ndarray, k: int) -> np.ndarray:
    return hits[:, :k].sum(axis=1) / np.maximum(num_relevant, 1)


def precision_at_k(hits: np.ndarray, num_relevant: np.ndarray, k: int) -> np.ndarray:
    return hits[:, :k].sum(axis=1) / k


def hit_at_k(hits: np.ndarray, num_relevant: np.ndarray, k: int) -> np.ndarray:
    return hits[:, :k].any(axis=1).astype(np.float64)


def mrr_at_k(hits: np.ndarray, num_relevant: np.ndarray, k: int) -> np.ndarray:
    """Reciprocal rank of the first relevant item within the top k (0 when none)."""
    top = hits[:, :k]
    first = top.argmax(axis=1)
    return np.where(top.any(axis=1), 1.0 / (first + 1), 0.0)


def ndcg_at_k(hits: np.ndarray, num_relevant: np.ndarray, k: int) -> np.ndarray:
    """Binary-relevance NDCG: DCG of the top k over the DCG of an ideal list of min(k, n) hits."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))  # (K,)
    dcg = (hits[:, :k] * discounts[: hits[:, :k].shape[1]]).sum(axis=1)
    ideal_cumulative = np.concatenate([[0.0], np.cumsum(discounts)])
    idcg = ideal_cumulative[np.minimum(num_relevant, k)]
    return np.where(idcg > 0, dcg / np.maximum(idcg, 1e-12), 0.0)


METRICS = {
    "recall": recall_at_k,
    "ndcg": ndcg_at_k,
    "hit": hit_at_k,
    "mrr": mrr_at_k,
    "precision": precision_at_k,
}
