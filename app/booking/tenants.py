"""Creating a tenant: shared by `POST /v1/signup` and `booking create-tenant`."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from booking.audit import record
from booking.auth.passwords import check_password, hash_password
from booking.auth.tokens import TokenHasher, issue_token
from booking.availability import zone
from booking.cells import CLAIM_TTL_S, COMMIT_MARGIN_S, CellDirectory, PeerUnreachable
from booking.db import global_tx, tenant_tx
from booking.errors import ApiError

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$")
# Top-level paths of the service; a tenant slug must not shadow them on the public page.
RESERVED = frozenset({"v1", "healthz", "readyz", "metrics", "openapi.json", "docs", "redoc", "static",
                      "admin", "api", "login", "logout", "account", "signup", "status", "images", "invite"})
PLANS = ("free", "pro", "enterprise")
# Seconds a client should wait before retrying a signup refused because another cell could not be asked.
RETRY_AFTER_S = 30
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class NewTenant:
    """Validated signup input."""

    slug: str
    name: str
    residency: str
    timezone: str
    owner_email: str
    owner_password: str
    plan: str = "free"


def validate(t: NewTenant, known_cells: list[str]) -> None:
    """Check every field, raising 422 that names the field, the value and what is allowed."""
    if not SLUG.fullmatch(t.slug) or t.slug in RESERVED:
        raise ApiError(422, f"tenant.slug={t.slug!r} is not allowed; use 3-40 lower-case letters, digits or "
                            f"'-', not starting or ending with '-', and not one of {sorted(RESERVED)}")
    if not t.name.strip() or len(t.name) > 200:
        raise ApiError(422, "tenant.name must be 1 to 200 characters")
    if t.residency not in known_cells:
        raise ApiError(422, f"tenant.residency={t.residency!r} is not served; allowed: {sorted(known_cells)}")
    zone(t.timezone, "tenant.timezone")
    if t.plan not in PLANS:
        raise ApiError(422, f"tenant.plan={t.plan!r} is not a plan; allowed: {list(PLANS)}")
    if not EMAIL.fullmatch(t.owner_email) or len(t.owner_email) > 254:
        raise ApiError(422, "owner.email is not an email address")
    check_password(t.owner_password, context=(t.name, t.slug, t.owner_email), field="owner.password")


def create_tenant(pool: Any, cells: CellDirectory, cell: str, t: NewTenant, tokens: TokenHasher | None,
                  token_expires_at: datetime | None = None) -> tuple[dict[str, Any], str | None]:
    """Create tenant, owner and first access token in this cell; returns (tenant, access_token).

    Without a token hasher (the CLI without SECRET_KEY) no token is issued: it could not be checked.

    Raises 421 (with `home_cell`) when the residency belongs to another cell, 409 when the slug exists
    here or in any other cell, 503 when another cell cannot be asked (nothing is created then).
    """
    validate(t, sorted({cell, *cells.cell_urls}))
    if t.residency != cell:
        raise ApiError(421, f"residency {t.residency!r} is served by cell {t.residency!r}, not {cell!r}",
                       home_cell=t.residency)
    taken = ApiError(409, f"tenant.slug={t.slug!r} is taken, or being signed up in another cell right now; "
                          "choose another (or retry in a minute)")
    # Hashing takes a noticeable moment: do it before the slug is reserved, so the reservation is short.
    password_hash = hash_password(t.owner_password)
    with global_tx(pool) as conn:
        if conn.execute("SELECT 1 FROM tenant_directory WHERE slug = %s", (t.slug,)).fetchone():
            raise taken
        # Reserved here even without PEER_KEY: a cell that does take claims may hold one on this slug.
        if not claim_slug(conn, t.slug, cell):
            raise taken
    cells.forget(t.slug)
    try:
        if _held_elsewhere_or_503(cells, t.slug):
            raise taken
    except ApiError:
        release_claim(pool, t.slug, cell)  # so this or another cell can try again at once
        raise
    tenant_id = uuid.uuid4()
    try:
        with tenant_tx(pool, tenant_id) as conn:
            # Commit only while our reservation still has COMMIT_MARGIN_S to live (the other cells' copies were
            # made after it and live at least as long); the DELETE also locks it until this transaction ends.
            still_ours = conn.execute(
                "DELETE FROM slug_claims WHERE slug = %s AND cell = %s AND expires_at > now() + "
                "make_interval(secs => %s) RETURNING slug", (t.slug, cell, COMMIT_MARGIN_S)).fetchone()
            if still_ours is None:
                raise ApiError(503, f"signing up tenant.slug={t.slug!r} took longer than its {CLAIM_TTL_S} s "
                                    "reservation; nothing was created, retry", headers={"Retry-After": "5"})
            conn.execute("INSERT INTO tenant_directory (slug, tenant_id, home_cell) VALUES (%s, %s, %s)",
                         (t.slug, tenant_id, cell))
            tenant = conn.execute(
                "INSERT INTO tenants (id, slug, name, home_cell, residency, timezone, plan) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id, slug, name, home_cell, residency, timezone, "
                "plan, created_at", (tenant_id, t.slug, t.name, cell, t.residency, t.timezone, t.plan)).fetchone()
            user = conn.execute("INSERT INTO users (tenant_id, email, password_hash, role) "
                                "VALUES (%s, %s, %s, 'owner') RETURNING id",
                                (tenant_id, t.owner_email.lower(), password_hash)).fetchone()
            assert tenant is not None
            assert user is not None
            record(conn, tenant_id, f"user:{user['id']}", "tenant.created", str(tenant_id))
            token = None if tokens is None else issue_token(conn, tokens, tenant_id, user["id"], name="signup",
                                                                  expires_at=token_expires_at)[1]
    except (ApiError, psycopg.errors.UniqueViolation) as exc:
        release_claim(pool, t.slug, cell)
        cells.withdraw(t.slug, [url for _name, url in cells.peers])
        if isinstance(exc, ApiError):
            raise
        raise taken from None
    return tenant_json(tenant), token


def claim_slug(conn: Any, slug: str, cell: str) -> bool:
    """Record that `cell` is about to create `slug`, unless another cell's claim on it is still live.

    Both this cell's own signups and other cells' signed claims (POST /v1/directory/{slug}/claims) go
    through here: while one cell's claim lives, every other cell's claim of the slug is refused. Two cells
    claiming at the same moment both get refused somewhere, and both signups answer 409; a retry wins.
    """
    # expired claims are kept no longer than this (the table holds other residencies' slugs: keep it small)
    conn.execute("DELETE FROM slug_claims WHERE expires_at < now() - interval '1 minute'")
    row = conn.execute(
        "INSERT INTO slug_claims (slug, cell, expires_at) VALUES (%s, %s, now() + make_interval(secs => %s)) "
        "ON CONFLICT (slug) DO UPDATE SET cell = EXCLUDED.cell, expires_at = EXCLUDED.expires_at "
        "WHERE slug_claims.cell = EXCLUDED.cell OR slug_claims.expires_at <= now() RETURNING slug",
        (slug, cell, CLAIM_TTL_S)).fetchone()
    return row is not None


def release_claim(pool: Any, slug: str, cell: str) -> None:
    """Withdraw `cell`'s claim on `slug` in this cell's table (a failed signup here, or a peer's withdrawal)."""
    with global_tx(pool) as conn:
        conn.execute("DELETE FROM slug_claims WHERE slug = %s AND cell = %s", (slug, cell))


def _held_elsewhere_or_503(cells: CellDirectory, slug: str) -> bool:
    """Whether another cell has `slug` (homes it, or refused our claim on it); 503 if one cannot be asked.

    With PEER_KEY the slug is claimed in every other cell, else each is only asked where the slug lives.
    Fails closed: creating the slug while a peer cannot answer could give two cells the same slug, and public
    URLs would then resolve differently depending on the cell asked.
    """
    try:
        if cells.claim is not None:
            return cells.claim_everywhere(slug) is not None
        return cells.remote_home(slug, strict=True) is not None
    except PeerUnreachable as exc:
        raise ApiError(503, f"cell {exc.cell!r} could not be asked whether tenant.slug={slug!r} is free "
                            f"({exc.reason}), so the slug cannot be confirmed unique; nothing was created, "
                            f"retry in {RETRY_AFTER_S} seconds", headers={"Retry-After": str(RETRY_AFTER_S)}) from None


def tenant_json(row: dict[str, Any]) -> dict[str, Any]:
    """Public representation of a tenants row."""
    return {"id": str(row["id"]), "slug": row["slug"], "name": row["name"], "home_cell": row["home_cell"],
            "residency": row["residency"], "timezone": row["timezone"], "plan": row["plan"]}

