import csv

import pytest
import sqlalchemy as sa

from serving.feedback import FeedbackStore, export_log


def event(i: int, type_: str = "click", **extra) -> dict:
    return {
        "client_event_id": f"e{i}",
        "type": type_,
        "user_id": "u1",
        "item_id": f"i{i}",
        "event_time": None,
        **extra,
    }


@pytest.fixture
def store(tmp_path):
    store = FeedbackStore(f"sqlite:///{tmp_path / 'nested' / 'feedback.db'}")
    yield store
    store.close()


def test_sqlite_runs_in_wal_mode_with_full_sync(store):
    with store.engine.connect() as connection:
        assert connection.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(sa.text("PRAGMA synchronous")).scalar() == 2  # FULL


def test_add_is_idempotent_on_the_client_event_id(store):
    assert store.add([event(1), event(2), event(1)]).__dict__ == {"stored": 2, "duplicates": 1}
    assert store.add([event(2), event(3)]).__dict__ == {"stored": 1, "duplicates": 1}
    assert store.count() == 3


def test_unknown_backends_are_refused():
    with pytest.raises(ValueError, match="feedback_url"):
        FeedbackStore("mysql://localhost/x")


def test_export_writes_a_log_the_readers_take(store, tmp_path):
    from recsys.readers import read_interactions

    store.add(
        [
            event(1, "impression"),
            event(2, "click", event_time=1_700_000_000.7),
            event(3, "rating", rating=2.0),
            event(4, "return", reason="too_large"),
            event(5, "purchase"),
        ]
    )
    out = tmp_path / "log.csv"
    assert export_log(store, out) == 3
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["item_id"], r["rating"], r["event"]) for r in rows] == [
        ("i2", "5", "click"),
        ("i3", "2", "rating"),
        ("i5", "5", "purchase"),
    ]
    assert rows[0]["timestamp"] == "1700000000"
    log = read_interactions(out)
    assert len(log) == 3 and log.ratings is not None and log.timestamps is not None
    assert export_log(store, out, types=["return"]) == 1
    with pytest.raises(ValueError, match="unknown event types"):
        export_log(store, out, types=["like"])


def test_since_filters_on_when_events_were_received(store, tmp_path, monkeypatch):
    import serving.feedback

    monkeypatch.setattr(serving.feedback.time, "time", lambda: 1000.0)
    store.add([event(1)])
    monkeypatch.setattr(serving.feedback.time, "time", lambda: 2000.0)
    store.add([event(2)])
    assert export_log(store, tmp_path / "all.csv") == 2
    assert export_log(store, tmp_path / "new.csv", since=1500) == 1


def test_concurrent_overlapping_batches_store_each_event_once(store):
    from concurrent.futures import ThreadPoolExecutor

    batches = [[event(i) for i in range(start, start + 50)] for start in range(0, 400, 25)]  # each id twice
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(store.add, batches))
    assert sum(r.stored for r in results) == store.count() == 425


def test_workers_starting_on_a_new_database_at_once_all_open_it(tmp_path):
    """Two workers on a fresh file race between "is the table there?" and "create it"."""
    import multiprocessing

    for attempt in range(3):
        url = f"sqlite:///{tmp_path / f'race-{attempt}.db'}"
        context = multiprocessing.get_context("spawn")
        with context.Pool(4) as pool:
            backends = pool.map(_open_store, [url] * 4)
        assert backends == ["sqlite"] * 4


def test_a_lost_creation_race_is_retried(tmp_path, monkeypatch):
    import sqlalchemy as sa

    from serving import feedback

    real, calls = feedback.metadata.create_all, []

    def lose_once(engine):
        calls.append(engine)
        if len(calls) == 1:
            real(engine)  # another worker made the table between the check and the create
            raise sa.exc.OperationalError(
                "CREATE TABLE", {}, Exception("table feedback_events already exists")
            )
        real(engine)

    monkeypatch.setattr(feedback.metadata, "create_all", lose_once)
    store = FeedbackStore(f"sqlite:///{tmp_path / 'f.db'}")
    assert len(calls) == 2 and store.backend == "sqlite"
    monkeypatch.setattr(
        feedback.metadata,
        "create_all",
        lambda engine: (_ for _ in ()).throw(sa.exc.OperationalError("X", {}, Exception("disk I/O error"))),
    )
    with pytest.raises(sa.exc.OperationalError, match="disk I/O"):
        FeedbackStore(f"sqlite:///{tmp_path / 'g.db'}")


def _open_store(url: str) -> str:
    store = FeedbackStore(url)
    backend = store.backend
    store.close()
    return backend
