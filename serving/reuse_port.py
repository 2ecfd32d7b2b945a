"""Several worker processes, each with its own listening socket on one port (``SO_REUSEPORT``).

uvicorn's ``--workers N`` shares one listening socket: whichever worker's event loop wakes first
accepts the next connection, and a keep-alive connection then stays with that worker for good. Under
a client with a few long-lived connections the work can land on one worker (measured: one worker
took all 9,999 requests of a run, the other none). With ``SO_REUSEPORT`` every worker binds its own
socket to the same address and the kernel spreads new connections over them by a hash of the
connection's addresses, so the workers get about equal shares.

The parent process only starts the workers (``spawn``: each imports the app afresh), forwards
SIGINT/SIGTERM to them, and exits when they have stopped. Linux (and BSDs) only.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket


def listening_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A TCP socket bound to (host, port) with SO_REUSEPORT, listening."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise OSError("SO_REUSEPORT is not available on this system; use --no-reuse-port")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def worker(app: str, host: str, port: int, log_level: str) -> None:
    """One worker process: its own socket, the app built by the factory ``app``."""
    import uvicorn

    sock = listening_socket(host, port)
    config = uvicorn.Config(app, factory=True, log_level=log_level)
    uvicorn.Server(config).run(sockets=[sock])


def run_workers(app: str, host: str, port: int, workers: int, log_level: str = "info") -> int:
    """Start ``workers`` processes serving ``app`` on host:port and wait for them; returns the
    number that exited with an error."""
    probe = listening_socket(host, port)  # fail here, once, if the address is taken
    probe.close()
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=worker, args=(app, host, port, log_level), name=f"alignrec-worker-{i}")
        for i in range(workers)
    ]
    for process in processes:
        process.start()

    def stop(signum, _frame) -> None:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for process in processes:
            process.join()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return sum(1 for p in processes if p.exitcode not in (0, -signal.SIGTERM, None))
