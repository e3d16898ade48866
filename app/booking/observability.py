"""Prometheus metrics and JSON request logs (request id and tenant id; never personal data)."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
log = logging.getLogger("booking.access")


class Metrics:
    """The service's metrics, registered in the given registry (tests pass a fresh one)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter("booking_http_requests_total", "HTTP requests by route, method and status",
                                ["route", "method", "status"], registry=registry)
        self.latency = Histogram("booking_http_request_duration_seconds", "HTTP request latency by route",
                                 ["route", "method"], registry=registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.bookings_created = Counter("booking_bookings_created_total", "Bookings created", registry=registry)
        self.conflicts = Counter("booking_booking_conflicts_total", "Booking attempts refused with 409",
                                 ["reason"], registry=registry)
        self.pool = Gauge("booking_db_pool_connections", "Database pool connections by state", ["state"],
                          registry=registry)

    def observe_pool(self, stats: dict[str, int]) -> None:
        """Copy psycopg_pool's get_stats() into gauges (called on each scrape)."""
        size = stats.get("pool_size", 0)
        available = stats.get("pool_available", 0)
        self.pool.labels("size").set(size)
        self.pool.labels("idle").set(available)
        self.pool.labels("in_use").set(size - available)
        self.pool.labels("max").set(stats.get("pool_max", 0))
        self.pool.labels("waiting").set(stats.get("requests_waiting", 0))


class JsonFormatter(logging.Formatter):
    """One JSON object per line; structured fields come from `extra={"fields": {...}}`."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        doc.update(getattr(record, "fields", {}))
        if record.exc_info:
            doc["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(doc, default=str)


def configure_logging(level: str = "INFO") -> None:
    """Send the booking and uvicorn error loggers to stderr as JSON lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    for name in ("booking", "uvicorn.error"):  # uvicorn's own errors in the same format
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False


class ObservabilityMiddleware:
    """Gives each request an id, then records its metrics and one access-log line.

    The log line names the route template (`/v1/staff/{staff_id}`), never the raw path or the body, so
    no customer name, email or phone can reach the logs.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, clock: Callable[[], float] = time.perf_counter) -> None:
        self.app = app
        self.metrics = metrics
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500
        started = self.clock()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = self.clock() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route, method).observe(elapsed)
            log.info("request", extra={"fields": {
                "request_id": request_id, "tenant_id": state.get("tenant_id"), "method": method,
                "route": route, "status": status, "duration_ms": round(elapsed * 1000, 2)}})
