"""``alignrec serve``: the HTTP service (``serving.main.create_app``) under uvicorn.

Options become the ``ALIGNREC_*`` environment variables that ``serving.config.Settings`` reads, so
that every uvicorn worker process builds the same settings; the admin key is read from
``ALIGNREC_ADMIN_API_KEY`` only (a command-line flag would show in the process list). FastAPI,
uvicorn and the models are imported inside the command, so that ``alignrec --help`` stays light.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()


def serve(
    model_dir: Annotated[
        Path | None,
        typer.Option(
            help="Saved recommender folder, e.g. RUN/bpr/recommender from `alignrec train --out RUN`."
        ),
    ] = None,
    model_uri: Annotated[
        str | None, typer.Option(help="Or an MLflow model, e.g. models:/alignrec-bpr@production.")
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI for --model-uri (default: alignrec's).")
    ] = None,
    ranker_dir: Annotated[
        Path | None,
        typer.Option(
            help="Two-stage ranker folder (`python -m benchmarks.rerank` writes "
            "ALIGNREC_HOME/bench/rerank/ranker); known users get its answers."
        ),
    ] = None,
    retriever: Annotated[
        list[str] | None,
        typer.Option(
            help="NAME=FOLDER of one of the ranker's retrievers (repeat); default "
            "RANKER_DIR/../NAME/recommender."
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(help="Worker processes (each loads the models; about one per core).")
    ] = 1,
    feedback_url: Annotated[
        str | None,
        typer.Option(
            help="Feedback store: sqlite:///FILE or postgresql+psycopg://... (default ALIGNREC_HOME/feedback.db)."
        ),
    ] = None,
    sizefit_model: Annotated[
        Path | None, typer.Option(help="Size-fit model file (`alignrec sizefit train`) for /v1/size-fit.")
    ] = None,
    matcher_model: Annotated[
        Path | None, typer.Option(help="Matcher file (`alignrec match train`) for /v1/products/match.")
    ] = None,
    catalog: Annotated[
        Path | None, typer.Option(help="Catalog (.csv/.jsonl) that a single listing is matched against.")
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    reuse_port: Annotated[
        bool,
        typer.Option(
            help="With --workers N: one SO_REUSEPORT socket per worker, so the kernel spreads "
            "connections evenly (uvicorn's shared socket can leave one worker with every keep-alive "
            "connection)."
        ),
    ] = True,
) -> None:
    """Serve recommendations, similar items, matching, size advice and feedback over HTTP."""
    import uvicorn
    from pydantic import ValidationError

    from serving.config import Settings

    retrievers = {}
    for given in retriever or []:
        name, sep, folder = given.partition("=")
        if not sep or not name or not folder:
            raise ValueError(f"--retriever {given!r}: expected NAME=FOLDER")
        retrievers[name] = str(Path(folder).resolve())
    options = {
        "MODEL_DIR": model_dir and model_dir.resolve(),
        "RANKER_DIR": ranker_dir and ranker_dir.resolve(),
        "RETRIEVER_DIRS": json.dumps(retrievers) if retrievers else None,
        "MODEL_URI": model_uri,
        "TRACKING_URI": tracking_uri,
        "FEEDBACK_URL": feedback_url,
        "SIZEFIT_MODEL": sizefit_model and sizefit_model.resolve(),
        "MATCHER_MODEL": matcher_model and matcher_model.resolve(),
        "CATALOG": catalog and catalog.resolve(),
    }
    for name, value in options.items():
        if value is not None:
            os.environ[f"ALIGNREC_{name}"] = str(value)
    try:
        settings = Settings()  # checked here, before workers start, to fail with one clear line
    except ValidationError as error:
        raise ValueError("; ".join(e["msg"].removeprefix("Value error, ") for e in error.errors())) from None
    if settings.model_dir is not None and not settings.model_dir.is_dir():
        raise FileNotFoundError(f"{settings.model_dir}: no saved recommender folder there")
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    console.print(f"OpenAPI docs: http://{shown}:{port}/docs  (schema: http://{shown}:{port}/openapi.json)")
    if settings.admin_api_key is None:
        console.print(
            "[dim]admin endpoints disabled: set ALIGNREC_ADMIN_API_KEY to enable /v1/admin/reload[/dim]"
        )
    if workers > 1:  # the workers share their metrics and their reloads through files
        shared = prometheus_multiprocess_dir()
        os.environ.setdefault("ALIGNREC_RELOAD_FILE", str(shared / "alignrec-reload.json"))
    if workers > 1 and reuse_port:
        from serving.reuse_port import run_workers

        failed = run_workers("serving.main:create_app", host, port, workers, log_level)
        if failed:
            raise typer.Exit(1)
        return
    uvicorn.run(
        "serving.main:create_app", factory=True, host=host, port=port, workers=workers, log_level=log_level
    )


def prometheus_multiprocess_dir() -> Path:
    """Point ``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder (unless the user set one), so that the
    worker processes share their metrics; the folder goes when the server exits."""
    import atexit
    import shutil
    import tempfile

    from serving.metrics import MULTIPROCESS_ENV

    given = os.environ.get(MULTIPROCESS_ENV)
    if given:
        return Path(given)
    folder = Path(tempfile.mkdtemp(prefix="alignrec-prometheus-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ[MULTIPROCESS_ENV] = str(folder)
    return folder
