"""API access: personal access tokens, OAuth2 client-credentials apps, and the audit log."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from booking.audit import address_of, events, record
from booking.auth.tokens import check_scopes, issue_token, new_token
from booking.context import Context, ctx_of
from booking.db import tenant_tx
from booking.errors import not_found

router = APIRouter(tags=["api access"])
OAUTH_TOKEN_TTL = timedelta(hours=1)
CLIENT_ID = "bkc_{tenant}_{client}"


class PatIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(max_length=10)
    expires_in_days: int | None = Field(default=90, ge=1, le=366)


def _token_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(row["id"]), "user_id": str(row["user_id"]), "kind": row["kind"], "name": row["name"],
            "scopes": list(row["scopes"]),
            "created_at": row["created_at"].isoformat(),
            "expires_at": row["expires_at"].isoformat() if row["expires_at"] else None,
            "last_used_at": row["last_used_at"].isoformat() if row["last_used_at"] else None}


@router.post("/v1/tokens", status_code=201)
def create_pat(body: PatIn, request: Request) -> dict[str, Any]:
    """A personal access token with scopes and an expiry; the token is in this answer only."""
    ctx = ctx_of(request)
    scopes = check_scopes(body.scopes)
    with ctx.authed(request) as (conn, who):
        expires = ctx.clock() + timedelta(days=body.expires_in_days) if body.expires_in_days else None
        token_id, token = issue_token(conn, ctx.tokens, who.tenant_id, who.user_id, kind="pat", name=body.name,
                                      scopes=scopes, expires_at=expires)
        record(conn, who.tenant_id, f"user:{who.user_id}", "token.created", token_id, address_of(request))
        row = conn.execute("SELECT * FROM api_tokens WHERE id = %s", (token_id,)).fetchone()
    assert row is not None
    return {**_token_json(row), "token": token}


@router.get("/v1/tokens")
def list_tokens(request: Request) -> dict[str, Any]:
    """Every token of the tenant (never the token itself): kind, scopes, expiry, last use."""
    with ctx_of(request).authed(request) as (conn, _):
        rows = conn.execute("SELECT * FROM api_tokens ORDER BY created_at").fetchall()
    return {"tokens": [_token_json(r) for r in rows]}


@router.delete("/v1/tokens/{token_id}", status_code=204)
def revoke_token(token_id: uuid.UUID, request: Request) -> None:
    """Revoke a token: its row is deleted, so the next request with it is 401."""
    with ctx_of(request).authed(request) as (conn, who):
        if conn.execute("DELETE FROM api_tokens WHERE id = %s", (token_id,)).rowcount == 0:
            raise not_found("token", token_id)
        record(conn, who.tenant_id, f"user:{who.user_id}", "token.revoked", str(token_id), address_of(request))


class ClientIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(max_length=10)


@router.post("/v1/oauth/clients", status_code=201)
def create_client(body: ClientIn, request: Request) -> dict[str, Any]:
    """An OAuth2 client-credentials app; `client_secret` is in this answer only."""
    ctx = ctx_of(request)
    scopes = check_scopes(body.scopes)
    with ctx.authed(request) as (conn, who):
        client_uuid = uuid.uuid4()
        secret = new_token("bkcs", who.tenant_id)
        conn.execute("INSERT INTO oauth_clients (tenant_id, id, user_id, name, secret_hash, scopes) "
                     "VALUES (%s, %s, %s, %s, %s, %s)",
                     (who.tenant_id, client_uuid, who.user_id, body.name, ctx.tokens.digest(secret), list(scopes)))
        record(conn, who.tenant_id, f"user:{who.user_id}", "oauth_client.created", str(client_uuid),
               address_of(request))
    return {"id": str(client_uuid), "client_id": CLIENT_ID.format(tenant=who.tenant_id.hex, client=client_uuid.hex),
            "client_secret": secret, "name": body.name, "scopes": list(scopes)}


@router.get("/v1/oauth/clients")
def list_clients(request: Request) -> dict[str, Any]:
    """The tenant's OAuth clients (never their secrets)."""
    with ctx_of(request).authed(request) as (conn, _):
        rows = conn.execute("SELECT * FROM oauth_clients ORDER BY created_at").fetchall()
    return {"clients": [{"id": str(r["id"]), "name": r["name"], "scopes": list(r["scopes"]),
                         "last_used_at": r["last_used_at"].isoformat() if r["last_used_at"] else None} for r in rows]}


@router.delete("/v1/oauth/clients/{client_id}", status_code=204)
def revoke_client(client_id: uuid.UUID, request: Request) -> None:
    """Delete a client and, by cascade, every access token it obtained."""
    with ctx_of(request).authed(request) as (conn, who):
        if conn.execute("DELETE FROM oauth_clients WHERE id = %s", (client_id,)).rowcount == 0:
            raise not_found("OAuth client", client_id)
        record(conn, who.tenant_id, f"user:{who.user_id}", "oauth_client.revoked", str(client_id),
               address_of(request))


def _oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    # RFC 6749 section 5.2 error shape (plus `detail`, like every other error of this API)
    return JSONResponse({"error": error, "error_description": description, "detail": description}, status_code=status,
                        headers={"Cache-Control": "no-store"})


@router.post("/v1/oauth/token")
def oauth_token(request: Request, grant_type: Annotated[str, Form()], client_id: Annotated[str, Form()],
                client_secret: Annotated[str, Form()], scope: Annotated[str | None, Form()] = None) -> JSONResponse:
    """RFC 6749 client-credentials grant: a 1-hour `bka_` access token limited to the client's scopes."""
    ctx = ctx_of(request)
    if grant_type != "client_credentials":
        return _oauth_error("unsupported_grant_type", f"grant_type={grant_type!r}; only client_credentials")
    parts = client_id.split("_")
    try:
        tenant_id, client_uuid = uuid.UUID(parts[1]), uuid.UUID(parts[2])
    except (IndexError, ValueError):
        return _oauth_error("invalid_client", "client_id is not one this service issued", 401)
    return _grant(ctx, request, tenant_id, client_uuid, client_secret, scope)


def _grant(ctx: Context, request: Request, tenant_id: uuid.UUID, client_uuid: uuid.UUID, secret: str,
           scope: str | None) -> JSONResponse:
    """Check the client's secret in its tenant and issue a token limited to the client's scopes."""
    tokens = ctx.tokens
    now = ctx.clock()
    with tenant_tx(ctx.pool, tenant_id) as conn:
        client = conn.execute("SELECT * FROM oauth_clients WHERE id = %s AND secret_hash = %s",
                              (client_uuid, tokens.digest(secret))).fetchone()
        if client is None:
            return _oauth_error("invalid_client", "unknown client or wrong client_secret", 401)
        wanted = scope.split() if scope else list(client["scopes"])
        if not set(wanted) <= set(client["scopes"]):
            return _oauth_error("invalid_scope", f"scope {scope!r} exceeds the client's {list(client['scopes'])}")
        _id, token = issue_token(conn, tokens, tenant_id, client["user_id"], kind="oauth", name=client["name"],
                                 scopes=wanted, expires_at=now + OAUTH_TOKEN_TTL, client_id=client_uuid)
        conn.execute("UPDATE oauth_clients SET last_used_at = %s WHERE id = %s", (now, client_uuid))
        record(conn, tenant_id, f"client:{client_uuid}", "oauth.token_issued", _id, address_of(request))
    return JSONResponse({"access_token": token, "token_type": "Bearer",
                         "expires_in": int(OAUTH_TOKEN_TTL.total_seconds()), "scope": " ".join(wanted)},
                        headers={"Cache-Control": "no-store"})


@router.get("/v1/audit")
def audit_log(request: Request) -> dict[str, Any]:
    """The tenant's audit log, newest first: who, what, when, from where."""
    with ctx_of(request).authed(request) as (conn, _):
        return {"events": events(conn)}
