"""Signup and the cell directory other cells ask."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel, Field

from booking.cells import CLAIM_TTL_S, check_claim
from booking.context import ctx_of
from booking.db import global_tx
from booking.errors import ApiError
from booking.tenants import SLUG, NewTenant, claim_slug, create_tenant, release_claim, tenant_json

router = APIRouter(tags=["account"])
SIGNUP_TOKEN_TTL = timedelta(days=30)


class TenantIn(BaseModel):
    slug: str = Field(max_length=40)
    name: str = Field(max_length=200)
    residency: str = Field(max_length=32, description="cell that will hold the data: us, eu or au")
    timezone: str = Field(max_length=64, description="IANA zone, e.g. Europe/Berlin")


class OwnerIn(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)


class SignupIn(BaseModel):
    tenant: TenantIn
    owner: OwnerIn


@router.post("/v1/signup", status_code=201)
def signup(body: SignupIn, request: Request) -> dict[str, Any]:
    """Create a business in the cell of its residency; 421 with home_url if that is another cell."""
    ctx = ctx_of(request)
    t = NewTenant(slug=body.tenant.slug, name=body.tenant.name, residency=body.tenant.residency,
                  timezone=body.tenant.timezone, owner_email=body.owner.email, owner_password=body.owner.password)
    try:
        # long enough to set the business up; a lasting credential is a personal access token
        tenant, token = create_tenant(ctx.pool, ctx.cells, ctx.settings.cell, t, ctx.tokens,
                                      ctx.clock() + SIGNUP_TOKEN_TTL)
    except ApiError as exc:
        if exc.status == 421:
            raise ctx.misdirected(request, exc.extra["home_cell"], exc.detail) from None
        raise
    request.state.tenant_id = tenant["id"]
    return {"tenant": tenant, "access_token": token}


@router.get("/v1/tenant")
def me(request: Request) -> dict[str, Any]:
    """The caller's tenant."""
    with ctx_of(request).authed(request) as (conn, _):
        row = conn.execute("SELECT * FROM tenants").fetchone()
    assert row is not None
    return tenant_json(row)


@router.get("/v1/directory/{slug}")
def directory(slug: str, request: Request) -> dict[str, str]:
    """Answers other cells: 200 with this cell's name if `slug` is homed here, else 404. Never forwards."""
    ctx = ctx_of(request)
    with global_tx(ctx.pool) as conn:
        row = conn.execute("SELECT home_cell FROM tenant_directory WHERE slug = %s", (slug,)).fetchone()
    if row is None or row["home_cell"] != ctx.settings.cell:
        raise ApiError(404, f"no tenant {slug!r} is homed in cell {ctx.settings.cell!r}")
    return {"slug": slug, "cell": ctx.settings.cell}


def _claim_sender(request: Request, slug: str, sender: str, at: str, signature: str) -> str:
    """The other cell a signed claim request comes from; 4xx with the reason otherwise."""
    ctx = ctx_of(request)
    if not ctx.settings.peer_key:
        raise ApiError(404, "slug claims are off in this cell: PEER_KEY is not set")
    if not SLUG.fullmatch(slug):
        raise ApiError(422, f"{slug[:60]!r} is not a slug")
    if sender == ctx.settings.cell or sender not in ctx.settings.cell_urls:
        raise ApiError(403, f"X-Slotstack-Cell={sender!r} is not another cell of CELL_URLS")
    why = check_claim(ctx.settings.peer_key, request.method, sender, ctx.settings.cell, slug, at, signature,
                      time.time())
    if why is not None:
        raise ApiError(401, why)
    return sender


@router.post("/v1/directory/{slug}/claims", status_code=201)
def claim(slug: str, request: Request, x_slotstack_cell: Annotated[str, Header(max_length=32)] = "",
          x_slotstack_time: Annotated[str, Header(max_length=20)] = "",
          x_slotstack_signature: Annotated[str, Header(max_length=128)] = "") -> dict[str, Any]:
    """Another cell of this environment reserves `slug` for a minute before creating a tenant under it.

    Signed with the environment's PEER_KEY. 201: granted; 409: homed, moved or claimed by another cell here.
    """
    sender = _claim_sender(request, slug, x_slotstack_cell, x_slotstack_time, x_slotstack_signature)
    with global_tx(ctx_of(request).pool) as conn:
        # Claim first, then read the directory: if this cell is creating the slug right now, the claim waits for
        # that transaction, and the read after it sees the new tenant (a 409 here rolls the claim back).
        if not claim_slug(conn, slug, sender):
            raise ApiError(409, f"another cell is creating a tenant {slug!r} right now")
        home = conn.execute("SELECT home_cell FROM tenant_directory WHERE slug = %s", (slug,)).fetchone()
        if home is not None:
            raise ApiError(409, f"tenant {slug!r} is homed in cell {home['home_cell']!r}")
    return {"slug": slug, "cell": sender, "expires_in": CLAIM_TTL_S}


@router.delete("/v1/directory/{slug}/claims", status_code=204)
def release(slug: str, request: Request, x_slotstack_cell: Annotated[str, Header(max_length=32)] = "",
            x_slotstack_time: Annotated[str, Header(max_length=20)] = "",
            x_slotstack_signature: Annotated[str, Header(max_length=128)] = "") -> Response:
    """The claiming cell withdraws its claim (its signup failed elsewhere); only its own claim goes."""
    sender = _claim_sender(request, slug, x_slotstack_cell, x_slotstack_time, x_slotstack_signature)
    release_claim(ctx_of(request).pool, slug, sender)
    return Response(status_code=204)
