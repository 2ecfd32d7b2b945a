"""``create_app(settings)``: the FastAPI service over a trained ``Recommender`` and the product models.

Artifacts load once, in the lifespan, into a ``ServingState`` that handlers get through
``serving.deps``. Run it with ``alignrec serve`` or ``uvicorn --factory serving.main:create_app``
(settings from ``ALIGNREC_*`` environment variables, see ``serving.config``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from serving.artifacts import load_state
from serving.config import Settings
from serving.metrics import Metrics, MetricsMiddleware
from serving.reloads import follow
from serving.routers import admin, feedback, health, items, products, recommendations, sizefit


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app; ``settings`` default to the environment."""
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import torch
        from threadpoolctl import threadpool_limits

        # The server process is the entry point: it alone sets the thread counts (torch; BLAS and
        # OpenMP, which numpy, faiss and LightGBM use, through threadpoolctl, restored at shutdown).
        # One thread per worker serves small requests fastest on shared cores; scale with --workers.
        torch.set_num_threads(settings.threads)
        with threadpool_limits(limits=settings.threads):
            app.state.serving = load_state(settings, metrics)
            follower = None
            if settings.reload_file is not None:  # several workers: follow each other's reloads
                follower = asyncio.create_task(
                    follow(app.state.serving, settings.reload_file, settings.reload_poll_seconds)
                )
            yield
            if follower is not None:
                follower.cancel()
            app.state.serving.close()

    app = FastAPI(
        title="alignrec",
        summary="Recommendations, similar items, product matching, size advice and feedback.",
        version="1",
        lifespan=lifespan,
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_exception_handler(RequestValidationError, validation_error)
    for router in (
        recommendations.router,
        items.router,
        products.router,
        sizefit.router,
        feedback.router,
        health.router,
        admin.router,
    ):
        app.include_router(router)
    return app


async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    """422 listing each bad field by its location (``body.events.3.rating``), without echoing the
    input back (a 10,000-event batch would be returned whole)."""
    errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in error.errors()]
    message = "; ".join(".".join(str(part) for part in e["loc"]) + f": {e['msg']}" for e in errors)
    return JSONResponse({"detail": errors, "message": message}, status_code=422)
