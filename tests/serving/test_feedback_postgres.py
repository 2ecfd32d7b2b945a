"""The feedback store on a real PostgreSQL server (a throwaway cluster; skipped when none starts)."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from serving.feedback import FeedbackStore, export_log

pytestmark = pytest.mark.postgres


def events(ids, type_="click"):
    return [
        {"client_event_id": f"e{i}", "type": type_, "user_id": "u1", "item_id": f"i{i}", "event_time": None}
        for i in ids
    ]


def test_idempotent_batches_and_export(postgres_feedback_url, tmp_path):
    store = FeedbackStore(postgres_feedback_url)
    try:
        assert store.backend == "postgresql"
        assert store.add(events([1, 2, 2])).__dict__ == {"stored": 2, "duplicates": 1}
        assert store.add(events([2, 3])).__dict__ == {"stored": 1, "duplicates": 1}
        assert export_log(store, tmp_path / "log.csv") == 3
    finally:
        store.close()


def test_concurrent_overlapping_batches_store_each_event_once(postgres_feedback_url):
    store = FeedbackStore(postgres_feedback_url)
    try:
        batches = [events(range(start, start + 50)) for start in range(0, 400, 25)]  # each id in two batches
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(store.add, batches))
        assert sum(r.stored for r in results) == store.count() == 425
        assert sum(r.duplicates for r in results) == 16 * 50 - 425
    finally:
        store.close()


def test_the_service_over_postgresql(make_client, postgres_feedback_url):
    client = make_client(feedback_url=postgres_feedback_url)
    assert client.get("/readyz").json()["feedback_store"] == "postgresql"
    batch = {
        "events": [{"client_event_id": "x1", "type": "rating", "user_id": "u", "item_id": "i1", "rating": 3}]
    }
    assert client.post("/v1/feedback", json=batch).json() == {"stored": 1, "duplicates": 0}
    assert client.post("/v1/feedback", json=batch).json() == {"stored": 0, "duplicates": 1}
