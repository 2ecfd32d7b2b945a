"""The durable feedback store: what users did with what they were shown, in a real database.

SQLite (the default, a file) or PostgreSQL (``postgresql+psycopg://...``), through SQLAlchemy 2
Core. One table, ``feedback_events``, keyed by the client's event id:

- a batch is inserted in one transaction with ``ON CONFLICT (client_event_id) DO NOTHING``, so a
  retried batch, or an event repeated inside a batch, is stored once;
- ``add`` returns only after the commit, and the service acknowledges a batch only after ``add``
  returns: an acknowledged event is on disk. SQLite runs in WAL mode with ``synchronous=FULL``
  (every commit is fsynced, so it survives a power cut, not only a killed process).

An event may name the slate (the one answer of the service) it belongs to, ``slate_id``: the
impressions of one slate, ordered by ``position``, and its clicks are what a user was shown and
took (``simulators.users.feedback_exposures``). A database written before that column existed
gets it on open (:func:`add_missing_columns`); its events are kept, with no slate.

``export_log`` writes the stored interactions as a log that ``alignrec train --data`` reads
(columns ``user_id, item_id, rating, timestamp, event``, and ``position, slate_id`` when asked).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from recsys.storage import atomic_path

EVENT_TYPES = ("impression", "click", "add_to_cart", "purchase", "rating", "return")
POSITIVE_EVENTS = ("click", "add_to_cart", "purchase", "rating")  # what ``export_log`` writes by default
LOG_COLUMNS = ("user_id", "item_id", "rating", "timestamp", "event")
SLATE_COLUMNS = ("position", "slate_id")  # what ``export_log(slates=True)`` adds

metadata = sa.MetaData()
events = sa.Table(
    "feedback_events",
    metadata,
    sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("client_event_id", sa.String(256), nullable=False, unique=True),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("user_id", sa.String(256), nullable=False),
    sa.Column("item_id", sa.String(256), nullable=False),
    sa.Column("event_time", sa.Double(), nullable=False),  # Unix seconds, as the client gave it
    sa.Column("received_at", sa.Double(), nullable=False, index=True),  # Unix seconds, server clock
    sa.Column("rating", sa.Double()),
    sa.Column("position", sa.Integer()),
    sa.Column("reason", sa.String(32)),
    sa.Column("note", sa.Text()),
    sa.Column("model_version", sa.String(64)),
    sa.Column("slate_id", sa.String(256), index=True),  # added after the first version: nullable
)
ADDED_COLUMNS = ("slate_id",)  # columns an older database may lack; add_missing_columns adds them
FIELDS = tuple(c.name for c in events.columns if c.name not in ("id", "received_at"))


@dataclass(frozen=True)
class Stored:
    stored: int  # events committed by this call
    duplicates: int  # events whose client_event_id was stored before, or repeated in the batch


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")  # several worker processes share one file
    cursor.close()


def create_tables(engine: sa.Engine, attempts: int = 5) -> None:
    """``metadata.create_all``, safe when several worker processes start on a new database at once:
    the check for a missing table and its creation are not one step, so a worker can lose the race
    and be told the table "already exists"; it then checks again (and finds it)."""
    for attempt in range(attempts):
        try:
            metadata.create_all(engine)
            return
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError) as error:
            lost_race = "already exists" in str(error) or "duplicate" in str(error).lower()
            if not lost_race or attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def add_missing_columns(engine: sa.Engine) -> list[str]:
    """Add the ``ADDED_COLUMNS`` (nullable, indexed) that an existing ``feedback_events`` table lacks,
    with ``ALTER TABLE ... ADD COLUMN``: the rows already stored stay, with NULL there. Safe when
    several workers open an old database at once (a worker that loses the race finds the column
    added by another). Returns the columns this call added."""
    added = []
    for name in ADDED_COLUMNS:
        if name in {c["name"] for c in sa.inspect(engine).get_columns(events.name)}:
            continue
        column = events.c[name]
        kind = column.type.compile(engine.dialect)
        try:
            with engine.begin() as connection:
                connection.execute(sa.text(f"ALTER TABLE {events.name} ADD COLUMN {name} {kind}"))
            added.append(name)
        except (sa.exc.OperationalError, sa.exc.ProgrammingError):
            if name not in {c["name"] for c in sa.inspect(engine).get_columns(events.name)}:
                raise
        if column.index:
            with engine.begin() as connection:
                connection.execute(
                    sa.text(f"CREATE INDEX IF NOT EXISTS ix_{events.name}_{name} ON {events.name} ({name})")
                )
    return added


class FeedbackStore:
    """Feedback events in the database at ``url`` (the table is created when missing, and columns
    added since an older version of it are added)."""

    def __init__(self, url: str):
        self.url = sa.make_url(url)
        if self.url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError(f"feedback_url: {url!r}: use a sqlite:/// or postgresql+psycopg:// URL")
        if self.url.get_backend_name() == "sqlite" and self.url.database:
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine = sa.create_engine(self.url, pool_pre_ping=True)
        if self.url.get_backend_name() == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        create_tables(self.engine)
        add_missing_columns(self.engine)
        dialect = sqlite if self.url.get_backend_name() == "sqlite" else postgresql
        self._insert = (
            dialect.insert(events)
            .on_conflict_do_nothing(index_elements=["client_event_id"])
            .returning(events.c.client_event_id)
        )

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    def add(self, rows: Sequence[Mapping[str, object]]) -> Stored:
        """Store events (dicts with the ``FIELDS`` keys; ``event_time`` None means now) in one
        transaction; returns after the commit."""
        now = time.time()
        unique: dict[str, dict[str, object]] = {}
        for row in rows:
            unique.setdefault(str(row["client_event_id"]), row)  # type: ignore[arg-type]
        values = [{name: row.get(name) for name in FIELDS} | {"received_at": now} for row in unique.values()]
        for value in values:
            if value["event_time"] is None:
                value["event_time"] = now
        if not values:
            return Stored(0, len(rows))
        with self.engine.begin() as connection:
            stored = len(connection.execute(self._insert, values).all())
        return Stored(stored, len(rows) - stored)

    def count(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(sa.select(sa.func.count()).select_from(events)).scalar_one())

    def client_event_ids(self) -> list[str]:
        with self.engine.connect() as connection:
            return list(connection.execute(sa.select(events.c.client_event_id)).scalars())

    def ping(self) -> None:
        """Raise when the database cannot be reached."""
        with self.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    def rows(self, since: float | None = None, types: Iterable[str] = EVENT_TYPES) -> Iterable[sa.Row]:
        """Stored events received at or after ``since`` (Unix seconds), in the order received."""
        query = sa.select(events).where(events.c.type.in_(list(types))).order_by(events.c.id)
        if since is not None:
            query = query.where(events.c.received_at >= since)
        with self.engine.connect() as connection:
            yield from connection.execution_options(yield_per=10_000).execute(query)

    def close(self) -> None:
        self.engine.dispose()


def export_log(
    store: FeedbackStore,
    out: Path,
    since: float | None = None,
    types: Sequence[str] = POSITIVE_EVENTS,
    implicit_rating: float = 5.0,
    slates: bool = False,
) -> int:
    """Write stored events as an interaction log (``user_id, item_id, rating, timestamp, event``)
    that ``alignrec train --data`` reads; returns the number of rows.

    A rating event keeps its rating; other events get ``implicit_rating`` (default 5, the top of a
    1-5 scale, so that a ``--threshold`` meant for explicit ratings keeps them). With ``slates``,
    two more columns, ``position, slate_id`` (empty where an event has none): what
    ``simulators.users.feedback_exposures`` groups impressions and clicks by (``train`` ignores
    them). Rows are in the order stored. The file is written atomically.
    """
    unknown = sorted(set(types) - set(EVENT_TYPES))
    if unknown or not types:
        raise ValueError(f"types: unknown event types {unknown}; choose from {EVENT_TYPES}")
    count = 0
    with atomic_path(out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(LOG_COLUMNS + (SLATE_COLUMNS if slates else ()))
        for row in store.rows(since, types):
            rating = row.rating if row.type == "rating" else implicit_rating
            line = [row.user_id, row.item_id, f"{rating:g}", int(row.event_time), row.type]
            if slates:
                line += ["" if row.position is None else row.position, row.slate_id or ""]
            writer.writerow(line)
            count += 1
    return count
