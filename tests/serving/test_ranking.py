"""The two-stage ranker behind ``POST /v1/recommendations``: known users get its answer (stage
``reranker``), unknown users the cold-start path; its retrievers are found and checked at start-up."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recsys.recommender import Recommender
from recsys.rerank import TwoStageRanker


@pytest.fixture
def ranked_client(make_client, ranker_dir):
    return make_client(ranker_dir=ranker_dir)


def expected(ranker_dir, user: str, k: int, exclude: list[str] = ()) -> list[str]:
    """What ``TwoStageRanker.rank`` answers, in original ids."""
    retrievers = {n: Recommender.load(ranker_dir.parent / n / "recommender") for n in ("itemknn", "pop")}
    lead = retrievers["itemknn"]
    skip = np.array([lead.item_index(i) for i in exclude], dtype=np.int64)
    items, _ = TwoStageRanker.load(ranker_dir).rank(retrievers, lead.user_index(user), k, exclude=skip)
    return [str(lead.item_ids[i]) for i in items]


def test_known_users_get_the_two_stage_answer(ranked_client, ranker_dir, served):
    user = str(Recommender.load(served.model_dir).user_ids[3])
    body = ranked_client.post("/v1/recommendations", json={"user_id": user, "k": 5}).json()
    assert (body["stage"], body["source"]) == ("reranker", "itemknn+pop")
    assert body["items"] == expected(ranker_dir, user, 5)
    assert body["scores"] == sorted(body["scores"], reverse=True)
    metrics = ranked_client.get("/metrics").text
    for stage in ("retrieval", "features", "lightgbm"):
        assert f'alignrec_stage_seconds_count{{stage="{stage}"}} 1.0' in metrics


def test_exclusions_reach_the_ranker(ranked_client, ranker_dir, served):
    user = str(Recommender.load(served.model_dir).user_ids[3])
    first = expected(ranker_dir, user, 5)
    request = {"user_id": user, "k": 5, "recent_items": first[:1], "exclude_items": [first[1], "nope"]}
    body = ranked_client.post("/v1/recommendations", json=request).json()
    assert body["items"] == expected(ranker_dir, user, 5, first[:2])
    assert not set(body["items"]) & set(first[:2]) and body["ignored_items"] == ["nope"]


def test_unknown_users_keep_the_cold_start_path(ranked_client):
    body = ranked_client.post("/v1/recommendations", json={"user_id": "stranger", "k": 4}).json()
    assert (body["stage"], body["source"], len(body["items"])) == ("cold_start", "popularity", 4)


def test_the_allow_list_filters_the_ranked_candidates(make_client, ranker_dir, served):
    client = make_client(ranker_dir=ranker_dir, candidates=40)
    user = str(Recommender.load(served.model_dir).user_ids[3])
    ranked = expected(ranker_dir, user, 40)
    allowed = [ranked[7], ranked[2], "not-a-candidate"]
    body = client.post("/v1/recommendations", json={"user_id": user, "k": 5, "allow_items": allowed}).json()
    assert body["items"] == [ranked[2], ranked[7]] and body["stage"] == "reranker"


def test_the_version_and_readiness_name_the_ranker(make_client, ranker_dir):
    plain, ranked = make_client(), make_client(ranker_dir=ranker_dir)
    assert plain.get("/readyz").json()["model"]["ranker"] is None
    model = ranked.get("/readyz").json()["model"]
    assert (
        model["ranker"] == str(ranker_dir)
        and model["version"] != plain.get("/readyz").json()["model"]["version"]
    )


def test_retriever_folders_can_be_named(make_client, ranker_dir, served, tmp_path):
    moved = {n: ranker_dir.parent / n / "recommender" for n in ("pop", "itemknn")}  # any order
    client = make_client(ranker_dir=ranker_dir, retriever_dirs=moved)
    user = str(Recommender.load(served.model_dir).user_ids[0])
    assert client.post("/v1/recommendations", json={"user_id": user}).json()["stage"] == "reranker"
    with pytest.raises(ValueError, match=r"missing \['pop'\]"):
        make_client(ranker_dir=ranker_dir, retriever_dirs={"itemknn": moved["itemknn"]})
    with pytest.raises(FileNotFoundError, match="no saved recommender"):
        make_client(ranker_dir=ranker_dir, retriever_dirs={**moved, "pop": tmp_path})


def test_retriever_dirs_from_the_environment(monkeypatch, ranker_dir, served):
    from serving.config import Settings

    folders = {"itemknn": "a/recommender", "pop": "b/recommender"}
    monkeypatch.setenv("ALIGNREC_MODEL_DIR", str(served.model_dir))
    monkeypatch.setenv("ALIGNREC_RANKER_DIR", str(ranker_dir))
    monkeypatch.setenv("ALIGNREC_RETRIEVER_DIRS", json.dumps(folders))
    settings = Settings()
    assert (
        settings.ranker_dir == ranker_dir
        and {n: str(p) for n, p in settings.retriever_dirs.items()} == folders
    )
    monkeypatch.delenv("ALIGNREC_RANKER_DIR")
    with pytest.raises(ValueError, match="needs ALIGNREC_RANKER_DIR"):
        Settings()


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
