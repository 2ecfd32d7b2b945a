import pytest

LEFT = {"id": "mine-1", "price": 100.0}


def test_a_pair_gets_a_probability_and_an_explanation(client, served):
    right_id, title = next(iter(served.catalog_titles.items()))
    response = client.post(
        "/v1/products/match",
        json={"left": {**LEFT, "title": title}, "right": {"id": right_id, "title": title, "price": 101.0}},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["left_id"] == "mine-1" and 0 < body["threshold"] < 1
    [pair] = body["matches"]
    assert pair["right_id"] == right_id and 0 <= pair["probability"] <= 1
    assert pair["match"] == (pair["probability"] >= body["threshold"])
    assert pair["why"].count("=") == 3  # three features with their values and contributions


def test_one_listing_is_matched_against_the_catalog(client, served):
    right_id, title = list(served.catalog_titles.items())[4]
    body = client.post("/v1/products/match", json={"left": {**LEFT, "title": title}, "k": 3}).json()
    assert len(body["matches"]) == 3
    probabilities = [m["probability"] for m in body["matches"]]
    assert probabilities == sorted(probabilities, reverse=True)
    assert body["matches"][0]["right_id"] == right_id  # its own title is the best candidate


def test_matching_disabled_or_without_catalog(make_client):
    no_matcher = make_client(matcher_model=None, catalog=None)
    response = no_matcher.post("/v1/products/match", json={"left": {**LEFT, "title": "a phone"}})
    assert response.status_code == 404 and "ALIGNREC_MATCHER_MODEL" in response.json()["detail"]
    no_catalog = make_client(catalog=None)
    response = no_catalog.post("/v1/products/match", json={"left": {**LEFT, "title": "a phone"}})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "right"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"left": {"id": "a"}}, ["body", "left", "title"]),
        ({"left": {"id": "a", "title": ""}}, ["body", "left", "title"]),
        ({"left": {"id": "a", "title": "x", "price": -1}}, ["body", "left", "price"]),
        ({"left": {"id": "a", "title": "x", "image": "/etc/passwd"}}, ["body", "left", "image"]),
        (
            {"left": {"id": "a", "title": "x", "specifications": {"ram": 8}}},
            ["body", "left", "specifications", "ram"],
        ),
        ({"left": {"id": "a", "title": "x"}, "k": 0}, ["body", "k"]),
    ],
)
def test_invalid_listings_name_the_field(client, body, field):
    response = client.post("/v1/products/match", json=body)
    assert response.status_code == 422
    assert field in [error["loc"] for error in response.json()["detail"]]
