"""Contract test: the custom data the program renders really boots the service with app/deploy/bootstrap.sh.

The cloud-config is taken apart and run on this machine: its IMDS token script against a local fake of
the instance metadata service, then the real bootstrap.sh (under a temp prefix, without systemd, pip
offline) against a local fake of the release container. The fakes assert the exact requests Azure
would get: the token request of the fleet's identity, and a wheel download carrying that token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from infra.compute import cloud_init, settings

TOKEN = "eyJ0eXAiOiJKV1QifQ.fake-storage-token"
CLIENT_ID = "client-us-id-fleet"


def _record(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest},{len(data)}"


def installable_wheel(directory: Path, version: str = "9.9.9") -> Path:
    """A minimal but valid booking wheel (no dependencies) that pip installs offline."""
    files = {
        "booking/__init__.py": b"VERSION = '9.9.9'\n",
        f"booking-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: booking\nVersion: {version}\n".encode(),
        f"booking-{version}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: slotstack-tests\nRoot-Is-Purelib: true\n"
                                              b"Tag: py3-none-any\n",
        f"booking-{version}.dist-info/entry_points.txt": b"[console_scripts]\nbooking = booking:VERSION\n",
    }
    record = "".join(f"{name},{_record(data)}\n" for name, data in files.items())
    record += f"booking-{version}.dist-info/RECORD,,\n"
    path = directory / f"booking-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr(f"booking-{version}.dist-info/RECORD", record)
    return path


class FakeAzure:
    """IMDS token endpoint and release container on 127.0.0.1, recording every request."""

    def __init__(self, wheel: Path) -> None:
        self.wheel = wheel
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                fake.requests.append({"path": url.path, "query": parse_qs(url.query), "headers": dict(self.headers)})
                if url.path == "/metadata/identity/oauth2/token":
                    body = json.dumps({"access_token": TOKEN, "token_type": "Bearer"}).encode()
                elif url.path.endswith(fake.wheel.name) and self.headers.get("Authorization") == f"Bearer {TOKEN}":
                    body = fake.wheel.read_bytes()
                else:
                    self.send_error(403, "no valid bearer token")
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeAzure:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def fake_azure(tmp_path: Path) -> Iterator[FakeAzure]:
    with FakeAzure(installable_wheel(tmp_path)) as fake:
        yield fake


def test_rendered_cloud_init_fetches_the_wheel_with_the_identity_token_and_installs_it(
        tmp_path: Path, fake_azure: FakeAzure) -> None:
    assert settings.BOOTSTRAP.is_file(), f"{settings.BOOTSTRAP} is the script the fleet runs; it must exist"
    wheel = fake_azure.wheel
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    boot = cloud_init.Boot(
        wheel_url=f"{fake_azure.url}/releases/booking/9.9.9/{sha}/{wheel.name}", sha256=sha, cell="eu",
        cell_urls={"eu": "https://eu.book.example.com", "us": "https://us.book.example.com"},
        key_vault_uri="https://kv-ss-prd-eu-000000.vault.azure.net/", client_id=CLIENT_ID)
    document = yaml.safe_load(cloud_init.render(boot, settings.BOOTSTRAP))
    root = tmp_path / "vm"

    def on_vm(path: str) -> str:
        return str(root / path.lstrip("/")) if path.startswith("/opt/") or path.startswith("/run/") else path

    for item in document["write_files"]:
        target = Path(on_vm(item["path"]))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(item["content"]))
        target.chmod(int(item["permissions"], 8))
    token_cmd, install_cmd, cleanup_cmd = document["runcmd"]
    env = {**os.environ, "IMDS_ENDPOINT": fake_azure.url}
    subprocess.run([on_vm(a) for a in token_cmd], env=env, check=True, timeout=60)

    assert install_cmd[0] == "env"
    assert install_cmd[1].startswith("CURL_HOME=")
    env["CURL_HOME"] = on_vm(install_cmd[1].split("=", 1)[1])
    command = [on_vm(a) for a in install_cmd[2:]]
    command += ["--prefix", str(root), "--no-systemd", "--python", sys.executable, "--pip-args", "--no-index"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    subprocess.run([on_vm(a) for a in cleanup_cmd], check=True, timeout=10)

    imds, download = fake_azure.requests
    assert imds["headers"].get("Metadata") == "true"
    assert imds["query"]["resource"] == ["https://storage.azure.com/"]
    assert imds["query"]["client_id"] == [CLIENT_ID], "the token must be the fleet identity's"
    assert download["path"] == f"/releases/booking/9.9.9/{sha}/{wheel.name}"
    assert download["headers"].get("Authorization") == f"Bearer {TOKEN}"
    assert download["headers"].get("x-ms-version"), "blob storage needs x-ms-version with a bearer token"
    env_file = (root / "etc/booking/booking.env").read_text()
    assert "CELL=eu\n" in env_file
    assert "CELL_URLS=eu=https://eu.book.example.com,us=https://us.book.example.com\n" in env_file
    assert "KEY_VAULT_URI=https://kv-ss-prd-eu-000000.vault.azure.net/\n" in env_file
    assert f"AZURE_CLIENT_ID={CLIENT_ID}\n" in env_file
    assert (root / "opt/booking/current").resolve() == (root / "opt/booking/releases" / sha).resolve()
    assert (root / "opt/booking/current/bin/booking").exists(), "the wheel was not installed"
    assert not (root / "run/slotstack/.curlrc").exists(), "the token must not outlive the install"
    assert TOKEN not in env_file
