"""The `booking` command: the embedded default from a bare data directory, migrate, provision, create-tenant."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import requests
from booking.migrate import head_revision

from infra.local.lifecycle.ports import free_port
from tests.app.conftest import Cluster

BOOKING = str(Path(sys.executable).parent / "booking")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY", "CELL", "CELL_URLS")}
    env.update(extra)
    return env


def test_serve_on_a_fresh_data_dir_starts_postgres_migrates_and_books(pg_data_dir: Path) -> None:
    port = free_port()
    data = pg_data_dir / "data"
    proc = subprocess.Popen([BOOKING, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data)],
                            env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "service did not become ready in 60 s"
            time.sleep(0.3)
        created = subprocess.run([BOOKING, "create-tenant", "--slug", "demo-clinic", "--name", "Demo Clinic",
                                  "--timezone", "Europe/Berlin", "--owner-email", "owner@demo.example", "--demo",
                                  "--data-dir", str(data)], env=clean_env(), capture_output=True, text=True,
                                 timeout=120, check=False)
        assert created.returncode == 0, created.stderr
        out = json.loads(created.stdout)
        assert out["access_token"].startswith("bk_")
        assert out["tenant"]["home_cell"] == "us"
        slots = requests.get(f"{base}/v1/public/demo-clinic/services/{out['service_id']}/slots",
                             params={"from": time.strftime("%Y-%m-%d"), "to": time.strftime(
                                 "%Y-%m-%d", time.gmtime(time.time() + 7 * 86400)), "tz": "Europe/Berlin"}, timeout=10)
        assert slots.status_code == 200
        assert len(slots.json()["slots"]) > 0
        staff = requests.get(f"{base}/v1/staff", headers={"Authorization": f"Bearer {out['access_token']}"},
                             timeout=10).json()["staff"]
        assert staff[0]["weekly"]["monday"] == [["09:00", "17:00"]]
        assert (data / "secret_key").stat().st_mode & 0o777 == 0o600
        logs_so_far = ""
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            logs_so_far = proc.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0
    assert '"route": "/readyz"' in logs_so_far  # JSON access log lines
    assert not (data / "pgdata" / "postmaster.pid").exists(), "embedded PostgreSQL must stop with the service"


def test_serve_without_database_names_the_fix() -> None:
    r = subprocess.run([BOOKING, "serve"], env=clean_env(), capture_output=True, text=True, timeout=30, check=False)
    assert r.returncode == 2
    assert "set DATABASE_URL" in r.stderr
    assert "--data-dir" in r.stderr


def test_provision_then_migrate_with_explicit_urls(cluster: Cluster) -> None:
    r = subprocess.run([BOOKING, "provision", "--admin-url", cluster.admin_url, "--database", "cli_db"],
                       capture_output=True, text=True, timeout=60, check=True)
    urls = json.loads(r.stdout)
    m = subprocess.run([BOOKING, "migrate", "--database-url", urls["owner_url"]], capture_output=True, text=True,
                       timeout=120, check=False)
    assert m.returncode == 0, m.stderr
    with psycopg.connect(urls["app_url"]) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head_revision()
    again = subprocess.run([BOOKING, "migrate", "--database-url", urls["owner_url"]], capture_output=True,
                           text=True, timeout=120, check=False)
    assert again.returncode == 0, "migrating twice must be a no-op"


def test_create_tenant_refuses_another_residency(cluster: Cluster) -> None:
    r = subprocess.run([BOOKING, "provision", "--admin-url", cluster.admin_url, "--database", "cli_db2"],
                       capture_output=True, text=True, timeout=60, check=True)
    urls = json.loads(r.stdout)
    subprocess.run([BOOKING, "migrate", "--database-url", urls["owner_url"]], check=True, capture_output=True,
                   timeout=120)
    env = clean_env(DATABASE_URL=urls["app_url"], CELL="us", CELL_URLS="us=http://127.0.0.1:9,eu=http://127.0.0.1:9")
    bad = subprocess.run([BOOKING, "create-tenant", "--slug", "euro-shop", "--name", "Euro", "--timezone",
                          "Europe/Paris", "--owner-email", "o@e.example", "--residency", "eu"], env=env,
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 1
    assert "served by cell 'eu'" in bad.stderr


def test_serve_with_a_database_but_no_secret_key_refuses(tmp_path: Path) -> None:
    r = subprocess.run([BOOKING, "serve", "--data-dir", str(tmp_path)], capture_output=True, text=True,
                       env=clean_env(DATABASE_URL="postgresql://booking_app@/booking?host=/nonexistent"),
                       timeout=30, check=False)
    assert r.returncode == 2
    assert "SECRET_KEY is not set" in r.stderr
    assert not (tmp_path / "secret_key").exists()


def test_create_tenant_issues_a_token_only_with_the_services_secret_key(cluster: Cluster) -> None:
    urls = cluster.fresh_database("cli_tokens")
    base = clean_env(DATABASE_URL=urls.app_url, CELL="us", CELL_URLS="us=http://127.0.0.1:9")
    args = ["--timezone", "UTC", "--owner-email", "o@keyless.example", "--demo"]
    keyless = subprocess.run([BOOKING, "create-tenant", "--slug", "keyless", "--name", "Keyless", *args], env=base,
                             capture_output=True, text=True, timeout=60, check=False)
    assert keyless.returncode == 0, keyless.stderr
    out = json.loads(keyless.stdout)
    assert out["access_token"] is None
    assert out["service_id"]
    assert "SECRET_KEY is not set, so no access_token is issued" in keyless.stderr
    keyed = subprocess.run([BOOKING, "create-tenant", "--slug", "keyed", "--name", "Keyed", *args],
                           env={**base, "SECRET_KEY": "k" * 40}, capture_output=True, text=True, timeout=60,
                           check=False)
    assert keyed.returncode == 0, keyed.stderr
    assert json.loads(keyed.stdout)["access_token"].startswith("bk_")
