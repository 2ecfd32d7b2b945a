"""Serve saved models over HTTP from this process, so an A/B test calls its arms through the
serving API as it would call a deployed service.

:func:`serve_models` starts one ``serving`` app per model (uvicorn on a free local port, in a
daemon thread of this process) and yields their base URLs; the servers stop when the block ends.
Each app has its own SQLite feedback store in ``folder`` (what ``HTTPFeedback`` writes to).
Needs the ``serve`` extra (FastAPI, uvicorn).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def serve_models(
    model_dirs: Mapping[str, Path], folder: Path, start_timeout: float = 60.0
) -> Iterator[dict[str, str]]:
    """Serve each saved ``Recommender`` folder of ``model_dirs`` (name -> folder); yields name -> URL.

    Raises ``RuntimeError`` naming the model when a server does not start within
    ``start_timeout`` seconds (e.g. a folder that does not load)."""
    import uvicorn

    from serving.config import Settings
    from serving.main import create_app
    from serving.ports import free_port

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    servers: dict[str, uvicorn.Server] = {}
    threads: list[threading.Thread] = []
    urls: dict[str, str] = {}
    try:
        deadline = time.monotonic() + start_timeout
        for name, model_dir in model_dirs.items():
            settings = Settings(model_dir=model_dir, feedback_url=f"sqlite:///{folder / name}.db")
            port = free_port()
            config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
            server = servers[name] = uvicorn.Server(config)
            threads.append(threading.Thread(target=server.run, name=f"serve-{name}", daemon=True))
            threads[-1].start()
            # Each server listens before the next port is chosen: a free port is free until bound,
            # so two servers picked together could be handed the same one.
            while not server.started:
                if not threads[-1].is_alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"{name}: the server for {model_dir} did not start")
                time.sleep(0.05)
            urls[name] = f"http://127.0.0.1:{port}"
        yield urls
    finally:
        for server in servers.values():
            server.should_exit = True
        for thread in threads:
            thread.join(30)
