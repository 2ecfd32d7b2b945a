import threading

from recsys.recommender import Recommender


def test_reload_swaps_the_model_version(client, served, admin):
    user = str(Recommender.load(served.model_dir).user_ids[0])
    before = client.post("/v1/recommendations", json={"user_id": user}).json()
    response = client.post("/v1/admin/reload", headers=admin, json={"model_dir": str(served.other_model_dir)})
    assert response.status_code == 200
    swap = response.json()
    assert swap["previous"]["version"] == before["model_version"] != swap["current"]["version"]
    after = client.post("/v1/recommendations", json={"user_id": user}).json()
    assert after["model_version"] == swap["current"]["version"]
    assert after["items"] == Recommender.load(served.other_model_dir).recommend(user, 10).items
    assert f'version="{swap["current"]["version"]}"' in client.get("/metrics").text
    again = client.post("/v1/admin/reload", headers=admin).json()  # from where it is
    assert again["current"]["version"] == swap["current"]["version"]
    assert again["current"]["source"] == str(served.other_model_dir)


def test_reload_needs_the_key_and_a_readable_model(client, tmp_path, admin):
    assert client.post("/v1/admin/reload").status_code == 401
    assert client.post("/v1/admin/reload", headers={"X-API-Key": "wrong"}).status_code == 401
    missing = client.post("/v1/admin/reload", headers=admin, json={"model_dir": str(tmp_path)})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "model_dir"]
    both = client.post("/v1/admin/reload", headers=admin, json={"model_dir": "a", "model_uri": "b"})
    assert both.status_code == 422


def test_admin_is_disabled_without_a_key(make_client):
    client = make_client(admin_api_key=None)
    response = client.post("/v1/admin/reload", headers={"X-API-Key": "anything"})
    assert response.status_code == 403 and "ALIGNREC_ADMIN_API_KEY" in response.json()["detail"]


def test_requests_during_a_reload_are_all_answered(client, served, admin):
    user = str(Recommender.load(served.model_dir).user_ids[0])
    versions, statuses, stop = set(), [], threading.Event()

    def load() -> None:
        while not stop.is_set():
            response = client.post("/v1/recommendations", json={"user_id": user, "k": 5})
            statuses.append(response.status_code)
            versions.add(response.json()["model_version"])

    workers = [threading.Thread(target=load) for _ in range(2)]
    for worker in workers:
        worker.start()
    for folder in (served.other_model_dir, served.model_dir, served.other_model_dir):
        reload = client.post("/v1/admin/reload", headers=admin, json={"model_dir": str(folder)})
        assert reload.status_code == 200
    stop.set()
    for worker in workers:
        worker.join()
    assert statuses and set(statuses) == {200}
    assert len(versions) == 2
