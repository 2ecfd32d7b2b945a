"""Creators who see only feedback on their own items (after CreAgent, SIGIR 2025), and the platform
that shows their new items to users.

A creator has topics (a distribution over genres), a production rate and patience. Each round a
creator may produce one item: with probability ``explore`` in a genre it has not tried (drawn from its
topics), else in the genre its beliefs rate best. Beliefs are what the creator can see: the mean
clicks per exposure of its own items per genre (``full_information=False``, CreAgent's information
asymmetry) — or, as the ablation, also the platform-wide click share of every genre
(``full_information=True``), which reveals what users want. A creator leaves for good when its last
``patience`` items got no click in total (from round ``leave_from`` on, as in CreAgent).
:class:`Creators` holds a population and these decisions; ``creator_platform`` puts one population
in each arm of an A/B test, ``run_creators`` below is the new-items-only simulation.

In ``run_creators`` the platform reserves ``fresh_slots`` of every user's slate for new items,
ranked by one of two cold-start policies: ``"popularity"`` (new items with the most clicks so far;
ties at random) or ``"personalised"`` (cosine between the item's genres and the user's taste).
Users click a new item with sigmoid((taste . genres - bias) / temperature) — the same
genre-affinity world for every item — with one seeded generator per (user, round) as in
``environment.py``.

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


class Creators:
    """A population of creators, what each can see, and its decisions (see the module docstring).

    Items are numbered in the order they are made (0, 1, ...); ``item_owner``, ``item_genre`` and
    ``item_clicks`` are per item. ``rng`` drives every decision (production, exploration).
    """

    def __init__(self, topics: np.ndarray, config: CreatorConfig, rng: np.random.Generator) -> None:
        self.topics, self.config, self.rng = np.asarray(topics, dtype=np.float64), config, rng
        num_creators, num_genres = self.topics.shape
        self.tried = np.zeros((num_creators, num_genres), dtype=bool)
        self.clicks = np.zeros((num_creators, num_genres))  # on its own items, per genre
        self.shown = np.zeros((num_creators, num_genres))
        self.active = np.ones(num_creators, dtype=bool)
        self.owned: list[list[int]] = [[] for _ in range(num_creators)]  # per creator, its items
        self.item_owner = np.zeros(0, dtype=np.int64)
        self.item_genre = np.zeros(0, dtype=np.int64)
        self.item_clicks = np.zeros(0, dtype=np.int64)

    @property
    def num_items(self) -> int:
        return len(self.item_owner)

    def produce(self, interest: np.ndarray | None = None) -> np.ndarray:
        """Each active creator makes an item with probability ``config.produce``: in an untried genre
        (drawn from its topics) with probability ``config.explore`` (always for its first item),
        else in the genre its beliefs rate best. ``interest``: (G,) the platform-wide click share
        per genre, used only with ``full_information``. Returns the new items' numbers."""
        made_owner, made_genre = [], []
        for c in np.flatnonzero(self.active):
            if self.rng.random() >= self.config.produce:
                continue
            tried = self.tried[c]
            untried = np.flatnonzero(~tried)
            if len(untried) and (self.rng.random() < self.config.explore or not tried.any()):
                p = self.topics[c, untried] / self.topics[c, untried].sum()
                genre = int(self.rng.choice(untried, p=p))
            else:
                value = np.where(tried, (self.clicks[c] + 0.1) / (self.shown[c] + 1.0), -np.inf)  # own items
                if self.config.full_information and interest is not None:
                    value = value + interest
                genre = int(np.argmax(value))
            tried[genre] = True
            self.owned[c].append(self.num_items + len(made_owner))
            made_owner.append(int(c))
            made_genre.append(genre)
        first = self.num_items
        self.item_owner = np.concatenate([self.item_owner, np.array(made_owner, dtype=np.int64)])
        self.item_genre = np.concatenate([self.item_genre, np.array(made_genre, dtype=np.int64)])
        self.item_clicks = np.concatenate([self.item_clicks, np.zeros(len(made_owner), dtype=np.int64)])
        return np.arange(first, self.num_items)

    def feedback(self, items: np.ndarray, clicked: np.ndarray) -> None:
        """One showing of each of ``items`` (item numbers, repeats allowed) and whether it was clicked;
        each creator's beliefs take in only its own items."""
        owner, genre = self.item_owner[items], self.item_genre[items]
        np.add.at(self.shown, (owner, genre), 1.0)
        np.add.at(self.clicks, (owner, genre), clicked.astype(np.float64))
        np.add.at(self.item_clicks, items, clicked.astype(np.int64))

    def leave(self, t: int) -> None:
        """After round ``t``: a creator whose last ``patience`` items got no click leaves for good
        (from round ``leave_from`` on, counting rounds from 1)."""
        if t + 1 < self.config.leave_from:
            return
        for c in np.flatnonzero(self.active):
            last = self.owned[c][-self.config.patience :]
            if len(last) >= self.config.patience and self.item_clicks[last].sum() == 0:
                self.active[c] = False


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
    """Simulate creators and the new items they produce for ``rounds`` rounds (new items only; the
    A/B version with whole catalogs and recommenders is ``simulators.abtest.creator_platform``).

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
    num_genres = topics.shape[1]
    creators = Creators(topics, config, rng)
    genre_clicks, genre_shown = np.ones(num_genres), np.ones(num_genres) * 10  # platform-wide, smoothed
    keys = ("active_creators", "new_items", "genre_entropy", "new_impressions", "new_clicks", "cold_success")
    out: dict[str, list] = {k: [] for k in keys}
    for t in range(rounds):
        made = creators.produce(genre_clicks / genre_shown)
        out["new_items"].append(len(made))
        counts = np.bincount(creators.item_genre[made], minlength=num_genres).astype(float)
        out["genre_entropy"].append(genre_entropy(counts))
        out["active_creators"].append(int(creators.active.sum()))
        impressions = click_total = 0
        if creators.num_items:
            onehot = np.eye(num_genres)[creators.item_genre]  # (N, G)
            if policy == "personalised":
                scores = user_taste @ onehot.T  # (U, N)
            else:
                scores = np.tile(creators.item_clicks.astype(float), (len(user_taste), 1))
            scores = scores + 1e-6 * rng.random(scores.shape)  # random tie-break
            top = np.argsort(-scores, axis=1)[:, :fresh_slots]  # (U, fresh)
            affinity = np.take_along_axis(user_taste @ onehot.T, top, axis=1)  # (U, fresh)
            probability = 1 / (1 + np.exp(-(affinity - bias) / temperature))
            draws = (
                np.stack(
                    [np.random.default_rng([seed, u, t]).random(fresh_slots) for u in range(len(user_taste))]
                )
                < probability
            )  # (U, fresh)
            creators.feedback(top.ravel(), draws.ravel())
            shown_genres = creators.item_genre[top.ravel()]
            np.add.at(genre_shown, shown_genres, 1.0)
            np.add.at(genre_clicks, shown_genres, draws.ravel().astype(float))
            impressions, click_total = top.size, int(draws.sum())
        out["new_impressions"].append(impressions)
        out["new_clicks"].append(click_total)
        success = float(np.mean(creators.item_clicks > 0)) if creators.num_items else 0.0
        out["cold_success"].append(success)
        creators.leave(t)  # each creator looks at the clicks its own items have had so far
    return out
