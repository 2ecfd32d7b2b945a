"""Exposure lists for measuring a user simulator against what real users chose next.

An :class:`Exposure` is one decision: a user, the user's recent history (item ids with ratings,
oldest first), the options shown, and which option the user really took. Protocol 1
(:func:`popularity_exposures`): for each held-out user the last event is the target, the
``history`` events before it form the history, and ``n - 1`` negatives are drawn with probability
proportional to training popularity among items the user never interacted with; the target sits
at a uniformly random position. Everything a simulator may learn from (``heldout_split``'s training
log) excludes the targets, so no answer leaks into training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.data import Interactions


@dataclass(frozen=True)
class Exposure:
    """One decision to simulate.

    Attributes:
        user: original user id.
        history: (item id, rating) pairs, oldest first (rating 1.0 in implicit logs).
        options: item ids shown, in display order.
        target: index in ``options`` of the item the user took.
    """

    user: str
    history: tuple[tuple[str, float], ...]
    options: tuple[str, ...]
    target: int


@dataclass(frozen=True)
class HeldOut:
    """A log with each held-out user's last event removed, and those events."""

    train: Interactions  # every event except the targets (same id maps as the log)
    users: np.ndarray  # (H,) internal ids of the held-out users
    targets: np.ndarray  # (H,) row index in the original log of each user's last event


def time_order(log: Interactions) -> np.ndarray:
    """Row order by (user, time, row): each user's events oldest first (row order without timestamps)."""
    times = log.timestamps if log.timestamps is not None else np.arange(len(log))
    return np.lexsort((np.arange(len(log)), times, log.users))


def log_histories(train: Interactions, ratings: bool = True) -> dict[int, list[tuple[str, float]]]:
    """Internal user index -> (item id, rating) pairs of an ``Interactions`` log, oldest first (row
    order where the log has no timestamps)."""
    values = train.ratings if (ratings and train.ratings is not None) else np.ones(len(train))
    out: dict[int, list[tuple[str, float]]] = {}
    for row in time_order(train):
        out.setdefault(int(train.users[row]), []).append(
            (str(train.item_ids[train.items[row]]), float(values[row]))
        )
    return out


def heldout_split(
    log: Interactions,
    num_users: int = 300,
    min_events: int = 11,
    seed: int = 2026,
    exclude: np.ndarray | None = None,
) -> HeldOut:
    """Pick ``num_users`` users (seeded) with at least ``min_events`` events, none of ``exclude``
    (internal ids, e.g. another split's held-out users); hold out their last event."""
    counts = np.bincount(log.users, minlength=log.num_users)
    if exclude is not None:
        counts[np.asarray(exclude, dtype=np.int64)] = 0
    eligible = np.flatnonzero(counts >= min_events)
    if len(eligible) < num_users:
        raise ValueError(f"only {len(eligible)} users have >= {min_events} events; asked for {num_users}")
    users = np.sort(np.random.default_rng(seed).choice(eligible, num_users, replace=False))
    order = time_order(log)
    last_of_user = np.full(log.num_users, -1)
    last_of_user[log.users[order]] = order  # the last write per user is its latest event
    targets = last_of_user[users]
    keep = np.ones(len(log), dtype=bool)
    keep[targets] = False
    return HeldOut(train=log.subset(keep), users=users, targets=targets)


def _exposure(
    log: Interactions, user: int, before: np.ndarray, negatives: list, target_row: int, position: int
) -> Exposure:
    """One held-out event as an exposure: its history rows, the negatives and the target at ``position``."""
    ratings = log.ratings if log.ratings is not None else np.ones(len(log), dtype=np.float32)
    item_ids = log.item_ids if log.item_ids is not None else np.arange(log.num_items)
    user_ids = log.user_ids if log.user_ids is not None else np.arange(log.num_users)
    options = [int(i) for i in negatives]
    options.insert(position, int(log.items[target_row]))
    return Exposure(
        user=str(user_ids[user]),
        history=tuple((str(item_ids[log.items[r]]), float(ratings[r])) for r in before),
        options=tuple(str(item_ids[i]) for i in options),
        target=position,
    )


def popularity_exposures(
    log: Interactions, heldout: HeldOut, n: int = 5, history: int = 10, seed: int = 2026
) -> list[Exposure]:
    """Protocol 1: the target among ``n - 1`` negatives drawn ∝ training popularity (never items
    the user interacted with), at a random position; ``history`` earlier events as context."""
    if n < 2:
        raise ValueError(f"n: an exposure needs at least 2 options, got {n}")
    rng = np.random.default_rng(seed)
    popularity = heldout.train.item_popularity().astype(np.float64)
    order = time_order(log)
    exposures = []
    for user, target_row in zip(heldout.users, heldout.targets, strict=True):
        rows = order[log.users[order] == user]  # this user's events, oldest first
        before = rows[: np.flatnonzero(rows == target_row)[0]][-history:]
        weights = popularity.copy()
        weights[log.items[rows]] = 0.0  # never an item the user has had (target included)
        negatives = rng.choice(log.num_items, n - 1, replace=False, p=weights / weights.sum())
        exposures.append(_exposure(log, user, before, negatives, target_row, int(rng.integers(n))))
    return exposures


@dataclass(frozen=True)
class ItemMeta:
    """What protocol 2 knows of every item (internal ids): release year, genres, popularity."""

    years: np.ndarray  # (I,) release year, 0 when unknown
    genres: np.ndarray  # (I, G) multi-hot
    popularity: np.ndarray  # (I,) training events


def _matched_pool(meta: ItemMeta, target: int, allowed: np.ndarray) -> np.ndarray:
    """Items like the target in obscurity and age: the same popularity decile and a release year
    within 2 years, widened step by step until at least 20 candidates remain."""
    deciles = np.searchsorted(np.quantile(meta.popularity, np.linspace(0.1, 0.9, 9)), meta.popularity)
    for spread, width in ((0, 2), (1, 4), (2, 8), (9, 100)):
        pool = allowed & (np.abs(deciles - deciles[target]) <= spread)
        if meta.years[target]:
            pool &= np.abs(meta.years - meta.years[target]) <= width
        if pool.sum() >= 20:
            return np.flatnonzero(pool)
    return np.flatnonzero(allowed)


def hard_exposures(
    log: Interactions,
    heldout: HeldOut,
    meta: ItemMeta,
    collaborative: np.ndarray,
    n: int = 5,
    history: int = 10,
    match: bool = True,
    seed: int = 2026,
) -> list[Exposure]:
    """Protocol 2 (after UserMirrorer's exposures): negatives interleaved from a random list, a
    collaborative list and a content-similar list; never an item the user had, nor one released
    after the target event's year; the target at a random position; ``n`` options.

    Args:
        meta: years, genres and popularity of every item.
        collaborative: (H, C) internal item ids ranked by a recommender for each held-out user (e.g.
            ``Recommender.recommend_batch(heldout.users, C)``), best first.
        match: draw the random list matched to the target's popularity decile and release year, so
            that obscurity and recency do not give the target away; False draws it uniformly.
    """
    rng = np.random.default_rng(seed)
    order = time_order(log)
    times = log.timestamps if log.timestamps is not None else None
    unit = meta.genres / np.maximum(np.linalg.norm(meta.genres, axis=1, keepdims=True), 1e-12)  # (I, G)
    exposures = []
    for h, (user, target_row) in enumerate(zip(heldout.users, heldout.targets, strict=True)):
        rows = order[log.users[order] == user]
        before = rows[: np.flatnonzero(rows == target_row)[0]][-history:]
        target = int(log.items[target_row])
        allowed = np.ones(log.num_items, dtype=bool)
        allowed[log.items[rows]] = False  # the user's own items, the target included
        if times is not None:
            year = np.datetime64(int(times[target_row]), "s").astype("datetime64[Y]").astype(int) + 1970
            allowed &= meta.years <= year  # nothing released after the event (0 = unknown stays)
        pool = _matched_pool(meta, target, allowed) if match else np.flatnonzero(allowed)
        random_list = list(rng.permutation(pool))
        collab_list = [int(i) for i in collaborative[h] if i >= 0 and allowed[i]]
        taste = unit[log.items[before]].mean(0) if len(before) else np.zeros(unit.shape[1])
        content_scores = np.where(allowed, unit @ taste, -np.inf)
        content_list = list(np.argsort(-content_scores, kind="stable")[: 4 * n])
        negatives: list[int] = []
        lists = [random_list, collab_list, content_list]
        while len(negatives) < n - 1 and any(lists):
            for source in lists:
                while source and (source[0] in negatives):
                    source.pop(0)
                if source and len(negatives) < n - 1:
                    negatives.append(int(source.pop(0)))
        exposures.append(_exposure(log, user, before, negatives, target_row, int(rng.integers(n))))
    return exposures
