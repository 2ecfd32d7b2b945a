"""One way to get a Ray runtime for the library's parallel paths (tuning trials, A/B shards)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def ray_session(address: str | None, workers: int) -> Iterator[None]:
    """Use the Ray runtime already started, else start one for the block: an existing cluster at
    ``address``, or a local one with ``workers`` CPUs; a runtime started here is shut down after."""
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(
            address=address,
            num_cpus=None if address else workers,
            include_dashboard=False,
            log_to_driver=False,
        )
    try:
        yield
    finally:
        if started:
            ray.shutdown()
