"""``POST /v1/recommendations``: the k best items for a user, or for an anonymous visitor."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from serving.deps import State, check_limit
from serving.ranking import recommend
from serving.schemas import RecommendationRequest, RecommendationResponse

router = APIRouter(prefix="/v1", tags=["recommendations"])


@router.post("/recommendations", response_model=RecommendationResponse)
async def recommendations(body: RecommendationRequest, state: State) -> Response:
    """Known users are answered by the two-stage ranker when one is loaded (stage ``reranker``), else
    scored by the model (through its FAISS index when it has one); unknown users get item-to-item
    answers from ``recent_items``, or the most popular items (stage ``cold_start``)."""
    model = state.model  # this request's model, whatever a reload does meanwhile
    check_limit(body.k, state.settings.max_k, ("body", "k"), "ALIGNREC_MAX_K")
    ranked = recommend(model.recommender, model.ranker, body, state.settings.candidates, state.metrics)
    answer = ranked.answer
    response = RecommendationResponse(
        items=answer.items,
        scores=answer.scores,
        stage=ranked.stage,
        source=answer.source,
        model_version=model.version,
        ignored_items=answer.ignored_items,
        slate_id=uuid.uuid4().hex,
    )
    # Serialised here, once, by pydantic: FastAPI would validate the model again and encode it with
    # the json module (about a tenth of a request's time in the app).
    return Response(response.model_dump_json(), media_type="application/json")
