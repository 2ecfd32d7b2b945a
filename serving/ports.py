"""A free local TCP port, for servers started by the demo, the A/B harness, benchmarks and tests."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A local TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
