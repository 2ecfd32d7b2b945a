"""Creators who see only feedback on their own items (after CreAgent, SIGIR 2025), and the platform
that shows their new items to users.

A creator has topics (a distribution over genres), a production rate and patience. Each round a
creator may produce one item: with probability ``explore`` in a genre it has not tried (drawn from its
topics), else in the genre its beliefs rate best. Beliefs are what the creator can see: the mean
clicks per exposure of its own items per genre (``full_information=False``, CreAgent's information
asymmetry) — or, as the ablation, also the platform-wide click share of every genre
(``full_information=True``), which reveals what users want. A creator leaves for good when its last
``patience`` items got no click in total (from round ``leave_from`` on, as in CreAgent).

The platform reserves ``fresh_slots`` of every user's slate for new items, ranked by one of two
cold-start policies: ``"popularity"`` (new items with the most clicks so far; ties at random) or
``"personalised"`` (cosine between the item's genres and the user's taste). Users click a new item
with sigmoid((taste . genres - bias) / temperature) — the same genre-affinity world for every item —
with one seeded generator per (user, round) as in ``environment.py``.

Per round: active creators, items produced, genre entropy of the new items, impressions and clicks on
new items, and the share of new items that ever got a click ("cold-item success").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class CreatorConfig:
    explore: float = 0.2  # chance of trying a genre not tried yet
    produce: float = 0.7  # chance of producing an item in a round
    patience: int = 5  # leave when the last `patience` items got no click in total ...
    leave_from: int = 15  # ... from this round on
    full_information: bool = False  # also see every genre's platform-wide click share


def initial_creators(item_genres: np.ndarray, item_creator: np.ndarray, num_creators: int) -> np.ndarray:
    """(C, G) topics from the genres of each creator's existing items (+ a small uniform prior)."""
    g = item_genres.shape[1]
    topics = np.full((num_creators, g), 0.1)
    np.add.at(topics, item_creator, item_genres)
    return topics / topics.sum(1, keepdims=True)


def genre_entropy(genres: np.ndarray) -> float:
    """Shannon entropy (nats) of the genre distribution of a set of items (G,) counts or (n, G) rows."""
    counts = genres.sum(0) if genres.ndim == 2 else genres
    p = counts[counts > 0] / max(counts.sum(), 1e-12)
    return float(-(p * np.log(p)).sum()) if len(p) else 0.0


def run_creators(
    user_taste: np.ndarray,
    topics: np.ndarray,
    config: CreatorConfig,
    policy: str = "personalised",
    rounds: int = 50,
    fresh_slots: int = 2,
    bias: float = 0.5,
    temperature: float = 0.1,
    seed: int = 2026,
) -> dict[str, list]:
    """Simulate creators and the new items they produce for ``rounds`` rounds.

    Args:
        user_taste: (U, G) each user's genre taste, rows unit-normalised.
        topics: (C, G) each creator's genre preferences (rows sum to 1).
        policy: "popularity" or "personalised" cold-start ranking of new items.

    Returns:
        Per-round lists: ``active_creators``, ``new_items``, ``genre_entropy``, ``new_impressions``,
        ``new_clicks``, ``cold_success`` (share of items made so far with at least one click).
    """
    if policy not in ("popularity", "personalised"):
        raise ValueError(f"policy: 'popularity' or 'personalised', got {policy!r}")
    rng = np.random.default_rng(seed)
    num_creators, num_genres = topics.shape
    tried = np.zeros((num_creators, num_genres), dtype=bool)
    clicks = np.zeros((num_creators, num_genres))
    shown = np.zeros((num_creators, num_genres))
    active = np.ones(num_creators, dtype=bool)
    owned: list[list[int]] = [[] for _ in range(num_creators)]  # per creator, its new items
    item_genre: list[int] = []  # per new item, its genre
    item_owner: list[int] = []
    item_clicks: list[int] = []
    genre_clicks, genre_shown = np.ones(num_genres), np.ones(num_genres) * 10  # platform-wide, smoothed
    out: dict[str, list] = {
        k: []
        for k in (
            "active_creators",
            "new_items",
            "genre_entropy",
            "new_impressions",
            "new_clicks",
            "cold_success",
        )
    }
    for t in range(rounds):
        made = []
        for c in np.flatnonzero(active):
            if rng.random() >= config.produce:
                continue
            untried = np.flatnonzero(~tried[c])
            if len(untried) and (rng.random() < config.explore or not tried[c].any()):
                p = topics[c, untried] / topics[c, untried].sum()
                genre = int(rng.choice(untried, p=p))
            else:
                value = np.where(tried[c], (clicks[c] + 0.1) / (shown[c] + 1.0), -np.inf)  # own items only
                if config.full_information:
                    value = np.where(tried[c], value, -np.inf) + genre_clicks / genre_shown
                genre = int(np.argmax(value))
            tried[c, genre] = True
            item_genre.append(genre)
            owned[c].append(len(item_owner))
            item_owner.append(int(c))
            item_clicks.append(0)
            made.append(genre)
        out["new_items"].append(len(made))
        out["genre_entropy"].append(genre_entropy(np.bincount(made, minlength=num_genres).astype(float)))
        out["active_creators"].append(int(active.sum()))
        impressions = click_total = 0
        if item_genre:
            genres = np.array(item_genre)
            onehot = np.eye(num_genres)[genres]  # (N, G)
            if policy == "personalised":
                scores = user_taste @ onehot.T  # (U, N)
            else:
                scores = np.tile(np.array(item_clicks, dtype=float), (len(user_taste), 1))
            scores = scores + 1e-6 * rng.random(scores.shape)  # random tie-break
            top = np.argsort(-scores, axis=1)[:, :fresh_slots]  # (U, fresh)
            affinity = np.take_along_axis(user_taste @ onehot.T, top, axis=1)  # (U, fresh)
            probability = 1 / (1 + np.exp(-(affinity - bias) / temperature))
            for u in range(len(user_taste)):
                draws = np.random.default_rng([seed, u, t]).random(fresh_slots) < probability[u]
                for item, clicked in zip(top[u], draws, strict=True):
                    owner, genre = item_owner[item], item_genre[item]
                    shown[owner, genre] += 1
                    genre_shown[genre] += 1
                    impressions += 1
                    if clicked:
                        clicks[owner, genre] += 1
                        genre_clicks[genre] += 1
                        item_clicks[item] += 1
                        click_total += 1
        out["new_impressions"].append(impressions)
        out["new_clicks"].append(click_total)
        out["cold_success"].append(float(np.mean(np.array(item_clicks) > 0)) if item_clicks else 0.0)
        # Each creator looks at the clicks its own items have had so far.
        for c in np.flatnonzero(active):
            last = [item_clicks[i] for i in owned[c][-config.patience :]]
            if t + 1 >= config.leave_from and len(last) >= config.patience and sum(last) == 0:
                active[c] = False
    return out
