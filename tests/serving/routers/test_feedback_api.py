import pytest

EVENTS = [
    {"client_event_id": "e1", "type": "impression", "user_id": "u1", "item_id": "i1", "position": 0},
    {"client_event_id": "e2", "type": "click", "user_id": "u1", "item_id": "i1", "timestamp": 1_750_000_000},
    {"client_event_id": "e3", "type": "add_to_cart", "user_id": "u1", "item_id": "i1"},
    {"client_event_id": "e4", "type": "purchase", "user_id": "u1", "item_id": "i1", "model_version": "abc"},
    {"client_event_id": "e5", "type": "rating", "user_id": "u1", "item_id": "i1", "rating": 4.5},
    {"client_event_id": "e6", "type": "return", "user_id": "u1", "item_id": "i1", "reason": "too_small"},
]


def test_a_batch_is_stored_once_however_often_it_is_sent(client):
    assert client.post("/v1/feedback", json={"events": EVENTS}).json() == {"stored": 6, "duplicates": 0}
    assert client.post("/v1/feedback", json={"events": EVENTS}).json() == {"stored": 0, "duplicates": 6}
    overlapping = [
        *EVENTS[4:],
        {**EVENTS[0], "client_event_id": "e7"},
        {**EVENTS[0], "client_event_id": "e7"},
    ]
    assert client.post("/v1/feedback", json={"events": overlapping}).json() == {"stored": 1, "duplicates": 3}
    store = client.app.state.serving.store
    assert store.count() == 7
    assert sorted(store.client_event_ids()) == ["e1", "e2", "e3", "e4", "e5", "e6", "e7"]


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"type": "rating"}, ["body", "events", 1, "rating", "rating"]),
        ({"type": "rating", "rating": 11}, ["body", "events", 1, "rating", "rating"]),
        ({"type": "return"}, ["body", "events", 1, "return", "reason"]),
        ({"type": "return", "reason": "meh"}, ["body", "events", 1, "return", "reason"]),
        ({"type": "click", "rating": 3}, ["body", "events", 1, "click", "rating"]),
        ({"type": "like"}, ["body", "events", 1]),
        ({"type": "click", "client_event_id": ""}, ["body", "events", 1, "click", "client_event_id"]),
        ({"type": "click", "user_id": 5}, ["body", "events", 1, "click", "user_id"]),
        ({"type": "click", "timestamp": "yesterday"}, ["body", "events", 1, "click", "timestamp"]),
        ({"type": "click", "timestamp": -1}, ["body", "events", 1, "click", "timestamp"]),
    ],
)
def test_invalid_events_name_the_index_and_field_and_store_nothing(client, event, field):
    bad = {"client_event_id": "bad", "user_id": "u1", "item_id": "i1", **event}
    response = client.post("/v1/feedback", json={"events": [EVENTS[0], bad]})
    assert response.status_code == 422
    assert field in [error["loc"] for error in response.json()["detail"]]
    assert client.app.state.serving.store.count() == 0  # the valid event of the batch is not stored either


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": []}, ["body", "events"]),
        ({}, ["body", "events"]),
        ({"events": EVENTS, "x": 1}, ["body", "x"]),
    ],
)
def test_empty_missing_or_unknown_fields(client, body, field):
    response = client.post("/v1/feedback", json=body)
    assert response.status_code == 422 and field in [e["loc"] for e in response.json()["detail"]]


def test_oversized_batches_are_refused(make_client):
    client = make_client(max_batch_size=5)
    response = client.post("/v1/feedback", json={"events": EVENTS})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "events"]
    assert "ALIGNREC_MAX_BATCH_SIZE" in response.json()["message"]
    huge = [{**EVENTS[1], "client_event_id": f"e{i}"} for i in range(10_001)]
    response = client.post("/v1/feedback", json={"events": huge})
    assert response.status_code == 422 and len(response.content) < 1000  # the input is not echoed back
