"""Slate ids on feedback events: through the API, into the store, out of the export, and the upgrade
of a database written before the column existed."""

import csv

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from alignrec.commands import feedback
from serving.feedback import FeedbackStore, export_log

runner = CliRunner()


def old_table(metadata: sa.MetaData) -> sa.Table:
    """``feedback_events`` as the first version of the store defined it (no slate_id)."""
    return sa.Table(
        "feedback_events",
        metadata,
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("client_event_id", sa.String(256), nullable=False, unique=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("item_id", sa.String(256), nullable=False),
        sa.Column("event_time", sa.Double(), nullable=False),
        sa.Column("received_at", sa.Double(), nullable=False, index=True),
        sa.Column("rating", sa.Double()),
        sa.Column("position", sa.Integer()),
        sa.Column("reason", sa.String(32)),
        sa.Column("note", sa.Text()),
        sa.Column("model_version", sa.String(64)),
    )


def write_old_store(url: str, rows: list[dict]) -> None:
    """A database with the old table holding ``rows``, as the first version of the store left it."""
    engine = sa.create_engine(url)
    table = old_table(sa.MetaData())
    table.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(table.insert(), rows)
    engine.dispose()


def test_slate_ids_round_trip_through_the_api_and_the_export(client, tmp_path):
    events = [
        {"client_event_id": "s1-0", "type": "impression", "user_id": "u1", "item_id": "i1", "position": 0},
        {"client_event_id": "s1-1", "type": "impression", "user_id": "u1", "item_id": "i2", "position": 1},
        {"client_event_id": "s1-c", "type": "click", "user_id": "u1", "item_id": "i2"},
        {"client_event_id": "none", "type": "click", "user_id": "u2", "item_id": "i3"},
    ]
    for e in events[:3]:
        e["slate_id"] = "req-1"
    assert client.post("/v1/feedback", json={"events": events}).json()["stored"] == 4
    store = client.app.state.serving.store
    assert [(r.client_event_id, r.slate_id) for r in store.rows()] == [
        ("s1-0", "req-1"),
        ("s1-1", "req-1"),
        ("s1-c", "req-1"),
        ("none", None),
    ]
    too_long = dict(events[0], client_event_id="x", slate_id="s" * 257)
    answer = client.post("/v1/feedback", json={"events": [too_long]})
    assert answer.status_code == 422 and "slate_id" in answer.text

    out = tmp_path / "slates.csv"
    result = runner.invoke(feedback.app, ["export", "--db", str(store.url), "--out", str(out), "--slates"])
    assert result.exit_code == 0, result.output
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["user_id", "item_id", "rating", "timestamp", "event", "position", "slate_id"]
    assert [(r["event"], r["position"], r["slate_id"]) for r in rows] == [
        ("impression", "0", "req-1"),
        ("impression", "1", "req-1"),
        ("click", "", "req-1"),
        ("click", "", ""),
    ]
    plain = tmp_path / "plain.csv"
    result = runner.invoke(feedback.app, ["export", "--db", str(store.url), "--out", str(plain)])
    assert result.exit_code == 0, result.output
    with open(plain, newline="") as handle:
        header, *lines = list(csv.reader(handle))
    assert header == ["user_id", "item_id", "rating", "timestamp", "event"] and len(lines) == 2  # clicks


def upgrade_keeps_events(url: str) -> None:
    write_old_store(
        url,
        [
            {"client_event_id": "old-1", "type": "click", "user_id": "u1", "item_id": "i1",
             "event_time": 10.0, "received_at": 11.0, "position": None},
            {"client_event_id": "old-2", "type": "impression", "user_id": "u1", "item_id": "i2",
             "event_time": 12.0, "received_at": 13.0, "position": 3},
        ],
    )  # fmt: skip

    store = FeedbackStore(url)  # adds the column
    try:
        columns = {c["name"] for c in sa.inspect(store.engine).get_columns("feedback_events")}
        indexes = {i["name"] for i in sa.inspect(store.engine).get_indexes("feedback_events")}
        assert "slate_id" in columns and "ix_feedback_events_slate_id" in indexes
        assert [(r.client_event_id, r.position, r.slate_id) for r in store.rows()] == [
            ("old-1", None, None),
            ("old-2", 3, None),
        ]
        new = {"client_event_id": "new", "type": "click", "user_id": "u1", "item_id": "i2", "event_time": 1.0}
        assert store.add([new | {"slate_id": "s9"}]).stored == 1
        assert store.add([new]).duplicates == 1  # the old unique key still holds
    finally:
        store.close()
    again = FeedbackStore(url)  # a second open finds nothing to add
    try:
        assert [r.slate_id for r in again.rows()] == [None, None, "s9"]
    finally:
        again.close()


def test_an_old_sqlite_store_is_upgraded_and_keeps_its_events(tmp_path):
    upgrade_keeps_events(f"sqlite:///{tmp_path / 'old.db'}")


@pytest.mark.postgres
def test_an_old_postgres_store_is_upgraded_and_keeps_its_events(postgres_feedback_url):
    upgrade_keeps_events(postgres_feedback_url)


def test_export_of_an_upgraded_store_writes_empty_slates(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    row = {"client_event_id": "a", "type": "click", "user_id": "u", "item_id": "i", "event_time": 5.0}
    write_old_store(url, [row | {"received_at": 5.0}])
    store = FeedbackStore(url)
    try:
        assert export_log(store, tmp_path / "out.csv", slates=True) == 1
    finally:
        store.close()
    assert (tmp_path / "out.csv").read_text().splitlines()[1] == "u,i,5,5,click,,"
