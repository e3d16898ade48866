"""Privacy requests: one customer's export and erasure, the whole tenant's export and erasure, retention."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from booking.archive import export_tenant
from booking.audit import address_of, record
from booking.context import ctx_of
from booking.errors import ApiError
from booking.migrate import head_revision
from booking.privacy import customer_erase, customer_export, erase_tenant

router = APIRouter(tags=["privacy"])


@router.get("/v1/customers")
def find_customers(request: Request, email: Annotated[str, Query(max_length=254)]) -> dict[str, Any]:
    """Customers with this email (case-insensitive): where a privacy request starts."""
    with ctx_of(request).authed(request) as (conn, _):
        rows = conn.execute("SELECT id, name, email, created_at FROM customers WHERE lower(email) = lower(%s) "
                            "ORDER BY created_at", (email,)).fetchall()
    return {"customers": [{"id": str(r["id"]), "name": r["name"], "email": r["email"]} for r in rows]}


@router.get("/v1/customers/{customer_id}/export")
def export_customer(customer_id: uuid.UUID, request: Request) -> dict[str, Any]:
    """Everything held about one customer (data subject access request)."""
    with ctx_of(request).authed(request) as (conn, who):
        data = customer_export(conn, customer_id)
        record(conn, who.tenant_id, f"user:{who.user_id}", "customer.exported", str(customer_id),
               address_of(request))
    return data


@router.delete("/v1/customers/{customer_id}")
def erase_customer(customer_id: uuid.UUID, request: Request) -> dict[str, Any]:
    """Erase one customer and their bookings."""
    with ctx_of(request).authed(request) as (conn, who):
        n = customer_erase(conn, customer_id)
        record(conn, who.tenant_id, f"user:{who.user_id}", "customer.erased", str(customer_id), address_of(request))
    return {"erased": str(customer_id), "bookings_erased": n}


@router.get("/v1/tenant/export", response_class=Response)
def export_whole_tenant(request: Request) -> Response:
    """The business's data as one zip archive (one JSON-lines file per table, a manifest with checksums)."""
    with ctx_of(request).authed(request) as (conn, who):
        record(conn, who.tenant_id, f"user:{who.user_id}", "tenant.exported", "", address_of(request))
        archive = export_tenant(conn, who.tenant_id, head_revision(), scope="owner")
    return Response(archive, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="tenant-{who.tenant_id}.zip"'})


class RetentionIn(BaseModel):
    days: int | None = Field(ge=30, le=3650, description="erase bookings this many days after they end; null: keep")


@router.put("/v1/tenant/retention")
def set_retention(body: RetentionIn, request: Request) -> dict[str, Any]:
    """How long bookings and customers are kept; the retention job erases older ones daily."""
    with ctx_of(request).authed(request) as (conn, who):
        conn.execute("UPDATE tenants SET retention_days = %s", (body.days,))
        record(conn, who.tenant_id, f"user:{who.user_id}", "retention.changed", str(body.days), address_of(request))
    return {"retention_days": body.days}


class EraseIn(BaseModel):
    confirm_slug: str = Field(max_length=40)


@router.post("/v1/tenant/erase")
def erase_whole_tenant(body: EraseIn, request: Request) -> dict[str, Any]:
    """Erase the business: integrations revoked, all data deleted, its data key shredded. Irreversible."""
    ctx = ctx_of(request)
    with ctx.authed(request) as (conn, who):
        slug = conn.execute("SELECT slug FROM tenants").fetchone()
    if slug is None or body.confirm_slug != slug["slug"]:
        raise ApiError(422, "confirm_slug must equal this business's slug to erase it")
    return erase_tenant(ctx.pool, ctx.keys, ctx.revoke, who.tenant_id, actor=f"user:{who.user_id}",
                        address=address_of(request), images=ctx.images)
