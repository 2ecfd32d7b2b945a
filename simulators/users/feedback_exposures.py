"""Exposures from what a served model really showed: the feedback store's slates.

The serving app stores an ``impression`` per item shown (with its 0-based ``position``) and a
``click`` per item taken, each naming its ``slate_id`` (one answer of the service; the A/B harness's
``HTTPFeedback`` uses ``{experiment}:{round}:{user}``). One slate becomes one :class:`Exposure`:

- options: the slate's impressions ordered by position;
- target: the option the user clicked. A slate without a click is dropped (``no_click``); one whose
  clicks are all on items it did not show is dropped (``click_not_shown``); one with several shown
  items clicked keeps the earliest click (event time, then the order stored) and is counted in
  ``several_clicks``;
- history: the user's events in the base interaction log (the log the served model was trained
  on, all before serving, oldest first), then the user's clicks in the store before the slate's
  first impression (any slate's, or none), its own clicks excluded; the last ``history`` of them.
  A click counts as ``click_rating``: by default the base log's top rating (5 on a 1-5 scale, the
  rating ``alignrec feedback export`` gives clicks), 1.0 for a log without ratings.

The simulators score and describe items of the base log's catalog, so a slate showing an item the
base log lacks is dropped (``unknown_item``) and a store click on such an item is left out of
histories (``history_left_out``); a user the base log lacks is kept, with the store's clicks as
history (``new_users``). Every list of one evaluation has one length ``n`` (by default the most
common among the slates that pass the other checks); slates of other lengths are dropped
(``length``). A slate with a missing or repeated position, a repeated item or several users is
dropped as ``malformed``. Exposures come in the order the slates were shown.

Events come from the store (:func:`read_store_events`, a SQLAlchemy URL) or from an export written
with ``alignrec feedback export --slates`` (:func:`read_export_csv`). :func:`served_slates` gives the
same exposures with each slate's id and every shown item clicked (preference data needs the items
passed over, not only the target).
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.data import Interactions
from simulators.users.exposures import Exposure, log_histories

EVENT_COLUMNS = ("order", "type", "user", "item", "time", "position", "slate")
DROP_REASONS = ("no_impressions", "malformed", "no_click", "click_not_shown", "unknown_item", "length")
CSV_COLUMNS = ("user_id", "item_id", "timestamp", "event", "position", "slate_id")


@dataclass(frozen=True)
class SlateReport:
    """What :func:`served_exposures` read and kept.

    Attributes:
        n: options per kept list.
        slates: slate ids read (impressions or clicks naming one).
        kept: slates turned into exposures.
        dropped: slates left out, by reason (every one of ``DROP_REASONS``, zeros included).
        lengths: slate length -> slates, among those that passed every check but the length one.
        several_clicks: kept slates with more than one shown item clicked (the earliest is the target).
        new_users: kept slates of users the base log lacks (their history is the store's clicks).
        history_left_out: store clicks on items the base log lacks, left out of every history.
        unslated: impressions without a slate id (they belong to no list).
    """

    n: int
    slates: int
    kept: int
    dropped: dict[str, int]
    lengths: dict[int, int]
    several_clicks: int
    new_users: int
    history_left_out: int
    unslated: int

    def summary(self) -> str:
        dropped = ", ".join(f"{reason} {count}" for reason, count in self.dropped.items() if count) or "none"
        lines = [f"served slates: {self.slates} read, {self.kept} kept (n = {self.n}); dropped: {dropped}"]
        if self.dropped["length"]:
            seen = ", ".join(f"{length}: {count}" for length, count in sorted(self.lengths.items()))
            lines.append(f"  slate lengths (slates): {seen}; only n = {self.n} kept (choose another with -n)")
        if self.dropped["unknown_item"] or self.history_left_out:
            lines.append(
                f"  items the base log lacks: {self.dropped['unknown_item']} slates showing one dropped, "
                f"{self.history_left_out} clicks on one left out of histories"
            )
        if self.new_users:
            lines.append(
                f"  {self.new_users} kept slates of users the base log lacks (history: store clicks)"
            )
        if self.several_clicks:
            lines.append(
                f"  {self.several_clicks} kept slates had several clicks (the earliest is the target)"
            )
        if self.unslated:
            lines.append(f"  {self.unslated} impressions without a slate_id ignored")
        return "\n".join(lines)


def _frame(
    order, types, users, items, times, positions, slates
) -> pd.DataFrame:  # the columns of EVENT_COLUMNS, normalised
    frame = pd.DataFrame(
        {
            "order": np.asarray(order, dtype=np.int64),
            "type": pd.Series(types, dtype=object).astype(str),
            "user": pd.Series(users, dtype=object).astype(str),
            "item": pd.Series(items, dtype=object).astype(str),
            "time": pd.to_numeric(pd.Series(times), errors="raise").astype(np.float64),
            "position": pd.to_numeric(pd.Series(positions, dtype=object), errors="raise").astype(np.float64),
            "slate": pd.Series(slates, dtype=object).fillna("").astype(str),
        }
    )
    return frame[frame["type"].isin(("impression", "click"))].reset_index(drop=True)


def parse_since(text: str) -> float:
    """Unix seconds from ``text``: a number of seconds, or a date/time (ISO 8601; UTC unless it says)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        stamp = pd.Timestamp(text)
    except ValueError as error:
        raise ValueError(f"since: {text!r} is neither Unix seconds nor a date such as 2026-11-30") from error
    return float((stamp if stamp.tzinfo else stamp.tz_localize("UTC")).timestamp())


def read_store_events(url: str, since: float | None = None) -> pd.DataFrame:
    """Impressions and clicks of the feedback store at ``url`` (SQLite or PostgreSQL), read only;
    with ``since`` (Unix seconds), only events that happened then or later."""
    import sqlalchemy as sa

    from serving.feedback import events

    parsed = sa.make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite" and not (parsed.database and Path(parsed.database).is_file()):
        raise FileNotFoundError(f"{shown}: no feedback database there")
    engine = sa.create_engine(parsed)
    try:
        inspector = sa.inspect(engine)
        if not inspector.has_table(events.name):
            raise ValueError(f"{shown}: no {events.name} table (not a feedback store)")
        if "slate_id" not in {c["name"] for c in inspector.get_columns(events.name)}:
            raise ValueError(
                f"{shown}: {events.name} has no slate_id column: its events were stored before slate "
                "ids existed, so none can be grouped into slates"
            )
        c = events.c
        query = (
            sa.select(c.id, c.type, c.user_id, c.item_id, c.event_time, c.position, c.slate_id)
            .where(c.type.in_(("impression", "click")))
            .order_by(c.id)
        )
        if since is not None:
            query = query.where(c.event_time >= since)
        with engine.connect() as connection:
            rows = connection.execute(query).all()
    finally:
        engine.dispose()
    columns = list(zip(*rows, strict=True)) if rows else [[]] * 7
    return _frame(*columns)


def read_export_csv(path: Path, since: float | None = None) -> pd.DataFrame:
    """Impressions and clicks of a CSV written by ``alignrec feedback export --slates`` (rows in the
    order stored); with ``since`` (Unix seconds), only events that happened then or later."""
    path = Path(path)
    frame = pd.read_csv(path, dtype={"user_id": str, "item_id": str, "slate_id": str, "event": str})
    missing = [c for c in CSV_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{path}: no column(s) {missing}; write the file with `alignrec feedback export --slates`"
        )
    if since is not None:
        frame = frame[pd.to_numeric(frame["timestamp"], errors="raise") >= since]
    return _frame(
        np.arange(len(frame)),
        frame["event"],
        frame["user_id"],
        frame["item_id"],
        frame["timestamp"],
        frame["position"],
        frame["slate_id"],
    )


def _base_histories(base: Interactions) -> dict[str, list[tuple[str, float]]]:
    """Each user's base-log events as (item id, rating), oldest first, by original user id."""
    return {str(base.user_ids[u]): events for u, events in log_histories(base).items()}


@dataclass(frozen=True)
class ServedSlate:
    """A kept slate: its id, its exposure, and the indices in ``exposure.options`` of every shown item
    clicked, earliest click first (``clicked[0] == exposure.target``)."""

    slate: str
    exposure: Exposure
    clicked: tuple[int, ...]


def served_exposures(
    events: pd.DataFrame,
    base: Interactions,
    n: int | None = None,
    history: int = 10,
    click_rating: float | None = None,
) -> tuple[list[Exposure], SlateReport]:
    """One exposure per usable served slate (rules in the module docstring), in the order shown;
    arguments and errors as :func:`served_slates`."""
    slates, report = served_slates(events, base, n=n, history=history, click_rating=click_rating)
    return [s.exposure for s in slates], report


def served_slates(
    events: pd.DataFrame,
    base: Interactions,
    n: int | None = None,
    history: int = 10,
    click_rating: float | None = None,
) -> tuple[list[ServedSlate], SlateReport]:
    """One :class:`ServedSlate` per usable served slate (rules in the module docstring), in the order shown.

    Args:
        events: impressions and clicks, as :func:`read_store_events` or :func:`read_export_csv` give.
        base: the base interaction log: histories, and the catalog the simulators know.
        n: options per list; None takes the most common slate length (the longer on a tie).
        history: history events per exposure at most.
        click_rating: the rating a store click counts as in a history (default: see the module).

    Raises:
        ValueError: when no slate can be kept, with the report's summary.
    """
    if n is not None and n < 2:
        raise ValueError(f"n: an exposure needs at least 2 options, got {n}")
    if click_rating is None:
        click_rating = float(base.ratings.max()) if base.ratings is not None and len(base) else 1.0
    catalog = {str(i) for i in base.item_ids}
    known_users = {str(u) for u in base.user_ids}
    events = events.sort_values(["time", "order"], kind="stable")
    # One pass over plain lists, in time order (ties in the order stored); key = rank in that order.
    # slate -> impressions (position, item, user, key); slate -> clicks (item, user); user -> clicks
    # (key, item, slate) on catalog items, all in time order
    shown_by_slate: dict[str, list[tuple[float, str, str, int]]] = defaultdict(list)
    clicks_by_slate: dict[str, list[tuple[str, str]]] = defaultdict(list)
    store_clicks: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    unslated = left_out = 0
    columns = (events[c].tolist() for c in ("type", "user", "item", "position", "slate"))
    for key, (kind, user, item, position, slate) in enumerate(zip(*columns, strict=True)):
        if kind == "impression":
            if slate:
                shown_by_slate[slate].append((position, item, user, key))
            else:
                unslated += 1
            continue
        if slate:
            clicks_by_slate[slate].append((item, user))
        if item in catalog:
            store_clicks[user].append((key, item, slate))
        else:
            left_out += 1
    slate_ids = list(dict.fromkeys([*shown_by_slate, *clicks_by_slate]))

    dropped = Counter({reason: 0 for reason in DROP_REASONS})
    candidates = []  # (start key, slate id, user, options, clicked option indices, earliest first)
    for slate in slate_ids:
        shown = shown_by_slate.get(slate)
        if shown is None:
            dropped["no_impressions"] += 1
            continue
        positions = [p for p, *_ in shown]
        users = {u for *_, u, _ in shown}
        if any(p != p for p in positions) or len(set(positions)) < len(positions):  # NaN: no position
            dropped["malformed"] += 1
            continue
        shown = sorted(shown, key=lambda event: event[0])
        options = tuple(item for _, item, _, _ in shown)
        taken = clicks_by_slate.get(slate, [])
        if len(set(options)) < len(options) or len(users) > 1 or {u for _, u in taken} - users:
            dropped["malformed"] += 1
            continue
        if not taken:
            dropped["no_click"] += 1
            continue
        on_shown = [item for item, _ in taken if item in options]  # in time order
        if not on_shown:
            dropped["click_not_shown"] += 1
            continue
        if any(item not in catalog for item in options):
            dropped["unknown_item"] += 1
            continue
        start_key = min(k for *_, k in shown)
        picked = tuple(dict.fromkeys(options.index(item) for item in on_shown))
        candidates.append((start_key, slate, users.pop(), options, picked))
    lengths = Counter(len(c[3]) for c in candidates)
    if n is None:
        n = max(lengths, key=lambda length: (lengths[length], length)) if lengths else 0
    dropped["length"] = sum(count for length, count in lengths.items() if length != n)
    kept = sorted(c for c in candidates if len(c[3]) == n)

    base_history = _base_histories(base)
    served = []
    for start, slate, user, options, picked in kept:
        clicked = store_clicks.get(user, [])
        recent: list[tuple[str, float]] = []  # the latest store clicks before the slate, newest first
        for j in range(bisect.bisect_left(clicked, (start,)) - 1, -1, -1):
            if len(recent) == history:
                break
            if clicked[j][2] != slate:
                recent.append((clicked[j][1], click_rating))
        rest = history - len(recent)
        past = (base_history.get(user, [])[-rest:] if rest else []) + recent[::-1]
        exposure = Exposure(user=user, history=tuple(past), options=options, target=picked[0])
        served.append(ServedSlate(slate=slate, exposure=exposure, clicked=picked))
    report = SlateReport(
        n=n,
        slates=len(slate_ids),
        kept=len(served),
        dropped=dict(dropped),
        lengths=dict(lengths),
        several_clicks=sum(len(c[4]) > 1 for c in kept),
        new_users=sum(c[2] not in known_users for c in kept),
        history_left_out=left_out,
        unslated=unslated,
    )
    if not served:
        raise ValueError(
            f"no served slate can be evaluated (a slate needs a click on an item it showed)\n"
            f"{report.summary()}"
        )
    return served, report
