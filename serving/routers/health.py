"""``GET /healthz`` (alive), ``GET /readyz`` (models loaded, store reachable), ``GET /metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.exc import SQLAlchemyError

from serving.deps import State
from serving.schemas import Health, ModelInfo, Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz", responses={503: {"model": Readiness, "description": "the feedback store is unreachable"}}
)
def readyz(state: State, response: Response) -> Readiness:
    try:
        state.store.ping()
        store = state.store.backend
    except SQLAlchemyError as error:
        store = f"unreachable: {type(error).__name__}"
        response.status_code = 503
    return Readiness(
        status="ready" if response.status_code != 503 else "not_ready",
        model=ModelInfo(**state.model.describe()),
        sizefit=state.sizefit is not None,
        matcher=state.matcher is not None,
        feedback_store=store,
    )


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
async def metrics(state: State) -> Response:
    """Prometheus exposition of the counters and histograms (all workers' with ``--workers N``)."""
    return Response(state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
