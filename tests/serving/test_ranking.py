from recsys.recommender import Recommendation, Recommender


class Reverse:
    """A stand-in second stage: the retrieved order, reversed, with new scores."""

    def __init__(self) -> None:
        self.seen: list[tuple[object, Recommendation]] = []

    def rerank(
        self, recommender: Recommender, request, candidates: Recommendation
    ) -> tuple[list[str], list[float]]:
        self.seen.append((request, candidates))
        items = candidates.items[::-1]
        return items, [float(len(items) - i) for i in range(len(items))]


def test_the_ranker_gets_the_candidates_and_sets_the_order(make_client, served):
    ranker = Reverse()
    client = make_client(ranker=ranker, candidates=20)
    recommender = Recommender.load(served.model_dir)
    user = str(recommender.user_ids[1])
    body = client.post("/v1/recommendations", json={"user_id": user, "k": 5}).json()
    [(request, candidates)] = ranker.seen
    assert request.user_id == user and request.k == 5
    assert candidates.items == recommender.recommend(user, 20).items and candidates.source == "exact"
    assert body["items"] == candidates.items[::-1][:5]
    assert body["scores"] == [20.0, 19.0, 18.0, 17.0, 16.0]
    assert (body["stage"], body["source"]) == ("reranker", "exact")
    assert 'alignrec_stage_seconds_count{stage="rerank"} 1.0' in client.get("/metrics").text


def test_the_allow_list_is_applied_before_the_ranker(make_client):
    ranker = Reverse()
    client = make_client(ranker=ranker, candidates=120)
    allowed = ["i1", "i2", "i3"]
    body = client.post("/v1/recommendations", json={"recent_items": ["i9"], "allow_items": allowed}).json()
    [(_, candidates)] = ranker.seen
    assert set(candidates.items) == set(allowed) and body["items"] == candidates.items[::-1]


def test_without_a_ranker_only_k_items_are_retrieved(client, monkeypatch):
    asked = []
    recommender = client.app.state.serving.model.recommender
    original = recommender.recommend
    monkeypatch.setattr(
        recommender, "recommend", lambda user, k, **kw: asked.append(k) or original(user, k, **kw)
    )
    client.post("/v1/recommendations", json={"user_id": "u1", "k": 7})
    client.post("/v1/recommendations", json={"user_id": "u1", "k": 7, "allow_items": ["i1"]})
    assert asked == [7, 100]
