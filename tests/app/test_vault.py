"""A VM's start: secrets from Key Vault (through IMDS), the service role made, the schema migrated.

Azure's instance metadata service and Key Vault are faked at the HTTP level (a real server on 127.0.0.1),
and each test asserts the exact requests the service makes; PostgreSQL is the real test cluster.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import psycopg
import pytest
import requests
from booking.provision import DatabaseUrls
from booking.secrets import vault
from psycopg import sql

from infra.local.lifecycle.ports import free_port
from tests.app.conftest import PASSWORD, Cluster

CLIENT_ID = "0f6d1a7e-client-id-of-the-fleet"
TOKEN = "eyJ0eXAi.fake-vault-token"


@dataclass
class FakeAzure:
    """IMDS and one Key Vault on one local HTTP server; records every request."""

    secrets: dict[str, str] = field(default_factory=dict)
    status: dict[str, int] = field(default_factory=dict)  # path -> forced status
    imds_failures: int = 0
    seen: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                fake.seen.append({"path": parts.path, "query": parse_qs(parts.query),
                                  "metadata": self.headers.get("Metadata"),
                                  "authorization": self.headers.get("Authorization")})
                if parts.path in fake.status:
                    return self.answer(fake.status[parts.path], {"error": {"message": "forced by the test"}})
                if parts.path == "/metadata/identity/oauth2/token":
                    if fake.imds_failures > 0:
                        fake.imds_failures -= 1
                        return self.answer(500, {"error": "busy"})
                    query = parse_qs(parts.query)
                    if self.headers.get("Metadata") != "true" or query.get("client_id") != [CLIENT_ID]:
                        return self.answer(400, {"error": "invalid_request"})
                    return self.answer(200, {"access_token": TOKEN, "token_type": "Bearer"})
                name = parts.path.removeprefix("/secrets/")
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self.answer(401, {"error": {"message": "no token"}})
                if name not in fake.secrets:
                    return self.answer(404, {"error": {"message": "SecretNotFound"}})
                return self.answer(200, {"value": fake.secrets[name], "id": f"{fake.url}/secrets/{name}/v1"})

            def answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


@pytest.fixture
def azure() -> Iterator[FakeAzure]:
    fake = FakeAzure()
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake.handler())
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


@dataclass
class EmptyDatabase:
    name: str
    owner_url: str
    role: str
    app_url: str
    password: str


@pytest.fixture
def empty_db(cluster: Cluster) -> Iterator[EmptyDatabase]:
    """An unmigrated database like the cloud's `booking` (created by Pulumi) and a service role not yet made."""
    name = "vault_" + uuid.uuid4().hex[:8]
    role = "vault_app_" + uuid.uuid4().hex[:6]
    admin = "vault_admin_" + uuid.uuid4().hex[:6]  # like Azure's administrator login: CREATEROLE, not superuser
    with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE NOSUPERUSER").format(sql.Identifier(admin)))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(admin)))
    owner = urlsplit(cluster.urls.owner_url)
    password = "p@ss w/rd%" + uuid.uuid4().hex  # characters a URL must quote
    # The cloud's URL shape (infra/storage/service_secrets.py): two servers as host:port in the authority,
    # libpq keeping the writer. The first one here does not exist, as after a failover before `pulumi up`
    # reorders them; the second is the cluster's socket directory, percent-encoded as libpq allows.
    socket_dir = parse_qs(owner.query)["host"][0]
    hosts = f"{quote('/nonexistent-' + uuid.uuid4().hex, safe='')}:5432,{quote(socket_dir, safe='')}:5432"
    query = "target_session_attrs=read-write&connect_timeout=3"
    owner_url = f"postgresql://{admin}@{hosts}/{name}?{query}"
    app_url = f"postgresql://{role}:{quote(password, safe='')}@{hosts}/{name}?{query}"
    yield EmptyDatabase(name, owner_url, role, app_url, password)
    with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        for who in (role, admin):
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(who)))


def _role_exists(conn: psycopg.Connection[Any], role: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None


def _vm_env(azure: FakeAzure) -> dict[str, str]:
    """What cloud-init writes into /etc/booking/booking.env: public facts only."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATABASE_OWNER_URL", "SECRET_KEY")}
    return {**env, "KEY_VAULT_URI": f"{azure.url}/", "AZURE_CLIENT_ID": CLIENT_ID, "IMDS_ENDPOINT": azure.url,
            "CELL": "us"}


def _booking() -> str:
    return str(Path(sys.executable).parent / "booking")


def test_a_vm_reads_its_secrets_makes_the_role_migrates_and_serves(azure: FakeAzure, empty_db: EmptyDatabase,
                                                                    cluster: Cluster, tmp_path: Path) -> None:
    secret_key = "k" * 20 + uuid.uuid4().hex + "z" * 12
    peer_key = "p" * 20 + uuid.uuid4().hex + "q" * 12
    azure.secrets = {"booking-database-url": empty_db.app_url, "booking-owner-url": empty_db.owner_url,
                     "booking-secret-key": secret_key, "booking-peer-key": peer_key}
    port = free_port()
    data_dir = tmp_path / "state"  # what the unit passes; must stay unused when Key Vault gives a database
    proc = subprocess.Popen([_booking(), "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir",
                             str(data_dir)], env=_vm_env(azure), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if requests.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert requests.get(f"{base}/readyz", timeout=5).status_code == 200
        signed = requests.post(f"{base}/v1/signup", timeout=30, json={
            "tenant": {"slug": "vault-shop", "name": "Vault Shop", "residency": "us", "timezone": "UTC"},
            "owner": {"email": "owner@vault-shop.example", "password": PASSWORD}})
        assert signed.status_code == 201, signed.text
        demo = None
        for _ in range(100):  # the demo tenant is made in the background right after the start
            demo = requests.get(f"{base}/v1/public/demo-us/services", timeout=5)
            if demo.status_code == 200:
                break
            time.sleep(0.1)
        assert demo is not None
        assert demo.status_code == 200, demo.text
        assert [s["name"] for s in demo.json()["services"]] == ["Consultation"]
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)

    # the requests, exactly
    imds = [r for r in azure.seen if r["path"] == "/metadata/identity/oauth2/token"]
    assert len(imds) == 1
    assert imds[0]["metadata"] == "true"
    assert imds[0]["query"] == {"api-version": ["2018-02-01"], "resource": ["https://vault.azure.net"],
                                "client_id": [CLIENT_ID]}
    reads = [r for r in azure.seen if r["path"].startswith("/secrets/")]
    assert sorted(r["path"] for r in reads) == ["/secrets/booking-database-url", "/secrets/booking-owner-url",
                                                "/secrets/booking-peer-key", "/secrets/booking-secret-key"]
    assert all(r["query"] == {"api-version": ["7.4"]} and r["authorization"] == f"Bearer {TOKEN}" for r in reads)

    # the role exists with a password (SCRAM), owns nothing, cannot bypass RLS; the schema is current
    with psycopg.connect(cluster.admin_url) as conn:
        role = conn.execute("SELECT rolpassword, rolsuper, rolbypassrls, rolcreaterole FROM pg_authid "
                            "WHERE rolname = %s", (empty_db.role,)).fetchone()
        assert role is not None
        assert role[0].startswith("SCRAM-SHA-256$")
        assert role[1:] == (False, False, False)
    with psycopg.connect(empty_db.owner_url) as conn:
        version = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        assert version is not None
    from booking.migrate import head_revision
    assert version[0] == head_revision()

    assert not (data_dir / "pg").exists()  # no embedded PostgreSQL on a VM
    for secret in (empty_db.password, quote(empty_db.password, safe=""), secret_key, peer_key, TOKEN):
        assert secret not in err  # names in the log, never values
    assert "secrets read from Key Vault" in err


def test_a_refused_secret_stops_the_start_before_the_database_is_touched(
        azure: FakeAzure, empty_db: EmptyDatabase, cluster: Cluster, tmp_path: Path) -> None:
    azure.secrets = {"booking-database-url": empty_db.app_url, "booking-owner-url": empty_db.owner_url,
                     "booking-peer-key": "k" * 64}
    azure.status["/secrets/booking-secret-key"] = 403
    done = subprocess.run([_booking(), "serve", "--host", "127.0.0.1", "--port", str(free_port()), "--data-dir",
                           str(tmp_path)], env=_vm_env(azure), capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 2
    assert "'booking-secret-key'" in done.stderr
    assert "Key Vault Secrets User" in done.stderr
    with psycopg.connect(cluster.admin_url) as conn:
        assert not _role_exists(conn, empty_db.role)
    with psycopg.connect(empty_db.owner_url) as conn:
        assert conn.execute("SELECT to_regclass('alembic_version')").fetchone() == (None,)


def test_a_rotated_password_reaches_the_role_at_the_next_start(azure: FakeAzure, empty_db: EmptyDatabase,
                                                               cluster: Cluster) -> None:
    azure.secrets = {"booking-database-url": empty_db.app_url, "booking-owner-url": empty_db.owner_url,
                     "booking-secret-key": "s" * 64, "booking-peer-key": "k" * 64}
    env = _vm_env(azure)
    first = subprocess.run([_booking(), "migrate"], env=env, capture_output=True, text=True, timeout=120,
                           check=False)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["source"] == "key-vault"

    def hash_of() -> str:
        with psycopg.connect(cluster.admin_url) as conn:
            row = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (empty_db.role,)).fetchone()
        assert row is not None
        return str(row[0])

    before = hash_of()
    azure.secrets["booking-database-url"] = empty_db.app_url.replace(quote(empty_db.password, safe=""), "rotated-pw")
    again = subprocess.run([_booking(), "migrate"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
    assert hash_of() != before


def test_imds_is_retried_after_boot_but_a_wrong_identity_fails_at_once(azure: FakeAzure) -> None:
    azure.imds_failures = 2
    slept: list[float] = []
    assert vault.imds_token(CLIENT_ID, endpoint=azure.url, sleep=slept.append) == TOKEN
    assert slept == [1.0, 2.0]
    with pytest.raises(vault.VaultError, match=r"client_id='someone-else'.*fleet's user-assigned identity"):
        vault.imds_token("someone-else", endpoint=azure.url, sleep=slept.append)
    assert slept == [1.0, 2.0]  # no retries for a 400


def test_vault_errors_say_what_to_fix(azure: FakeAzure) -> None:
    with pytest.raises(vault.VaultError, match=r"does not exist in Key Vault.*pulumi up"):
        vault.get_secret(f"{azure.url}/", "booking-owner-url", TOKEN)
    with pytest.raises(vault.VaultError, match="must be an https:// URL"):
        vault.get_secret("http://kv-prod-eu.vault.azure.net/", "booking-owner-url", TOKEN)
    with pytest.raises(vault.VaultError, match="AZURE_CLIENT_ID is not set"):
        vault.load({"KEY_VAULT_URI": f"{azure.url}/"})


def test_a_service_role_that_could_bypass_row_level_security_is_refused(empty_db: EmptyDatabase,
                                                                        cluster: Cluster) -> None:
    from booking.provision import ensure_app_role

    with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN BYPASSRLS").format(sql.Identifier(empty_db.role)))
    with pytest.raises(ValueError, match="may bypass row-level security"):
        ensure_app_role(empty_db.owner_url, empty_db.app_url)


def test_the_demo_tenant_is_made_once_and_healed_if_its_data_is_missing(db: DatabaseUrls) -> None:
    from booking.cells import CellDirectory
    from booking.commands.demo import ensure_demo_tenant
    from booking.db import make_pool, tenant_tx

    pool = make_pool(db.app_url, min_size=1, max_size=2)
    pool.open(wait=True)
    cells = CellDirectory("eu", {"eu": ""}, lambda url, slug: None)
    try:
        assert ensure_demo_tenant(pool, cells, "eu") == "created"
        assert ensure_demo_tenant(pool, cells, "eu") == "exists"
        with pool.connection() as conn:
            row = conn.execute("SELECT tenant_id FROM tenant_directory WHERE slug = 'demo-eu'").fetchone()
        assert row is not None
        with tenant_tx(pool, row["tenant_id"]) as conn:
            zone = conn.execute("SELECT timezone FROM tenants").fetchone()
            conn.execute("DELETE FROM services")
        assert zone == {"timezone": "Europe/Berlin"}
        assert ensure_demo_tenant(pool, cells, "eu") == "completed"
        with tenant_tx(pool, row["tenant_id"]) as conn:
            assert conn.execute("SELECT count(*) AS n FROM services WHERE name = 'Consultation'").fetchone() == {
                "n": 1}
    finally:
        pool.close()
