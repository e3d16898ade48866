"""Integrations (calendar, video, payment providers) and cancellation; plan changes are `booking tenant plan`."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from booking.audit import address_of, record
from booking.context import Context, ctx_of
from booking.errors import ApiError, not_found
from booking.integrations import connect, disconnect
from booking.providers import PROVIDERS
from booking.secrets.keystore import KeyStore

router = APIRouter(tags=["integrations"])


def _keys(ctx: Context) -> KeyStore:
    if ctx.keys is None:
        raise ApiError(503, "no key store is configured, so integration secrets cannot be stored; set KEY_DIR "
                            "(a local key directory) or configure Key Vault")
    return ctx.keys


class IntegrationIn(BaseModel):
    provider: str = Field(max_length=40)
    refresh_token: str = Field(min_length=1, max_length=4096)


@router.post("/v1/integrations", status_code=201)
def add_integration(body: IntegrationIn, request: Request) -> dict[str, str]:
    """Connect a provider: its refresh token is stored encrypted (AES-256-GCM under the tenant's data key)."""
    ctx = ctx_of(request)
    if body.provider not in PROVIDERS:
        raise ApiError(422, f"provider={body.provider!r} is not supported; allowed: {list(PROVIDERS)}")
    keys = _keys(ctx)
    with ctx.authed(request) as (conn, who):
        plan = conn.execute("SELECT plan FROM tenants").fetchone()
        if plan is not None and plan["plan"] == "free":
            raise ApiError(403, "integrations need a paid plan; upgrade the plan through billing (support) first")
        integration_id = connect(conn, keys, who.tenant_id, body.provider, body.refresh_token)
        record(conn, who.tenant_id, f"user:{who.user_id}", "integration.connected", integration_id,
               address_of(request))
    return {"id": integration_id, "provider": body.provider}


@router.get("/v1/integrations")
def list_integrations(request: Request) -> dict[str, Any]:
    """Connected providers (never their tokens)."""
    with ctx_of(request).authed(request) as (conn, _):
        rows = conn.execute("SELECT id, provider, created_at FROM integrations ORDER BY created_at").fetchall()
    return {"integrations": [{"id": str(r["id"]), "provider": r["provider"], "created_at": r["created_at"].isoformat()}
                             for r in rows]}


@router.delete("/v1/integrations/{integration_id}")
def remove_integration(integration_id: uuid.UUID, request: Request) -> dict[str, Any]:
    """Disconnect one provider: the token is deleted and revoked at the provider."""
    ctx = ctx_of(request)
    with ctx.authed(request) as (conn, who):
        if conn.execute("SELECT 1 FROM integrations WHERE id = %s", (integration_id,)).fetchone() is None:
            raise not_found("integration", integration_id)
    results = disconnect(ctx.pool, ctx.keys, ctx.revoke, who.tenant_id, actor=f"user:{who.user_id}",
                         address=address_of(request), reason="removed", only=integration_id)
    return {"disconnected": results}


@router.post("/v1/tenant/cancel")
def cancel_account(request: Request) -> dict[str, Any]:
    """Cancel the account: every integration is disconnected and the tenant is marked cancelled."""
    ctx = ctx_of(request)
    with ctx.authed(request) as (conn, who):
        conn.execute("UPDATE tenants SET cancelled_at = now(), plan = 'free'")
        record(conn, who.tenant_id, f"user:{who.user_id}", "account.cancelled", "", address_of(request))
    results = disconnect(ctx.pool, ctx.keys, ctx.revoke, who.tenant_id, actor=f"user:{who.user_id}",
                         address=address_of(request), reason="cancelled")
    return {"cancelled": True, "disconnected": results}
