import pytest

from recsys.recommender import Recommender


def test_known_user_gets_the_models_top_k(client, served):
    recommender = Recommender.load(served.model_dir)
    user = str(recommender.user_ids[3])
    response = client.post("/v1/recommendations", json={"user_id": user, "k": 5})
    assert response.status_code == 200
    body = response.json()
    expected = recommender.recommend(user, 5)
    assert body["items"] == expected.items
    assert body["scores"] == pytest.approx(expected.scores)
    assert (body["stage"], body["source"]) == ("retrieval", "exact")
    assert len(body["model_version"]) == 12
    again = client.post("/v1/recommendations", json={"user_id": user, "k": 5}).json()
    assert len(body["slate_id"]) == 32 and again["slate_id"] != body["slate_id"]  # one id per answer


def test_unknown_user_gets_the_cold_start_path_not_an_error(client):
    popular = client.post("/v1/recommendations", json={"user_id": "never-seen", "k": 4}).json()
    assert (popular["stage"], popular["source"]) == ("cold_start", "popularity")
    assert len(popular["items"]) == 4
    recent = client.post(
        "/v1/recommendations", json={"user_id": "never-seen", "recent_items": ["i1", "i2", "nope"], "k": 4}
    ).json()
    assert (recent["stage"], recent["source"]) == ("cold_start", "item_to_item")
    assert not {"i1", "i2"} & set(recent["items"])
    assert recent["ignored_items"] == ["nope"]
    anonymous = client.post("/v1/recommendations", json={"recent_items": ["i1"]}).json()
    assert anonymous["source"] == "item_to_item" and len(anonymous["items"]) == 10


def test_exclusions_and_allow_list(make_client, served):
    client = make_client(max_k=1000)
    recommender = Recommender.load(served.model_dir)
    user = str(recommender.user_ids[0])
    first = client.post("/v1/recommendations", json={"user_id": user, "k": 3}).json()["items"]
    without = client.post(
        "/v1/recommendations", json={"user_id": user, "k": 3, "exclude_items": first[:2]}
    ).json()["items"]
    assert not set(first[:2]) & set(without) and without[0] == first[2]
    seen = {str(recommender.item_ids[i]) for i in recommender.known[recommender.user_index(user)].indices}
    with_seen = client.post(
        "/v1/recommendations", json={"user_id": user, "k": 120, "exclude_seen": False}
    ).json()["items"]
    assert seen <= set(with_seen)
    allowed = with_seen[5:8]
    only = client.post(
        "/v1/recommendations", json={"user_id": user, "k": 10, "exclude_seen": False, "allow_items": allowed}
    ).json()
    assert only["items"] == allowed  # the same order, nothing else


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user_id": 7}, ["body", "user_id"]),
        ({"user_id": ""}, ["body", "user_id"]),
        ({"k": "10"}, ["body", "k"]),
        ({"k": 1.5}, ["body", "k"]),
        ({"k": 0}, ["body", "k"]),
        ({"k": 1001}, ["body", "k"]),
        ({"k": 101}, ["body", "k"]),  # over this server's ALIGNREC_MAX_K (100), under the API's 1000
        ({"exclude_seen": "yes"}, ["body", "exclude_seen"]),
        ({"recent_items": "i1"}, ["body", "recent_items"]),
        ({"recent_items": [1]}, ["body", "recent_items", 0]),
        ({"allow_items": []}, ["body", "allow_items"]),
        ({"exclude_items": ["i1"] * 10_001}, ["body", "exclude_items"]),
        ({"user": "u1"}, ["body", "user"]),
    ],
)
def test_invalid_requests_name_the_field(client, body, field):
    response = client.post("/v1/recommendations", json=body)
    assert response.status_code == 422
    assert field in [error["loc"] for error in response.json()["detail"]]
    assert ".".join(map(str, field)) in response.json()["message"]


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b'{"user_id": "u1", ', {"content-type": "application/json"}),
        (b"[1, 2]", {"content-type": "application/json"}),
        (b"", {"content-type": "application/json"}),
        (b'{"user_id": "u1"}', {"content-type": "text/plain"}),
    ],
)
def test_malformed_json_is_a_422(client, content, headers):
    response = client.post("/v1/recommendations", content=content, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "body"
