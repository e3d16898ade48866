"""Contract test: the release extension the program renders really installs the service on a VM.

The extension's script is decoded exactly as the Custom Script extension does (base64, gunzip) and run
by /bin/sh on this machine with app/deploy/bootstrap.sh, under a temp prefix, without systemd and with
pip offline: first on a new VM, then a second release on the same (running) VM, then a broken one,
which must leave the running release in place.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

from infra.compute import cloud_init, release, settings

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
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"booking-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr(f"booking-{version}.dist-info/RECORD", record)
    return path


def run_release(root: Path, wheel: Path) -> subprocess.CompletedProcess[str]:
    """Render the release extension for `wheel` and run its script as the VM would, rooted at `root`."""
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    boot = cloud_init.Boot(cell="eu", cell_urls={"eu": "https://eu.book.example.com",
                                                 "us": "https://us.book.example.com"},
                           key_vault_uri="https://kv-ss-prd-eu-000000.vault.azure.net/", client_id=CLIENT_ID)
    extension = release.extension(settings.Wheel(path=wheel, version="9.9.9", sha256=sha), boot, settings.BOOTSTRAP)
    script = gzip.decompress(base64.b64decode(extension["protected_settings"]["script"])).decode()
    # The VM's absolute work directory, moved under the test's root.
    script = script.replace(release.WORK, str(root / release.WORK.lstrip("/")))
    path = root / "release.sh"
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(script, encoding="utf-8")
    args = ["--prefix", str(root), "--no-systemd", "--python", sys.executable, "--pip-args", "--no-index"]
    return subprocess.run(["sh", str(path), *args], capture_output=True, text=True, timeout=300, check=False)


def test_release_installs_on_a_new_vm_and_a_second_release_replaces_it_on_the_running_vm(tmp_path: Path) -> None:
    assert settings.BOOTSTRAP.is_file(), f"{settings.BOOTSTRAP} is the script the fleet runs; it must exist"
    root = tmp_path / "vm"
    first = installable_wheel(tmp_path / "a", version="9.9.9")
    result = run_release(root, first)
    assert result.returncode == 0, result.stderr
    sha = hashlib.sha256(first.read_bytes()).hexdigest()
    env_file = (root / "etc/booking/booking.env").read_text()
    assert "CELL=eu\n" in env_file
    assert "CELL_URLS=eu=https://eu.book.example.com,us=https://us.book.example.com\n" in env_file
    assert "KEY_VAULT_URI=https://kv-ss-prd-eu-000000.vault.azure.net/\n" in env_file
    assert f"AZURE_CLIENT_ID={CLIENT_ID}\n" in env_file
    assert (root / "opt/booking/current").resolve() == (root / "opt/booking/releases" / sha).resolve()
    assert (root / "opt/booking/current/bin/booking").exists(), "the wheel was not installed"

    second = installable_wheel(tmp_path / "b", version="9.9.10")
    result = run_release(root, second)
    assert result.returncode == 0, result.stderr
    new_sha = hashlib.sha256(second.read_bytes()).hexdigest()
    assert (root / "opt/booking/current").resolve() == (root / "opt/booking/releases" / new_sha).resolve()
    assert (root / "opt/booking/releases" / sha).is_dir(), "the previous release stays for a quick rollback"


def test_a_release_that_cannot_install_leaves_the_running_one(tmp_path: Path) -> None:
    root = tmp_path / "vm"
    good = installable_wheel(tmp_path / "a")
    assert run_release(root, good).returncode == 0
    broken = tmp_path / "b" / "booking-9.9.11-py3-none-any.whl"
    broken.parent.mkdir()
    broken.write_bytes(b"not a zip")
    result = run_release(root, broken)
    assert result.returncode != 0, "the extension reports failure, so the rolling upgrade stops"
    sha = hashlib.sha256(good.read_bytes()).hexdigest()
    assert (root / "opt/booking/current").resolve() == (root / "opt/booking/releases" / sha).resolve()
