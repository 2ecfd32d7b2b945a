"""A seeded synthetic interaction log with planted structure, for tests and the demo.

Users and items get latent factors around a few shared clusters; each user samples items with
probability proportional to exp(<p_u, q_i> / temperature) times an item popularity weight drawn from
a Zipf-like law. A model that learns the factors beats popularity; popularity beats random.
"""

from __future__ import annotations

import numpy as np

from recsys.data import Interactions


def make_interactions(
    num_users: int = 500,
    num_items: int = 300,
    events_per_user: int = 30,
    dim: int = 8,
    clusters: int = 6,
    popularity_skew: float = 0.8,
    temperature: float = 0.5,
    seed: int = 2026,
) -> tuple[Interactions, dict[str, np.ndarray]]:
    """Generate a log and the planted truth.

    Returns:
        The Interactions (implicit, with timestamps increasing per user and ratings 1–5 from affinity),
        and a dict with ``user_factors`` (U, dim), ``item_factors`` (I, dim), ``popularity`` (I,)
        and ``item_cluster`` (I,).
    """
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(clusters, dim))  # (C, d)
    user_cluster = rng.integers(clusters, size=num_users)
    item_cluster = rng.integers(clusters, size=num_items)
    user_factors = centers[user_cluster] + 0.5 * rng.normal(size=(num_users, dim))  # (U, d)
    item_factors = centers[item_cluster] + 0.5 * rng.normal(size=(num_items, dim))  # (I, d)
    ranks = rng.permutation(num_items) + 1
    popularity = ranks.astype(np.float64) ** -popularity_skew  # (I,)
    logits = user_factors @ item_factors.T / (temperature * np.sqrt(dim))  # (U, I)
    logits += np.log(popularity)[None, :]
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    k = min(events_per_user, num_items)
    # Gumbel top-k: k distinct items per user drawn without replacement from probs.
    gumbel = rng.gumbel(size=probs.shape)
    chosen = np.argsort(-(np.log(probs + 1e-30) + gumbel), axis=1)[:, :k]  # (U, k)
    users = np.repeat(np.arange(num_users), k)
    items = chosen.reshape(-1)
    affinity = (user_factors[users] * item_factors[items]).sum(axis=1)
    ratings = np.clip(np.round(3 + affinity / (affinity.std() + 1e-9)), 1, 5).astype(np.float32)
    timestamps = 1_700_000_000 + np.tile(np.arange(k), num_users) * 3600 + users * 7
    data = Interactions(
        users=users.astype(np.int64),
        items=items.astype(np.int64),
        num_users=num_users,
        num_items=num_items,
        ratings=ratings,
        timestamps=timestamps.astype(np.int64),
        user_ids=np.array([f"u{u}" for u in range(num_users)]),
        item_ids=np.array([f"i{i}" for i in range(num_items)]),
        stats={"rows": len(users)},
    )
    truth = {
        "user_factors": user_factors,
        "item_factors": item_factors,
        "popularity": popularity,
        "item_cluster": item_cluster,
    }
    return data, truth


def genre_interactions(
    num_users: int,
    num_items: int,
    num_genres: int,
    events_per_user: int,
    sharpness: float = 6.0,
    concentration: float = 0.3,
    seed: int = 0,
) -> tuple[Interactions, np.ndarray, np.ndarray]:
    """A log that follows genre taste, for creator worlds: each user's (G,) taste and each item's
    (G,) genre mix are Dirichlet(``concentration``) draws, and each user plays ``events_per_user``
    distinct items with probability proportional to exp(``sharpness`` * taste . genres).

    Returns the log (ids 0..n-1), the (U, G) tastes and the (I, G) genre mixes."""
    rng = np.random.default_rng(seed)
    taste = rng.dirichlet(np.full(num_genres, concentration), size=num_users)
    genres = rng.dirichlet(np.full(num_genres, concentration), size=num_items)
    users, items = [], []
    for u in range(num_users):
        p = np.exp(sharpness * taste[u] @ genres.T)
        users += [u] * events_per_user
        items += rng.choice(num_items, size=events_per_user, replace=False, p=p / p.sum()).tolist()
    log = Interactions(
        users=np.array(users),
        items=np.array(items),
        num_users=num_users,
        num_items=num_items,
        user_ids=np.arange(num_users),
        item_ids=np.arange(num_items),
    )
    return log, taste, genres
