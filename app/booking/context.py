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

from booking.auth.roles import check_role
from booking.auth.sessions import COOKIE, check_csrf, session_principal, session_tenant
from booking.auth.throttle import LoginThrottle
from booking.auth.tokens import ALL, Principal, TokenHasher, authenticate, parse_bearer
from booking.calendars.sync import FeedSync
from booking.cells import CellDirectory
from booking.db import Conn, global_tx, tenant_tx
from booking.errors import ApiError
from booking.images import ImageStore
from booking.observability import Metrics
from booking.providers import Revoker
from booking.ratelimit import AddressRateLimit
from booking.secrets.keystore import KeyStore
from booking.settings import Settings
from booking.tenants import SLUG

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Which scope an owner endpoint needs, by path prefix; anything else (credentials, integrations, privacy)
# needs a full login token or a web session.
AREAS = (("/v1/bookings", "bookings"), ("/v1/staff", "catalog"), ("/v1/services", "catalog"),
         ("/v1/questions", "catalog"), ("/v1/tenant", "tenant"))


def required_scope(method: str, path: str) -> str:
    """The scope a request needs: `area:read` for safe methods, `area:write` otherwise, else `*`."""
    for prefix, area in AREAS:
        # /v1/tenant/... (export, erase, plan, retention) is not "tenant:read": it needs a full credential
        if path == prefix or (area != "tenant" and path.startswith(prefix + "/")):
            return f"{area}:{'read' if method in SAFE_METHODS else 'write'}"
    return ALL


def route_of(request: Request) -> str:
    """The matched route's template (e.g. /v1/staff/{staff_id}); "" if routing set none, which no role's
    allow-list names, so such a request is owner-only."""
    route = request.scope.get("route")
    return str(getattr(route, "path", ""))


@dataclass
class Context:
    """Dependencies of the handlers; tests build it with their own clock, feed fetcher and registry."""

    settings: Settings
    pool: ConnectionPool[Conn]
    clock: Callable[[], datetime]
    cells: CellDirectory
    metrics: Metrics
    feeds: FeedSync
    tokens: TokenHasher
    throttle: LoginThrottle
    keys: KeyStore | None
    revoke: Revoker
    anonymous: AddressRateLimit
    images: ImageStore | None = None

    @contextmanager
    def authed(self, request: Request, scope: str | None = None,
               csrf: str | None = None) -> Iterator[tuple[Conn, Principal]]:
        """A transaction scoped to the caller's tenant, after checking its credential and scope.

        A bearer token wins; without one, the `__Host-session` cookie, which on unsafe methods also needs
        the session's CSRF token (header `X-CSRF-Token`, or `csrf` from a form field).
        """
        header = request.headers.get("authorization")
        cookie = request.cookies.get(COOKIE)
        now = self.clock()
        if header is None and cookie:
            tenant_id = session_tenant(cookie)
            if request.method not in SAFE_METHODS:
                check_csrf(self.tokens, cookie, csrf or request.headers.get("x-csrf-token"))
        else:
            tenant_id, token = parse_bearer(header)
        with tenant_tx(self.pool, tenant_id) as conn:
            if header is None and cookie:
                principal = session_principal(conn, self.tokens, tenant_id, cookie, now)
            else:
                principal = authenticate(conn, self.tokens, tenant_id, token, now)
            needed = scope or required_scope(request.method, request.url.path)
            if not principal.allows(needed):
                raise ApiError(403, f"this token's scopes {list(principal.scopes)} do not include {needed!r}; "
                                    "create a token with that scope")
            check_role(principal, request.method, route_of(request), request.path_params)
            request.state.tenant_id = str(tenant_id)
            yield conn, principal

    def resolve_slug(self, request: Request, slug: str) -> uuid.UUID:
        """The id of the tenant homed in this cell under `slug`; 421 if it lives elsewhere, else 404."""
        if not SLUG.fullmatch(slug):
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
        if not SLUG.fullmatch(slug):  # cannot exist anywhere: answer without asking the database or other cells
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
