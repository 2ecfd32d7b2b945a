"""Re-rank retrieval candidates with LightGBM LambdaRank (``lightgbm.LGBMRanker``).

Retrieval (a FAISS index or a model's full-ranking scores) proposes C candidates per user; the
ranker learns from features of each (user, candidate) pair which candidates the user goes on to
interact with. LambdaRank (Burges, "From RankNet to LambdaRank to LambdaMART", 2010) weights each
pairwise gradient by the change in NDCG that swapping the pair would cause, so training optimises
the top of the list directly.

Arrays: ``candidates`` (Q, C) item ids, ``scores`` (Q, C) retrieval scores (higher is better),
``features`` (Q, C, F), ``labels`` (Q, C) 0/1. Every query has the same C candidates slots, so
LightGBM's query groups are ``[C] * Q``.
"""

from __future__ import annotations

import lightgbm
import numpy as np
import scipy.sparse as sp

FEATURE_NAMES = ["retrieval_score", "retrieval_rank", "item_popularity", "user_activity"]


def candidate_features(
    candidates: np.ndarray,
    scores: np.ndarray,
    item_popularity: np.ndarray,
    user_activity: np.ndarray,
) -> np.ndarray:
    """(Q, C, 4) features: retrieval score and rank, log item popularity, log user activity.

    Args:
        candidates: (Q, C) item ids, best retrieval score first.
        scores: (Q, C) retrieval scores.
        item_popularity: (I,) training interactions per item.
        user_activity: (Q,) training interactions of each query's user.
    """
    candidates = np.asarray(candidates)
    if candidates.ndim != 2 or scores.shape != candidates.shape:
        raise ValueError(f"candidates {candidates.shape} and scores {scores.shape} must be equal (Q, C)")
    if (candidates < 0).any():
        raise ValueError("candidates: -1 entries (exhausted search); ask the index for fewer candidates")
    num_queries, num_candidates = candidates.shape
    rank = np.broadcast_to(np.arange(num_candidates, dtype=np.float32), candidates.shape)
    popularity = np.log1p(np.asarray(item_popularity, dtype=np.float32)[candidates])  # (Q, C)
    activity = np.broadcast_to(
        np.log1p(np.asarray(user_activity, dtype=np.float32))[:, None], candidates.shape
    )
    return np.stack([scores.astype(np.float32), rank, popularity, activity], axis=-1)


def candidate_labels(candidates: np.ndarray, relevant: sp.spmatrix) -> np.ndarray:
    """(Q, C) 1 where the candidate is among the query user's relevant items (row of ``relevant``)."""
    relevant = sp.csr_array(relevant)
    rows = np.repeat(np.arange(len(candidates)), candidates.shape[1])
    return (relevant[rows, candidates.ravel()] > 0).reshape(candidates.shape).astype(np.int32)


def fit_ranker(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    num_rounds: int = 200,
    learning_rate: float = 0.05,
    num_leaves: int = 31,
    min_child_samples: int = 20,
    seed: int = 0,
    threads: int = 1,
    feature_names: list[str] | None = None,
) -> lightgbm.LGBMRanker:
    """Train a LambdaRank model on (Q, C, F) features and (Q, C) 0/1 labels."""
    num_queries, num_candidates, num_features = features.shape
    if labels.shape != (num_queries, num_candidates):
        raise ValueError(f"labels {labels.shape} do not match features {features.shape[:2]}")
    ranker = lightgbm.LGBMRanker(
        objective="lambdarank",
        n_estimators=num_rounds,
        learning_rate=learning_rate,
        num_leaves=num_leaves,
        min_child_samples=min_child_samples,
        random_state=seed,
        n_jobs=threads,
        verbose=-1,
    )
    ranker.fit(
        features.reshape(-1, num_features),
        labels.reshape(-1),
        group=[num_candidates] * num_queries,
        feature_name=feature_names or (FEATURE_NAMES if num_features == len(FEATURE_NAMES) else "auto"),
    )
    return ranker


def rerank(
    ranker: lightgbm.LGBMRanker, features: np.ndarray, candidates: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Candidates (Q, C) reordered by the ranker's scores, best first, and those scores (Q, C)."""
    num_queries, num_candidates, num_features = features.shape
    # The booster takes a plain array; the sklearn wrapper would warn that it has no feature names.
    predicted = ranker.booster_.predict(features.reshape(-1, num_features))
    predicted = predicted.reshape(num_queries, num_candidates)
    order = np.argsort(-predicted, axis=1, kind="stable")
    return np.take_along_axis(candidates, order, axis=1), np.take_along_axis(predicted, order, axis=1)
