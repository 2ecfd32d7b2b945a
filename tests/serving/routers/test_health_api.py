def test_health_and_readiness(client, served):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready" and body["feedback_store"] == "sqlite"
    assert body["model"]["model"] == "bpr" and body["model"]["source"] == str(served.model_dir)
    assert body["sizefit"] and body["matcher"]


def test_not_ready_when_the_store_is_unreachable(make_client, tmp_path):
    client = make_client()
    store = client.app.state.serving.store
    store.engine.dispose()
    (tmp_path / "feedback.db").unlink()
    (tmp_path / "feedback.db").mkdir()  # a folder where the database file was: cannot be opened
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["status"] == "not_ready"


def test_metrics_count_requests_by_route_and_stage_and_name_the_model(client):
    client.post("/v1/recommendations", json={"user_id": "u1", "k": 3})
    client.post("/v1/recommendations", json={"k": 0})
    client.get("/v1/items/i3/similar")
    client.get("/no/such/path")
    text = client.get("/metrics").text
    version = client.get("/readyz").json()["model"]["version"]
    assert 'alignrec_http_requests_total{method="POST",route="/v1/recommendations",status="200"} 1.0' in text
    assert 'alignrec_http_requests_total{method="POST",route="/v1/recommendations",status="422"} 1.0' in text
    assert 'route="/v1/items/{item_id}/similar",status="200"' in text
    assert 'route="unmatched",status="404"' in text
    assert 'alignrec_http_request_seconds_bucket{le="0.005",route="/v1/recommendations"}' in text
    assert 'alignrec_stage_seconds_count{stage="retrieval"} 1.0' in text
    assert f'version="{version}"' in text and 'model="bpr"' in text
