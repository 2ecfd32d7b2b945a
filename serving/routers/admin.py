"""``POST /v1/admin/reload``: serve another model version without dropping requests in flight."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from serving.deps import Admin, State, invalid
from serving.reloads import announce, reload_model
from serving.schemas import ModelInfo, ReloadRequest, ReloadResponse

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Admin])


@router.post("/reload", responses={401: {"description": "wrong key"}, 403: {"description": "admin disabled"}})
async def reload(state: State, body: ReloadRequest | None = None) -> ReloadResponse:
    """Load the model (again from where it came, or from ``model_dir`` / ``model_uri``) and the
    configured two-stage ranker beside the ones being served, then swap: requests already running
    finish on the old ones. With several workers the others follow (``serving.reloads``)."""
    current = state.model
    model_dir, model_uri = current.model_dir, current.model_uri
    if body is not None and (body.model_dir or body.model_uri):
        model_dir, model_uri = (Path(body.model_dir) if body.model_dir else None), body.model_uri
    try:
        previous, loaded = await reload_model(state, model_dir, model_uri)
    except (ValueError, FileNotFoundError) as error:  # ArtifactError is a ValueError
        raise invalid(("body", "model_uri" if model_uri else "model_dir"), str(error)) from None
    if state.settings.reload_file is not None:
        announce(state.settings.reload_file, loaded)
    return ReloadResponse(previous=ModelInfo(**previous.describe()), current=ModelInfo(**loaded.describe()))
