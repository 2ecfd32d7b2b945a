"""``POST /v1/products/match``: are two listings the same product, or which catalog listings match one."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from serving.deps import State, invalid
from serving.matching import match_pair, match_pairs
from serving.schemas import MatchRequest, MatchResponse

router = APIRouter(prefix="/v1/products", tags=["products"])


@router.post("/match", responses={404: {"description": "matching is not enabled on this server"}})
def match(body: MatchRequest, state: State) -> MatchResponse:
    """With ``right``: that pair's match probability. Without: the ``k`` best listings of the
    server's catalog. Each with the features that decided it (TreeSHAP, log-odds)."""
    if state.matcher is None:
        raise HTTPException(404, "product matching is not enabled on this server: set ALIGNREC_MATCHER_MODEL")
    cache = state.settings.vector_cache
    try:
        if body.right is not None:
            matches = [match_pair(state.matcher, body.left, body.right, cache)]
        elif state.catalog is not None:
            matches = match_pairs(state.matcher, body.left, state.catalog, body.k, cache)
        else:
            message = "required: this server has no catalog to search (ALIGNREC_CATALOG)"
            raise invalid(("body", "right"), message, "missing")
    except ValueError as error:  # a listing the matcher cannot read, named by the listing module
        raise invalid(("body",), str(error)) from None
    return MatchResponse(left_id=body.left.id, threshold=state.matcher.threshold, matches=matches)
