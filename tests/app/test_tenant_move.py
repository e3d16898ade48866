"""Moving a tenant between cells: export, import with verification, erase at the source, 421 afterwards."""

from __future__ import annotations

import io
import json
import subprocess
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app.conftest import PASSWORD, Cluster, Server, Service, book, make_business, start_service
from tests.app.test_cli import BOOKING, clean_env


@pytest.fixture(scope="module")
def cells(cluster: Cluster) -> Iterator[dict[str, Service]]:
    us_server, eu_server = Server(None), Server(None)
    urls = {"us": us_server.url, "eu": eu_server.url}
    suffix = uuid.uuid4().hex[:6]
    us = start_service(cluster.fresh_database(f"move_us_{suffix}"), cell="us", cell_urls=urls, server=us_server)
    eu = start_service(cluster.fresh_database(f"move_eu_{suffix}"), cell="eu", cell_urls=urls, server=eu_server)
    yield {"us": us, "eu": eu}
    us.server.stop()
    eu.server.stop()


def run(svc: Service, *args: str) -> subprocess.CompletedProcess[str]:
    env = clean_env(DATABASE_URL=svc.db.app_url, CELL=svc.app.state.ctx.settings.cell)
    return subprocess.run([BOOKING, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def test_a_tenant_moves_from_us_to_eu_with_verified_counts_and_checksums(cells: dict[str, Service],
                                                                       tmp_path: Path) -> None:
    us, eu = cells["us"], cells["eu"]
    shop = make_business(us, "moving-clinic")
    us.call("PUT", "/v1/questions", shop.token, json=[{"key": "reason", "label": "Reason", "kind": "text"}])
    for day in ("06", "07"):
        assert book(us, shop, f"2026-01-{day}T10:00:00+01:00", answers={"reason": "checkup"}).status_code == 201
    archive = tmp_path / "moving-clinic.zip"

    exported = run(us, "tenant", "export", "--slug", "moving-clinic", "--out", str(archive))
    assert exported.returncode == 0, exported.stderr
    summary = json.loads(exported.stdout)
    assert summary["tables"]["bookings"]["rows"] == 2
    assert summary["tables"]["customers"]["rows"] == 2
    assert archive.stat().st_mode & 0o777 == 0o600

    # a corrupted archive is refused and leaves the target untouched
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.namelist():
            data = src.read(item)
            dst.writestr(item, data.replace(b"checkup", b"checkuq") if item == "bookings.jsonl" else data)
    refused = run(eu, "tenant", "import", str(tampered))
    assert refused.returncode == 1
    assert "verification failed after import for tables ['bookings']" in refused.stderr
    assert eu.call("GET", "/v1/public/moving-clinic/services").status_code == 421  # still served by us

    imported = run(eu, "tenant", "import", str(archive))
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["verified"] is True
    verified = run(eu, "tenant", "verify", str(archive))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["matches"] is True

    erased = run(us, "tenant", "erase", "--slug", "moving-clinic", "--moved-to", "eu")
    assert erased.returncode == 0, erased.stderr
    assert json.loads(erased.stdout)["home_cell"] == "eu"

    # the source cell now points at the new home
    r = us.call("GET", "/v1/public/moving-clinic/services")
    assert r.status_code == 421
    assert r.json()["home_url"] == f"{eu.url}/v1/public/moving-clinic/services"
    assert us.call("GET", "/v1/staff", shop.token).status_code == 401
    # the target serves the same business, and its owner signs in with the same password
    services = eu.call("GET", "/v1/public/moving-clinic/services")
    assert services.status_code == 200
    assert [s["id"] for s in services.json()["services"]] == [shop.service_id]
    login = eu.call("POST", "/v1/login", json={"slug": "moving-clinic", "email": "owner@moving-clinic.example",
                                               "password": PASSWORD})
    assert login.status_code == 200
    cookie = login.headers["Set-Cookie"].split(";")[0]
    bookings = eu.call("GET", "/v1/bookings", headers={"Cookie": cookie}).json()["bookings"]
    assert sorted(b["answers"]["reason"] for b in bookings) == ["checkup", "checkup"]
    assert eu.call("GET", "/v1/tenant", headers={"Cookie": cookie}).json()["home_cell"] == "eu"

    # after the move a changed row is noticed by verify
    eu.call("POST", f"/v1/bookings/{bookings[0]['id']}/cancel", headers={"Cookie": cookie,
                                                                          "X-CSRF-Token": login.json()["csrf_token"]})
    drifted = run(eu, "tenant", "verify", str(archive))
    assert drifted.returncode == 1
    assert "bookings" in json.loads(drifted.stdout)["differs"]  # (and audit_events: the sign-in was logged)


def test_an_owner_export_cannot_be_imported_as_a_move(cells: dict[str, Service], tmp_path: Path) -> None:
    us, eu = cells["us"], cells["eu"]
    shop = make_business(us, "owner-export")
    path = tmp_path / "owner.zip"
    path.write_bytes(us.call("GET", "/v1/tenant/export", shop.token).content)
    r = run(eu, "tenant", "import", str(path))
    assert r.returncode == 1
    assert "exported for the business" in r.stderr
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as z:
        assert json.loads(z.read("manifest.json"))["scope"] == "owner"
