"""Features of (user, candidate) pairs for the second stage of two-stage ranking.

The retrievers' own opinions (each one's score, rank, gap to its best candidate, how many proposed
the item) are joined by what none of them models directly: item popularity and mean rating, the
user's activity and rating habits, the user's genre shares against the item's genres, the item's
release year against the years the user watches, and the similarity of the item to the user's own
items (cosine of item vectors, max and mean). ML-1M in the shared data has no timestamps, so
"the user's items" are all their training items, not the most recent ones.

:class:`FeatureTables` holds the per-item and per-user arrays, built once from the training log
and the catalog, aligned with the retrievers' internal indices, and saved with the ranker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import scipy.sparse as sp

from recsys.candidates import Candidates
from recsys.data import Interactions

COMMON_FEATURES = (
    "num_sources",  # how many retrievers proposed the item
    "item_log_popularity",
    "item_mean_rating",
    "item_year",
    "user_log_activity",
    "user_mean_rating",
    "rating_gap",  # item mean rating - user mean rating
    "genre_affinity",  # mean share of the user's items in the item's genres
    "genre_affinity_max",
    "genre_lift",  # genre_affinity relative to the catalog's genre shares
    "year_gap",  # item year - mean year of the user's items
    "year_z",  # year_gap / (std of the user's years + 1)
    "cosine_max",  # max cosine of the item's vector to the user's items' vectors
    "cosine_mean",
)
PER_SOURCE = ("score", "rank", "score_gap")  # score_gap: score - the user's best candidate score


def feature_names(sources: Sequence[str]) -> list[str]:
    """Column names of :func:`candidate_features` for these retrievers."""
    return [f"{s}_{f}" for s in sources for f in PER_SOURCE] + list(COMMON_FEATURES)


@dataclass(frozen=True)
class FeatureTables:
    """Per-item (I, ...) and per-user (U, ...) arrays the features read (float32)."""

    item_popularity: np.ndarray  # (I,) training interactions
    item_mean_rating: np.ndarray  # (I,) 0 where the item has none
    item_genres: np.ndarray  # (I, G) multi-hot
    item_year: np.ndarray  # (I,) 0 where unknown
    item_vectors: np.ndarray  # (I, d) unit rows (a retriever's item vectors)
    genre_share: np.ndarray  # (G,) share of training interactions per genre
    user_activity: np.ndarray  # (U,)
    user_mean_rating: np.ndarray  # (U,)
    user_genres: np.ndarray  # (U, G) share of the user's training items per genre
    user_year_mean: np.ndarray  # (U,)
    user_year_std: np.ndarray  # (U,)

    def arrays(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> FeatureTables:
        return cls(**{f.name: np.asarray(arrays[f.name], dtype=np.float32) for f in fields(cls)})

    @property
    def num_users(self) -> int:
        return len(self.user_activity)

    @property
    def num_items(self) -> int:
        return len(self.item_popularity)


def build_tables(
    train: Interactions, item_genres: np.ndarray, item_year: np.ndarray, item_vectors: np.ndarray
) -> FeatureTables:
    """Tables from the training log (with ratings when it has them) and item content.

    Args:
        train: the retrievers' training interactions.
        item_genres: (I, G) multi-hot genres (a zero row for unknown items).
        item_year: (I,) release years, 0 where unknown.
        item_vectors: (I, d) item vectors of one retriever (normalised here).
    """
    num_users, num_items = train.num_users, train.num_items
    for name, array in (
        ("item_genres", item_genres),
        ("item_year", item_year),
        ("item_vectors", item_vectors),
    ):
        if len(array) != num_items:
            raise ValueError(f"{name}: {len(array)} rows for {num_items} items")
    matrix = sp.csr_matrix(
        (np.ones(len(train), np.float32), (train.users, train.items)), shape=(num_users, num_items)
    )
    matrix.data[:] = 1.0  # repeated pairs count once
    ratings = np.ones(len(train), np.float32) if train.ratings is None else train.ratings
    user_activity = np.bincount(train.users, minlength=num_users).astype(np.float32)
    item_popularity = np.bincount(train.items, minlength=num_items).astype(np.float32)

    def mean_by(index: np.ndarray, count: np.ndarray) -> np.ndarray:
        total = np.bincount(index, weights=ratings, minlength=len(count))
        return (total / np.maximum(count, 1)).astype(np.float32)

    genres = np.asarray(item_genres, dtype=np.float32)
    user_genres = matrix @ genres  # (U, G) items per genre
    user_genres = user_genres / np.maximum(user_genres.sum(axis=1, keepdims=True), 1e-9)
    genre_share = (item_popularity @ genres) / max(float((item_popularity @ genres).sum()), 1e-9)
    year = np.asarray(item_year, dtype=np.float32)
    dated = sp.csr_matrix(matrix.multiply((year > 0)[None, :]))
    num_dated = np.maximum(np.asarray(dated.sum(axis=1)).ravel(), 1)
    year_mean = (dated @ year) / num_dated
    year_var = (dated @ year**2) / num_dated - year_mean**2
    vectors = np.asarray(item_vectors, dtype=np.float32)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    return FeatureTables.from_arrays(
        {
            "item_popularity": item_popularity,
            "item_mean_rating": mean_by(train.items, item_popularity),
            "item_genres": genres,
            "item_year": year,
            "item_vectors": vectors,
            "genre_share": genre_share,
            "user_activity": user_activity,
            "user_mean_rating": mean_by(train.users, user_activity),
            "user_genres": user_genres,
            "user_year_mean": year_mean,
            "user_year_std": np.sqrt(np.maximum(year_var, 0.0)),
        }
    )


def candidate_features(candidates: Candidates, tables: FeatureTables, history: sp.csr_matrix) -> np.ndarray:
    """(Q, C, F) float32 features, columns as :func:`feature_names`; rows at padding are 0.

    Args:
        candidates: merged candidates of Q users.
        tables: the ranker's tables.
        history: (U, I) the users' training items (``Recommender.train``).
    """
    users, items, mask = candidates.users, candidates.items, candidates.mask
    safe = np.maximum(items, 0)  # (Q, C)
    scores = candidates.scores  # (Q, C, S)
    best = np.where(mask[..., None], scores, -np.inf).max(axis=1, keepdims=True)  # (Q, 1, S)
    per_source = np.stack([scores, candidates.ranks, scores - best], axis=-1)  # (Q, C, S, 3)
    per_source = per_source.reshape(*items.shape, -1)  # (Q, C, 3S), source-major as feature_names

    t = tables
    item_genres = t.item_genres[safe]  # (Q, C, G)
    num_genres = np.maximum(item_genres.sum(-1), 1.0)  # (Q, C)
    user_genres = t.user_genres[users][:, None, :]  # (Q, 1, G)
    weighted = item_genres * user_genres  # (Q, C, G)
    lift = (item_genres * (user_genres / np.maximum(t.genre_share, 1e-6))).sum(-1) / num_genres
    item_year = t.item_year[safe]
    year_mean = t.user_year_mean[users][:, None]
    year_gap = np.where(item_year > 0, item_year - year_mean, 0.0)
    cosine_max, cosine_mean = item_similarity(users, items, t.item_vectors, history)
    item_rating = t.item_mean_rating[safe]
    user_rating = t.user_mean_rating[users][:, None]
    common = [
        candidates.proposed().sum(-1),
        np.log1p(t.item_popularity[safe]),
        item_rating,
        item_year,
        np.broadcast_to(np.log1p(t.user_activity[users])[:, None], items.shape),
        np.broadcast_to(user_rating, items.shape),
        item_rating - user_rating,
        weighted.sum(-1) / num_genres,
        weighted.max(-1),
        lift,
        year_gap,
        year_gap / (t.user_year_std[users][:, None] + 1.0),
        cosine_max,
        cosine_mean,
    ]
    features = np.concatenate([per_source, np.stack(common, axis=-1)], axis=-1).astype(np.float32)
    features[~mask] = 0.0
    return features


def item_similarity(
    users: np.ndarray, items: np.ndarray, vectors: np.ndarray, history: sp.csr_matrix
) -> tuple[np.ndarray, np.ndarray]:
    """(Q, C) max and mean cosine of each candidate's unit vector to the user's history items'.

    The history rows are sliced from the CSR arrays directly: scipy's row indexing costs more than
    the products for one user (the service's case)."""
    if not sp.isspmatrix_csr(history):
        history = sp.csr_matrix(history)
    indptr, indices = history.indptr, history.indices
    cand = vectors[np.maximum(items, 0)]  # (Q, C, d)
    best = np.zeros(items.shape, dtype=np.float32)
    mean = np.zeros(items.shape, dtype=np.float32)
    for q, user in enumerate(users):
        own = vectors[indices[indptr[user] : indptr[user + 1]]]  # (n_q, d)
        if len(own):
            best[q] = (cand[q] @ own.T).max(axis=1)
            mean[q] = cand[q] @ own.mean(axis=0)  # the mean cosine: the centroid's dot product
    return best, mean
