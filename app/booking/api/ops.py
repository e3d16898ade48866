"""Liveness, readiness and metrics for load balancers, the monitor and Prometheus."""

from __future__ import annotations

import psycopg
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from psycopg_pool import PoolTimeout

from booking import __version__
from booking.clientaddr import VIA_PROXY
from booking.context import ctx_of
from booking.errors import ApiError
from booking.migrate import current_revision, head_revision

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz(request: Request) -> dict[str, str]:
    """The process is alive (says nothing about the database)."""
    return {"status": "ok", "cell": ctx_of(request).settings.cell, "version": __version__}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """200 when the database answers and its schema is the one this build expects, else 503 with why."""
    ctx = ctx_of(request)
    expected = head_revision()
    try:
        with ctx.pool.connection(timeout=2.0) as conn:
            found = current_revision(conn)
    except (PoolTimeout, psycopg.OperationalError) as exc:
        return JSONResponse({"status": "unavailable", "detail": f"database unreachable ({type(exc).__name__})"},
                            status_code=503)
    if found != expected:
        return JSONResponse({"status": "unavailable", "detail": f"schema revision is {found}, this build needs "
                             f"{expected}; run `booking migrate`"}, status_code=503)
    return JSONResponse({"status": "ready", "schema": found, "cell": ctx.settings.cell})


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus exposition of this process's metrics; only from inside the cell, never through the gateway."""
    if request.scope.get(VIA_PROXY):
        # the scraper runs inside the cell and connects to the VM directly; from the Internet it does not exist
        raise ApiError(404, "Not Found")
    ctx = ctx_of(request)
    ctx.metrics.observe_pool(ctx.pool.get_stats())
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)
