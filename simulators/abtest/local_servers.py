"""Serve saved models over HTTP from this process, so an A/B test calls its arms through the
serving API as it would call a deployed service.

:func:`serve_models` starts one ``serving`` app per model (uvicorn on a free local port, in a
daemon thread of this process) and yields their base URLs; the servers stop when the block ends.
Each app has its own SQLite feedback store in ``folder`` (what ``HTTPFeedback`` writes to).
Needs the ``serve`` extra (FastAPI, uvicorn).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    """A local TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    servers: dict[str, uvicorn.Server] = {}
    threads: list[threading.Thread] = []
    urls: dict[str, str] = {}
    try:
        for name, model_dir in model_dirs.items():
            settings = Settings(model_dir=model_dir, feedback_url=f"sqlite:///{folder / name}.db")
            port = free_port()
            config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
            servers[name] = uvicorn.Server(config)
            threads.append(threading.Thread(target=servers[name].run, name=f"serve-{name}", daemon=True))
            threads[-1].start()
            urls[name] = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + start_timeout
        for (name, server), thread in zip(servers.items(), threads, strict=True):
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"{name}: the server for {model_dirs[name]} did not start")
                time.sleep(0.05)
        yield urls
    finally:
        for server in servers.values():
            server.should_exit = True
        for thread in threads:
            thread.join(30)
