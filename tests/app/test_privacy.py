"""Privacy: one customer's export and erasure, the tenant archive, erasure with crypto-shredding, retention."""

from __future__ import annotations

import io
import json
import subprocess
import uuid
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from booking.db import make_pool
from booking.embedded import pg_bin
from booking.privacy import apply_retention
from booking.provision import DatabaseUrls
from booking.secrets.keystore import LocalKeyStore
from booking.secrets.sealing import Unreadable, unseal
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.app.conftest import Business, Cluster, Service, book, make_business, set_plan, start_service


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> LocalKeyStore:
    return LocalKeyStore(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def svc(db: DatabaseUrls, keys: LocalKeyStore) -> Iterator[Service]:
    s = start_service(db, keys=keys, revoke=lambda provider, token: "no_endpoint")
    yield s
    s.server.stop()


@pytest.fixture(scope="module")
def biz(svc: Service) -> Business:
    shop = make_business(svc, "privacy-shop")
    for start, email in (("2026-01-06T10:00:00+01:00", "pat@example.com"), ("2026-01-07T10:00:00+01:00",
                         "pat@example.com"), ("2026-01-08T10:00:00+01:00", "quinn@example.com")):
        assert book(svc, shop, start, email=email).status_code == 201
    return shop


def test_export_then_erase_one_customer(svc: Service, biz: Business) -> None:
    found = svc.call("GET", "/v1/customers", biz.token, params={"email": "PAT@example.com"}).json()["customers"]
    assert len(found) == 2  # one customer row per booking made through the public page
    exported = [svc.call("GET", f"/v1/customers/{c['id']}/export", biz.token).json() for c in found]
    assert {e["customer"]["email"] for e in exported} == {"pat@example.com"}
    assert exported[0]["customer"]["phone"] == "+1 555 0100"
    assert sorted(b["start"] for e in exported for b in e["bookings"]) == [
        "2026-01-06T09:00:00+00:00", "2026-01-07T09:00:00+00:00"]
    assert exported[0]["bookings"][0]["service"] == "Consultation"
    for c in found:
        r = svc.call("DELETE", f"/v1/customers/{c['id']}", biz.token)
        assert r.json() == {"erased": c["id"], "bookings_erased": 1}
    assert svc.call("GET", "/v1/customers", biz.token, params={"email": "pat@example.com"}).json()["customers"] == []
    remaining = svc.call("GET", "/v1/bookings", biz.token).json()["bookings"]
    assert [b["customer"]["email"] for b in remaining] == ["quinn@example.com"]
    assert svc.call("GET", f"/v1/customers/{found[0]['id']}/export", biz.token).status_code == 404
    events = svc.call("GET", "/v1/audit", biz.token).json()["events"]
    assert [(e["action"], e["target"]) for e in events[:2]] == [("customer.erased", found[1]["id"]),
                                                                 ("customer.erased", found[0]["id"])]
    assert events[0]["address"] == "127.0.0.1"
    assert "pat@" not in json.dumps(events), "the audit log must not hold personal data"


def test_whole_tenant_export_is_one_archive_without_credentials(svc: Service, biz: Business) -> None:
    r = svc.call("GET", "/v1/tenant/export", biz.token)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        manifest = json.loads(z.read("manifest.json"))
        users = [json.loads(line) for line in z.read("users.jsonl").decode().splitlines()]
        services = z.read("services.jsonl").decode()
    assert manifest["slug"] == "privacy-shop"
    assert manifest["tables"]["staff"]["rows"] == 1
    assert manifest["tables"]["bookings"]["rows"] >= 1
    assert "Consultation" in services
    assert users[0]["email"] == "owner@privacy-shop.example"
    assert "password_hash" not in users[0]
    assert "api_tokens" in manifest["not_exported"]


def test_erasure_shreds_the_data_key_so_an_old_backup_is_unreadable(
        svc: Service, cluster: Cluster, keys: LocalKeyStore, tmp_path: Path) -> None:
    signed = svc.signup("shred-shop")
    token, tenant_id = signed["access_token"], uuid.UUID(signed["tenant"]["id"])
    set_plan(svc, str(tenant_id), "pro")
    integration = svc.call("POST", "/v1/integrations", token, json={"provider": "google",
                                                                      "refresh_token": "1//old-backup-secret"})
    assert integration.status_code == 201
    dbname = conninfo_to_dict(svc.db.app_url)["dbname"]
    backup = tmp_path / "before-erasure.dump"
    # yesterday's backup, taken as the superuser (row-level security would hide the rows from pg_dump)
    subprocess.run([str(pg_bin("pg_dump")), "-Fc", "-f", str(backup), make_conninfo(cluster.admin_url, dbname=dbname)],
                   check=True, timeout=120)
    blob = _restored_blob(cluster, backup, "restored_before")
    assert unseal(keys, tenant_id, uuid.UUID(integration.json()["id"]), "google", blob) == "1//old-backup-secret"

    wrong = svc.call("POST", "/v1/tenant/erase", token, json={"confirm_slug": "other"})
    assert wrong.status_code == 422
    erased = svc.call("POST", "/v1/tenant/erase", token, json={"confirm_slug": "shred-shop"})
    assert erased.status_code == 200, erased.text
    assert erased.json()["data_key_shredded"] is True

    blob = _restored_blob(cluster, backup, "restored_after")  # the same old backup, restored after erasure
    with pytest.raises(Unreadable, match="shredded"):
        unseal(keys, tenant_id, uuid.UUID(integration.json()["id"]), "google", blob)
    assert svc.call("GET", "/v1/tenant", token).status_code == 401
    assert svc.call("GET", "/v1/public/shred-shop/services").status_code == 404
    with psycopg.connect(make_conninfo(cluster.admin_url, dbname=dbname), autocommit=True) as conn:
        for table in ("tenants", "users", "audit_events", "integrations", "api_tokens"):
            column = "id" if table == "tenants" else "tenant_id"
            n = conn.execute(f"SELECT count(*) FROM {table} WHERE {column} = %s", (tenant_id,)).fetchone()
            assert n == (0,), f"{table} still holds the erased tenant's rows"


def _restored_blob(cluster: Cluster, dump: Path, name: str) -> bytes:
    with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    subprocess.run([str(pg_bin("pg_restore")), "--no-owner", "--no-acl", "-d",
                    make_conninfo(cluster.admin_url, dbname=name), str(dump)], check=True, timeout=120)
    with psycopg.connect(make_conninfo(cluster.admin_url, dbname=name)) as conn:
        row = conn.execute("SELECT refresh_token FROM integrations").fetchone()
    assert row is not None
    return bytes(row[0])


def test_retention_erases_old_bookings_and_customers_only(svc: Service) -> None:
    shop = make_business(svc, "retention-shop")
    assert book(svc, shop, "2026-01-06T10:00:00+01:00", email="old@example.com").status_code == 201
    assert svc.call("PUT", "/v1/tenant/retention", shop.token, json={"days": 10}).status_code == 422
    assert svc.call("PUT", "/v1/tenant/retention", shop.token, json={"days": 30}).status_code == 200
    later = svc.clock.now + timedelta(days=45)
    svc.clock.now = later - timedelta(days=1)
    assert book(svc, shop, (later + timedelta(days=1)).strftime("%Y-%m-%dT10:00:00+01:00"),
                email="new@example.com").status_code == 201
    pool = make_pool(svc.db.app_url, min_size=1, max_size=2)
    pool.open(wait=True)
    try:
        done: dict[str, Any] = apply_retention(pool, "us", later)
        again = apply_retention(pool, "us", later)
    finally:
        pool.close()
        svc.clock.now = later - timedelta(days=45)
    assert done["retention-shop"] == {"bookings": 1, "customers": 1, "audit_events": 0}
    assert again["retention-shop"]["bookings"] == 0
    assert "privacy-shop" not in done, "a tenant without a retention setting keeps everything"
    left = svc.call("GET", "/v1/bookings", shop.token).json()["bookings"]
    assert [b["customer"]["email"] for b in left] == ["new@example.com"]
    events = svc.call("GET", "/v1/audit", shop.token).json()["events"]
    actions = [(e["actor"], e["action"], e["target"]) for e in events]
    assert ("system:retention", "retention.erased", "bookings=1 customers=1") in actions
