"""Personal access tokens and OAuth client credentials: scopes, expiry, last use, revocation, keyed hashes."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from psycopg import sql

from tests.app.conftest import Business, Service, make_business


@pytest.fixture(scope="module")
def biz(service: Service) -> Business:
    return make_business(service, "tokens-shop")


def pat(service: Service, biz: Business, scopes: list[str], days: int | None = 30) -> dict:
    r = service.call("POST", "/v1/tokens", biz.token, json={"name": "ci", "scopes": scopes, "expires_in_days": days})
    assert r.status_code == 201, r.text
    return r.json()


def test_a_pat_is_256_bits_with_a_prefix_and_does_only_what_its_scopes_say(service: Service, biz: Business) -> None:
    created = pat(service, biz, ["catalog:read"])
    token = created["token"]
    prefix, tenant_hex, secret = token.split("_", 2)
    assert prefix == "bkp"
    assert tenant_hex == biz.tenant_id.replace("-", "")
    assert len(secret) == 43  # 32 random bytes, base64url
    assert service.call("GET", "/v1/staff", token).status_code == 200
    assert service.call("GET", f"/v1/services/{biz.service_id}", token).status_code == 200
    denied = service.call("POST", "/v1/staff", token, json={"name": "X", "timezone": "UTC"})
    assert denied.status_code == 403
    assert "catalog:write" in denied.json()["detail"]
    assert service.call("GET", "/v1/bookings", token).status_code == 403
    assert service.call("GET", "/v1/tokens", token).status_code == 403, "a PAT must not mint more tokens"
    listed = {t["id"]: t for t in service.call("GET", "/v1/tokens", biz.token).json()["tokens"]}
    assert listed[created["id"]]["last_used_at"] is not None
    assert "token" not in listed[created["id"]]


def test_a_tenant_read_token_reads_the_profile_but_cannot_export_or_erase(service: Service, biz: Business) -> None:
    token = pat(service, biz, ["tenant:read"])["token"]
    assert service.call("GET", "/v1/tenant", token).json()["slug"] == "tokens-shop"
    assert service.call("GET", "/v1/tenant/export", token).status_code == 403
    assert service.call("POST", "/v1/tenant/erase", token, json={"confirm_slug": "tokens-shop"}).status_code == 403
    assert service.call("GET", "/v1/customers", token, params={"email": "c@example.com"}).status_code == 403
    assert service.call("GET", "/v1/audit", token).status_code == 403


def test_unknown_scope_is_refused_with_the_allowed_list(service: Service, biz: Business) -> None:
    r = service.call("POST", "/v1/tokens", biz.token, json={"name": "x", "scopes": ["root"]})
    assert r.status_code == 422
    assert "bookings:read" in r.json()["detail"]


def test_revocation_takes_effect_on_the_next_request(service: Service, biz: Business) -> None:
    created = pat(service, biz, ["bookings:write"])
    assert service.call("GET", "/v1/bookings", created["token"]).status_code == 200
    assert service.call("DELETE", f"/v1/tokens/{created['id']}", biz.token).status_code == 204
    r = service.call("GET", "/v1/bookings", created["token"])
    assert r.status_code == 401
    assert "revoked" in r.json()["detail"]


def test_an_expired_token_is_refused(service: Service, biz: Business) -> None:
    created = pat(service, biz, ["bookings:read"], days=1)
    assert service.call("GET", "/v1/bookings", created["token"]).status_code == 200
    service.clock.now += timedelta(days=1, seconds=1)
    try:
        r = service.call("GET", "/v1/bookings", created["token"])
        assert r.status_code == 401
        assert "expired" in r.json()["detail"]
    finally:
        service.clock.now -= timedelta(days=1, seconds=1)


def test_oauth_client_credentials_grant(service: Service, biz: Business) -> None:
    client = service.call("POST", "/v1/oauth/clients", biz.token, json={"name": "crm", "scopes": ["bookings:read"]})
    assert client.status_code == 201
    cid, csecret = client.json()["client_id"], client.json()["client_secret"]
    assert cid.startswith("bkc_")
    assert csecret.startswith("bkcs_")
    wrong = csecret[:-1] + ("B" if csecret.endswith("A") else "A")
    bad = service.call("POST", "/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": cid,
                                                       "client_secret": wrong})
    assert bad.status_code == 401
    assert bad.json()["error"] == "invalid_client"
    wide = service.call("POST", "/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": cid,
                                                        "client_secret": csecret, "scope": "bookings:write"})
    assert wide.status_code == 400
    assert wide.json()["error"] == "invalid_scope"
    r = service.call("POST", "/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": cid,
                                                     "client_secret": csecret})
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    grant = r.json()
    assert grant["token_type"] == "Bearer"
    assert grant["expires_in"] == 3600
    assert grant["scope"] == "bookings:read"
    assert grant["access_token"].startswith("bka_")
    assert service.call("GET", "/v1/bookings", grant["access_token"]).status_code == 200
    assert service.call("POST", f"/v1/bookings/{biz.service_id}/cancel", grant["access_token"]).status_code == 403
    service.call("DELETE", f"/v1/oauth/clients/{client.json()['id']}", biz.token)
    assert service.call("GET", "/v1/bookings", grant["access_token"]).status_code == 401


def test_the_database_never_holds_a_token_in_clear(service: Service, biz: Business) -> None:
    secrets = [biz.token, pat(service, biz, ["catalog:read"])["token"]]
    client = service.call("POST", "/v1/oauth/clients", biz.token, json={"name": "n", "scopes": ["catalog:read"]})
    secrets.append(client.json()["client_secret"])
    secrets.append(service.call("POST", "/v1/oauth/token", data={
        "grant_type": "client_credentials", "client_id": client.json()["client_id"],
        "client_secret": client.json()["client_secret"]}).json()["access_token"])
    login = service.call("POST", "/v1/login", json={"slug": biz.slug, "email": f"owner@{biz.slug}.example",
                                                     "password": "correct horse battery staple"})
    secrets.append(login.headers["Set-Cookie"].split(";")[0].split("=", 1)[1])
    secrets.append(login.json()["csrf_token"])
    with psycopg.connect(service.db.owner_url, autocommit=True) as conn:
        conn.execute("SELECT set_config('app.tenant_id', %s, false)", (biz.tenant_id,))
        names = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        dump = "\n".join(str(row[0]) for t in names for row in conn.execute(
            sql.SQL("SELECT row_to_json(x)::text FROM {} x").format(sql.Identifier(t))))
    assert "tokens-shop" in dump, "the dump must see the tenant's rows for this check to mean anything"
    for secret in secrets:
        assert secret.split("_", 2)[-1] not in dump, f"{secret[:4]}... is stored in clear"
