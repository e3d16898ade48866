"""What every request handler needs, built once per app: settings, pool, clock, cells, metrics."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from psycopg_pool import ConnectionPool

from booking.auth import Principal, authenticate, parse_bearer
from booking.cells import CellDirectory
from booking.db import Conn, global_tx, tenant_tx
from booking.errors import ApiError
from booking.observability import Metrics
from booking.settings import Settings
from booking.tenants import SLUG

Fetcher = Callable[[str], bytes]


@dataclass
class Context:
    """Dependencies of the handlers; tests build it with their own clock, fetcher and registry."""

    settings: Settings
    pool: ConnectionPool[Conn]
    clock: Callable[[], datetime]
    cells: CellDirectory
    metrics: Metrics
    fetch_ics: Fetcher

    @contextmanager
    def authed(self, request: Request) -> Iterator[tuple[Conn, Principal]]:
        """A transaction scoped to the caller's tenant, after checking the bearer token."""
        tenant_id, secret = parse_bearer(request.headers.get("authorization"))
        with tenant_tx(self.pool, tenant_id) as conn:
            user_id = authenticate(conn, secret)
            request.state.tenant_id = str(tenant_id)
            yield conn, Principal(tenant_id, user_id)

    def resolve_slug(self, request: Request, slug: str) -> uuid.UUID:
        """The id of the tenant homed in this cell under `slug`; 421 if it lives elsewhere, else 404."""
        if not SLUG.match(slug):
            raise ApiError(404, f"no business with slug {slug[:60]!r}")
        with global_tx(self.pool) as conn:
            row = conn.execute("SELECT tenant_id, home_cell FROM tenant_directory WHERE slug = %s",
                               (slug,)).fetchone()
        if row is not None and row["home_cell"] == self.settings.cell:
            request.state.tenant_id = str(row["tenant_id"])
            return uuid.UUID(str(row["tenant_id"]))
        raise self._elsewhere(request, slug, None if row is None else row["home_cell"])

    def _elsewhere(self, request: Request, slug: str, home: str | None) -> ApiError:
        """421 towards the home cell of a slug this cell does not serve, or 404 if no cell has it."""
        if home is None:
            home = self.cells.remote_home(slug)
        if home is None:
            return ApiError(404, f"no business with slug {slug!r}")
        return self.misdirected(request, home, f"tenant {slug!r} is homed in cell {home!r}")

    def misdirected(self, request: Request, home: str, why: str) -> ApiError:
        """421 with the URL of the same path in the home cell."""
        base = self.cells.url_of(home)
        if base is None:
            return ApiError(421, f"{why}, which this cell has no URL for; check CELL_URLS", home_cell=home)
        target = base + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return ApiError(421, f"{why}; send the request there", home_url=target, home_cell=home)

    @contextmanager
    def public(self, request: Request, slug: str) -> Iterator[tuple[Conn, uuid.UUID]]:
        """A transaction scoped to the tenant behind a public slug.

        Looking the slug up and scoping the transaction is one round trip: set_config only receives the id
        when the directory says the tenant is homed in this cell.
        """
        if not SLUG.match(slug):  # cannot exist anywhere: answer without asking the database or other cells
            raise ApiError(404, f"no business with slug {slug[:60]!r}")
        with self.pool.connection() as conn, conn.transaction():
            row = conn.execute(
                "SELECT tenant_id, home_cell, set_config('app.tenant_id', CASE WHEN home_cell = %s "
                "THEN tenant_id::text ELSE '' END, true) FROM tenant_directory WHERE slug = %s",
                (self.settings.cell, slug)).fetchone()
            if row is not None and row["home_cell"] == self.settings.cell:
                request.state.tenant_id = str(row["tenant_id"])
                yield conn, uuid.UUID(str(row["tenant_id"]))
                return
        raise self._elsewhere(request, slug, None if row is None else row["home_cell"])


def ctx_of(request: Request) -> Context:
    """The Context of the app serving `request`."""
    ctx: Any = request.app.state.ctx
    assert isinstance(ctx, Context)
    return ctx
