"""What handlers receive, as ``Annotated`` dependency aliases over the state ``create_app`` loaded.

Handlers take the one ``State`` and read ``state.model`` once, at their start: a reload meanwhile
does not change the model under a request. The dependencies are ``async def`` although they wait
for nothing: FastAPI runs a plain ``def`` dependency in its thread pool, which cost about 0.1 ms
per dependency per request (a third of a recommendation's time in the app).
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError

from serving.artifacts import ServingState


async def get_state(request: Request) -> ServingState:
    return request.app.state.serving


State = Annotated[ServingState, Depends(get_state)]


async def require_admin(state: State, x_api_key: Annotated[str | None, Header()] = None) -> None:
    """403 when admin is disabled (no key configured), 401 without the right ``X-API-Key``."""
    expected = state.settings.admin_api_key
    if expected is None:
        raise HTTPException(403, "admin endpoints are disabled: set ALIGNREC_ADMIN_API_KEY to enable them")
    if x_api_key is None or not secrets.compare_digest(
        x_api_key.encode(), expected.get_secret_value().encode()
    ):
        raise HTTPException(401, "header X-API-Key: missing or wrong", headers={"WWW-Authenticate": "ApiKey"})


Admin = Depends(require_admin)


def invalid(loc: tuple[str, ...], message: str, kind: str = "value_error") -> RequestValidationError:
    """A 422 in the shape of FastAPI's own validation errors, for checks the schemas cannot make."""
    return RequestValidationError([{"loc": loc, "msg": message, "type": kind}])


def check_limit(value: int, limit: int, loc: tuple[str, ...], setting: str) -> None:
    """422 naming the field at ``loc`` when a request goes past this server's limit (the schemas
    hold the API's own, larger ceilings)."""
    if value > limit:
        raise invalid(loc, f"at most {limit} on this server ({setting}), got {value}", "too_large")
