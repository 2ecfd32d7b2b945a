"""Reloads shared by the worker processes of one server.

``POST /v1/admin/reload`` reaches one worker, whichever accepted the connection. That worker loads
the new model beside the old one, swaps, and then, when ``Settings.reload_file`` is set (``alignrec
serve --workers N`` sets it), writes what it now serves there (atomically): the model folder or
URI and the version. Every worker polls the file's modification time every
``reload_poll_seconds`` and, when the file names a version other than its own, loads the same
model and swaps in the same way, so that all workers serve the new version a poll interval (plus
the loading time) after the reload was acknowledged. A worker that cannot load it keeps serving
what it has and logs why.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from starlette.concurrency import run_in_threadpool

from recsys.storage import write_text_atomic
from serving.artifacts import LoadedModel, ServingState, load_model

logger = logging.getLogger(__name__)


async def reload_model(
    state: ServingState, model_dir: Path | None, model_uri: str | None
) -> tuple[LoadedModel, LoadedModel]:
    """Load ``model_dir`` or ``model_uri`` (with the configured ranker) beside the served model,
    then swap under the state's reload lock; returns (previous, loaded). Requests in flight finish
    on the previous model."""
    async with state.reload_lock:
        settings = state.settings
        loaded = await run_in_threadpool(
            load_model,
            model_dir,
            model_uri,
            settings.tracking_uri,
            settings.ranker_dir,
            settings.retriever_dirs,
        )
        previous = state.swap(loaded)
    state.metrics.reloads.inc()
    return previous, loaded


def announce(path: Path, model: LoadedModel) -> None:
    """Write where ``model`` came from and its version to ``path`` for the other workers."""
    source = {
        "model_dir": None if model.model_dir is None else str(Path(model.model_dir).resolve()),
        "model_uri": model.model_uri,
        "version": model.version,
    }
    write_text_atomic(path, json.dumps(source))


def announced(path: Path) -> dict | None:
    """What ``announce`` wrote, or None when there is no such file or it is not ours."""
    try:
        source = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        logger.warning("%s: not a reload announcement (%s); ignored", path, error)
        return None
    if not isinstance(source, dict) or not {"model_dir", "model_uri", "version"} <= set(source):
        logger.warning("%s: not a reload announcement (fields %s); ignored", path, source)
        return None
    return source


async def follow(state: ServingState, path: Path, seconds: float) -> None:
    """Forever (a lifespan task): reload whenever ``path`` announces another version."""
    seen = None
    while True:
        await asyncio.sleep(seconds)
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            continue
        if stamp == seen:
            continue
        seen = stamp
        source = announced(path)
        if source is None or source["version"] == state.model.version:
            continue
        model_dir = None if source["model_dir"] is None else Path(source["model_dir"])
        try:
            _, loaded = await reload_model(state, model_dir, source["model_uri"])
        except (ValueError, FileNotFoundError) as error:
            logger.warning("reload in %s failed, still serving %s: %s", path, state.model.version, error)
            continue
        logger.info("followed a reload to version %s (%s)", loaded.version, loaded.source)
