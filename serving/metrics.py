"""Prometheus metrics of one app (its own registry, so several apps in one process do not clash).

- ``alignrec_http_requests_total{route, method, status}`` and
  ``alignrec_http_request_seconds{route}``: every request, by route template (``/v1/items/{item_id}/similar``,
  not the raw path, so that ids do not become labels; unmatched paths count as ``unmatched``);
- ``alignrec_stage_seconds{stage}``: the stages of a recommendation (retrieval, filter, rerank);
- ``alignrec_model_info{model, version, source}``: 1 for the model being served (0 for versions
  served before a reload);
- ``alignrec_feedback_events_total{outcome}``: stored and duplicate feedback events; reloads.

With ``--workers N`` the workers are separate processes: ``alignrec serve`` then points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder, every worker writes its values there
(prometheus-client's multiprocess mode) and ``/metrics``, whichever worker answers, adds them up.
"""

from __future__ import annotations

import os
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Request latencies here are mostly 0.5-10 ms; the buckets resolve that range.
BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.003,
    0.004,
    0.005,
    0.0075,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    10.0,
)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "alignrec_http_requests", "HTTP requests", ["route", "method", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "alignrec_http_request_seconds",
            "HTTP request latency",
            ["route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.stage = Histogram(
            "alignrec_stage_seconds",
            "time in each recommendation stage",
            ["stage"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        # A gauge, not an Info: multiprocess mode has no Info metrics.
        self.model = Gauge(
            "alignrec_model_info",
            "1 for the recommender being served",
            ["model", "version", "source"],
            registry=self.registry,
            multiprocess_mode="max",
        )
        self._served: tuple[str, str, str] | None = None
        self.feedback = Counter(
            "alignrec_feedback_events", "feedback events received", ["outcome"], registry=self.registry
        )
        self.reloads = Counter("alignrec_reloads", "model reloads", registry=self.registry)

    def set_model(self, name: str, version: str, source: str) -> None:
        if self._served is not None:
            self.model.labels(*self._served).set(0)
        self._served = (name, version, source)
        self.model.labels(*self._served).set(1)

    def exposition(self) -> bytes:
        """The text format of this worker's metrics, or of every worker's in multiprocess mode."""
        if not os.environ.get(MULTIPROCESS_ENV):
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)


class MetricsMiddleware:
    """Pure ASGI middleware (cheaper than ``BaseHTTPMiddleware``) counting and timing requests."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(template, scope["method"], str(status)).inc()
            self.metrics.latency.labels(template).observe(time.perf_counter() - start)
