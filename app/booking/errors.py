"""One domain error type, mapped to an HTTP response with a reason the client can act on."""

from __future__ import annotations

from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import ConnectionPool, PoolTimeout
from starlette.concurrency import run_in_threadpool


class ApiError(Exception):
    """A request that cannot be served as asked; `detail` says why and what to do instead."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers
        self.extra = extra


def not_found(what: str, ident: object) -> ApiError:
    """404 for an object that does not exist in the caller's tenant (or at all: we never say which)."""
    return ApiError(404, f"{what} {ident} not found")


def install_handlers(app: FastAPI, pool: ConnectionPool[Any] | None = None) -> None:
    """Every error -> HTTP mapping of the service, in one place: ApiError with its status, a domain refusal as
    422, a request that fails validation as 422 (without its input), a value PostgreSQL cannot store as 422, and
    an unreachable database as 503 with Retry-After."""

    async def handle(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return JSONResponse({"detail": exc.detail, **exc.extra}, status_code=exc.status, headers=exc.headers)

    async def refused(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    async def invalid(_request: Request, exc: Exception) -> JSONResponse:
        # without the offending input: echoing it back costs a recursion per level of nesting (a body nested
        # 500 deep made the default handler fail with a 500), and repeats the client's data for nothing
        assert isinstance(exc, RequestValidationError)
        errors = [{key: err[key] for key in ("type", "loc", "msg") if key in err} for err in exc.errors()[:20]]
        return JSONResponse({"detail": errors}, status_code=422)

    async def db_unavailable(_request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, psycopg.OperationalError) and pool is not None:
            # after a failover every idle pooled connection is dead; drop them all now rather than
            # failing one request per connection
            await run_in_threadpool(pool.check)
        return JSONResponse({"detail": f"the database is unavailable ({type(exc).__name__}); retry shortly"},
                            status_code=503, headers={"Retry-After": "2"})

    async def bad_value(_request: Request, exc: Exception) -> JSONResponse:
        # e.g. a NUL byte in a text field, which PostgreSQL cannot store: the client's data, so a 4xx
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return JSONResponse({"detail": f"a value in the request cannot be stored: {reason}"}, status_code=422)

    app.add_exception_handler(psycopg.DataError, bad_value)
    app.add_exception_handler(PoolTimeout, db_unavailable)
    app.add_exception_handler(psycopg.OperationalError, db_unavailable)
    app.add_exception_handler(ApiError, handle)
    app.add_exception_handler(Refused, refused)
    app.add_exception_handler(RequestValidationError, invalid)


class Refused(Exception):
    """Domain input the service will not use (a calendar, a feed URL); answered as 422 with the message."""
