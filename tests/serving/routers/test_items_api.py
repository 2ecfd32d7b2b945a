import pytest

from recsys.recommender import Recommender


def test_similar_items_come_from_the_recommender(client, served):
    expected = Recommender.load(served.model_dir).similar_items("i5", 4)
    body = client.get("/v1/items/i5/similar", params={"k": 4}).json()
    assert body["item_id"] == "i5"
    assert body["items"] == [item for item, _ in expected]
    assert body["scores"] == pytest.approx([score for _, score in expected])
    assert "i5" not in body["items"]


def test_unknown_item_is_a_404_naming_it(client):
    response = client.get("/v1/items/no-such-item/similar")
    assert response.status_code == 404
    assert "no-such-item" in response.json()["detail"]


@pytest.mark.parametrize(
    ("k", "status"), [("0", 422), ("abc", 422), ("1001", 422), ("101", 422), ("100", 200)]
)
def test_k_is_bounded(client, k, status):
    response = client.get("/v1/items/i5/similar", params={"k": k})
    assert response.status_code == status
    if status == 422:
        assert response.json()["detail"][0]["loc"] == ["query", "k"]
