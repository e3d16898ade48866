"""Packaging: the wheel, the hardened systemd unit, and bootstrap.sh against a local HTTP server."""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

APP = Path(__file__).resolve().parents[2] / "app"
BOOTSTRAP = APP / "deploy" / "bootstrap.sh"
UNIT = APP / "deploy" / "booking.service"
SITE = next(p for p in sys.path if p.endswith("site-packages"))


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """Build the wheel from a copy of app/ and serve it over HTTP: (url, sha256, path)."""
    work = tmp_path_factory.mktemp("release")
    src = work / "src"
    shutil.copytree(APP, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(work / "dist"), str(src)],
                   check=True, capture_output=True, timeout=300)
    wheel = next((work / "dist").glob("booking-*.whl"))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(work / "dist")))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield (f"http://127.0.0.1:{httpd.server_address[1]}/{wheel.name}",
           hashlib.sha256(wheel.read_bytes()).hexdigest(), wheel)
    httpd.shutdown()
    httpd.server_close()


def run_bootstrap(prefix: Path, url: str, sha: str, *extra: str, env: dict[str, str] | None = None
                  ) -> subprocess.CompletedProcess[str]:
    # --no-deps: the test machine installs dependencies from the pinned venv, not from PyPI
    return subprocess.run(["sh", str(BOOTSTRAP), "--wheel-url", url, "--sha256", sha, "--prefix", str(prefix),
                           "--python", sys.executable, "--pip-args", "--no-deps", *extra],
                          capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})},
                          check=False)


def test_wheel_contains_migrations_and_templates(release: tuple[str, str, Path]) -> None:
    import zipfile

    names = zipfile.ZipFile(release[2]).namelist()
    assert "booking/migrations/versions/0001_initial.py" in names
    assert "booking/templates/details.html" in names
    assert "booking/templates/login.html" in names
    assert "booking/data/blocklist.txt" in names, "the password blocklist must ship with the package"
    assert "booking/migrations/versions/0005_images.py" in names
    assert any(n.endswith("entry_points.txt") for n in names)


def test_bootstrap_installs_writes_env_and_starts_the_service(tmp_path: Path,
                                                               release: tuple[str, str, Path]) -> None:
    url, sha, _ = release
    calls = tmp_path / "systemctl.log"
    fake = tmp_path / "systemctl"
    fake.write_text(f"#!/bin/sh\necho \"$*\" >> {calls}\n")
    fake.chmod(0o755)
    prefix = tmp_path / "root"
    r = run_bootstrap(prefix, url, sha, "--env", "CELL=eu", "--env", "CELL_URLS=eu=https://eu.example.com",
                      env={"SYSTEMCTL": str(fake)})
    assert r.returncode == 0, r.stderr
    current = prefix / "opt/booking/current"
    assert current.resolve() == (prefix / f"opt/booking/releases/{sha}").resolve()
    assert (current / "bin/booking").exists()
    help_run = subprocess.run([str(current / "bin/booking"), "--help"], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": SITE}, timeout=60, check=False)
    assert help_run.returncode == 0, help_run.stderr
    assert "create-tenant" in help_run.stdout
    env_file = prefix / "etc/booking/booking.env"
    assert env_file.stat().st_mode & 0o777 == 0o640
    lines = env_file.read_text().splitlines()
    assert "CELL=eu" in lines
    assert "CELL_URLS=eu=https://eu.example.com" in lines
    unit = (prefix / "etc/systemd/system/booking.service").read_text()
    assert f"ExecStart={prefix}/opt/booking/current/bin/booking serve" in unit
    assert f"EnvironmentFile={prefix}/etc/booking/booking.env" in unit
    assert calls.read_text().splitlines() == ["daemon-reload", "enable booking.service", "restart booking.service"]


def test_bootstrap_refuses_a_wheel_with_the_wrong_sha256_and_keeps_the_old_release(
        tmp_path: Path, release: tuple[str, str, Path]) -> None:
    url, sha, _ = release
    prefix = tmp_path / "root"
    assert run_bootstrap(prefix, url, sha, "--no-systemd").returncode == 0
    before = os.readlink(prefix / "opt/booking/current")
    env_before = (prefix / "etc/booking/booking.env").read_text()
    wrong = "0" * 64
    r = run_bootstrap(prefix, url, wrong, "--env", "CELL=au", "--no-systemd")
    assert r.returncode == 3
    assert f"sha256 mismatch for {url.rsplit('/', 1)[1]}: expected {wrong}, got {sha}; refusing to install" in r.stderr
    assert os.readlink(prefix / "opt/booking/current") == before
    assert not (prefix / f"opt/booking/releases/{wrong}").exists()
    assert (prefix / "etc/booking/booking.env").read_text() == env_before


@pytest.mark.parametrize(("args", "fragment"), [
    (["--wheel-url", "ftp://x/booking-1-py3-none-any.whl", "--sha256", "a" * 64], "must be an http(s) URL"),
    (["--wheel-url", "http://x/booking.whl", "--sha256", "abc"], "must be 64 lower-case hex digits"),
    (["--sha256", "a" * 64], "--wheel-url is required"),
    (["--wheel-url", "http://x/booking-1-py3-none-any.whl", "--sha256", "a" * 64, "--env", "lower=1"],
     "must look like KEY=VALUE"),
])
def test_bootstrap_rejects_bad_arguments_with_a_reason(tmp_path: Path, args: list[str], fragment: str) -> None:
    r = subprocess.run(["sh", str(BOOTSTRAP), "--prefix", str(tmp_path), *args], capture_output=True, text=True,
                       timeout=30, check=False)
    assert r.returncode == 2
    assert fragment in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_unit_is_hardened() -> None:
    directives = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            directives.setdefault(key, []).append(value)
    for key, value in [("DynamicUser", "yes"), ("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                       ("ProtectHome", "yes"), ("PrivateTmp", "yes"), ("CapabilityBoundingSet", ""),
                       ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX")]:
        assert value in directives.get(key, []), f"{key}={value} missing from booking.service"
    assert directives["Restart"] == ["on-failure"]
    assert directives["StartLimitIntervalSec"] == ["0"]  # never give up while Key Vault or the DB is not up yet
