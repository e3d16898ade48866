"""Integrations: refresh tokens sealed at rest; a downgrade or cancellation disconnects and revokes them all."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
from booking.providers import http_revoker
from booking.provision import DatabaseUrls
from booking.secrets.keystore import LocalKeyStore

from tests.app.conftest import Service, set_plan, start_service


class Provider:
    """A provider's revocation endpoint on 127.0.0.1 that records each request exactly."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                provider.requests.append({"path": self.path, "content_type": self.headers["Content-Type"],
                                          "body": body})
                self.send_response(provider.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    p = Provider()
    yield p
    p.server.shutdown()
    p.server.server_close()


@pytest.fixture(scope="module")
def svc(db: DatabaseUrls, provider: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    keys = LocalKeyStore(tmp_path_factory.mktemp("keys"))
    revoke = http_revoker({"google": f"{provider.url}/google/revoke", "zoom": f"{provider.url}/zoom/revoke"})
    s = start_service(db, keys=keys, revoke=revoke)
    yield s
    s.server.stop()


def paid_tenant(svc: Service, slug: str) -> dict[str, Any]:
    signed = svc.signup(slug)
    set_plan(svc, signed["tenant"]["id"], "pro")
    return signed


def connect(svc: Service, token: str, provider: str, refresh: str) -> str:
    r = svc.call("POST", "/v1/integrations", token, json={"provider": provider, "refresh_token": refresh})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_the_free_plan_cannot_connect_and_unknown_providers_are_refused(svc: Service) -> None:
    token = svc.signup("free-integrations")["access_token"]
    r = svc.call("POST", "/v1/integrations", token, json={"provider": "google", "refresh_token": "x"})
    assert r.status_code == 403
    assert "paid plan" in r.json()["detail"]
    r = svc.call("POST", "/v1/integrations", token, json={"provider": "myspace", "refresh_token": "x"})
    assert r.status_code == 422
    assert "google" in r.json()["detail"]


def test_refresh_tokens_are_never_in_the_database_in_clear(svc: Service) -> None:
    signed = paid_tenant(svc, "sealed-tokens")
    connect(svc, signed["access_token"], "google", "1//google-refresh-CLEARTEXT-abc")
    listed = svc.call("GET", "/v1/integrations", signed["access_token"]).json()["integrations"]
    assert [i["provider"] for i in listed] == ["google"]
    assert "refresh" not in str(listed)
    with psycopg.connect(svc.db.owner_url, autocommit=True) as conn:
        conn.execute("SELECT set_config('app.tenant_id', %s, false)", (signed["tenant"]["id"],))
        blob = conn.execute("SELECT refresh_token FROM integrations").fetchone()[0]
    assert b"CLEARTEXT" not in bytes(blob)
    assert len(bytes(blob)) == 1 + 12 + len("1//google-refresh-CLEARTEXT-abc") + 16


def test_downgrade_to_free_disconnects_every_integration_and_revokes_at_the_provider(
        svc: Service, provider: Provider) -> None:
    provider.requests.clear()
    signed = paid_tenant(svc, "downgrade-shop")
    token = signed["access_token"]
    g = connect(svc, token, "google", "1//g-refresh/token+with=chars")
    z = connect(svc, token, "zoom", "zoom-refresh-token")
    m = connect(svc, token, "microsoft", "ms-refresh-token")
    outcomes = {d["id"]: d["revocation"] for d in set_plan(svc, signed["tenant"]["id"], "free")["disconnected"]}
    assert outcomes == {g: "revoked", z: "revoked", m: "no_endpoint"}
    assert sorted(provider.requests, key=lambda x: x["path"]) == [
        {"path": "/google/revoke", "content_type": "application/x-www-form-urlencoded",
         "body": "token=1%2F%2Fg-refresh%2Ftoken%2Bwith%3Dchars&token_type_hint=refresh_token"},
        {"path": "/zoom/revoke", "content_type": "application/x-www-form-urlencoded",
         "body": "token=zoom-refresh-token&token_type_hint=refresh_token"},
    ]
    assert svc.call("GET", "/v1/integrations", token).json()["integrations"] == []
    actions = [e["action"] for e in svc.call("GET", "/v1/audit", token).json()["events"]]
    assert "integrations.disconnected:downgrade" in actions
    assert actions.count("integration.revocation:revoked") == 2


def test_cancellation_disconnects_even_when_the_provider_fails(svc: Service, provider: Provider) -> None:
    provider.requests.clear()
    provider.status = 503
    try:
        signed = paid_tenant(svc, "cancel-shop")
        token = signed["access_token"]
        connect(svc, token, "google", "g-token-to-cancel")
        r = svc.call("POST", "/v1/tenant/cancel", token)
    finally:
        provider.status = 200
    assert r.status_code == 200
    assert r.json()["disconnected"][0]["revocation"] == "failed: google: HTTP 503"
    assert provider.requests[0]["body"] == "token=g-token-to-cancel&token_type_hint=refresh_token"
    assert svc.call("GET", "/v1/integrations", token).json()["integrations"] == [], "tokens must be gone anyway"
    actions = [e["action"] for e in svc.call("GET", "/v1/audit", token).json()["events"]]
    assert {"account.cancelled", "integrations.disconnected:cancelled", "integration.revocation:failed"} <= set(actions)
    assert svc.call("GET", "/v1/tenant", token).json()["plan"] == "free"


def test_without_a_key_store_integrations_are_refused_with_what_to_set(db: DatabaseUrls, tmp_path: Path) -> None:
    s = start_service(db)
    try:
        signed = paid_tenant(s, "no-keys-shop")
        r = s.call("POST", "/v1/integrations", signed["access_token"],
                   json={"provider": "google", "refresh_token": "x"})
        assert r.status_code == 503
        assert "KEY_DIR" in r.json()["detail"]
    finally:
        s.server.stop()
