"""``GET /v1/items/{item_id}/similar``: the nearest items to one item."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from recsys.recommender import UnknownItemError
from serving.deps import State, check_limit
from serving.schemas import MAX_K, SimilarItemsResponse

router = APIRouter(prefix="/v1/items", tags=["items"])


@router.get("/{item_id}/similar", responses={404: {"description": "the item is not in the catalog"}})
async def similar_items(
    item_id: Annotated[str, Path(min_length=1, max_length=256)],
    state: State,
    k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
) -> SimilarItemsResponse:
    """Cosine neighbours for dot-product models, nearest vectors for metric models, neighbour
    similarity for ItemKNN; the item itself is left out."""
    model = state.model  # this request's model, whatever a reload does meanwhile
    check_limit(k, state.settings.max_k, ("query", "k"), "ALIGNREC_MAX_K")
    try:
        pairs = model.recommender.similar_items(item_id, k)
    except UnknownItemError as error:
        raise HTTPException(404, f"item_id: {error.args[0]}") from None
    return SimilarItemsResponse(
        item_id=item_id,
        items=[i for i, _ in pairs],
        scores=[s for _, s in pairs],
        model_version=model.version,
    )
