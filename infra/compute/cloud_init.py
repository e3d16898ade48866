"""The fleet's custom data: cloud-init that fetches the release, checks its sha256 and runs the service.

Custom data is readable by anyone who can read the scale set, so it carries no secret: only where
the wheel is, its hash, the cell, the other cells' URLs and the Key Vault URI. The service reads its
secrets from Key Vault with the VM's managed identity (AZURE_CLIENT_ID selects which one).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import yaml

INSTALL_PATH = "/opt/slotstack/bootstrap.sh"
UNIT_PATH = "/opt/slotstack/booking.service"
IMDS_SCRIPT_PATH = "/opt/slotstack/storage-token.sh"
CURL_HOME = "/run/slotstack"
# Where the script sits when it is not embedded: shipped on the image or by an earlier cloud-init.
REFERENCED_PATH = "/opt/slotstack/app/deploy/bootstrap.sh"


@dataclass(frozen=True)
class Boot:
    """Everything one VM needs to know at first boot (all of it public)."""

    wheel_url: str
    """https URL of the wheel blob (private endpoint; read with the managed identity)."""
    sha256: str
    """Expected sha256 of the wheel; a mismatch stops the install."""
    cell: str
    """This cell's name (CELL)."""
    cell_urls: dict[str, str]
    """Every cell's public URL (CELL_URLS), for 421 answers that name a tenant's home cell."""
    key_vault_uri: str
    """The cell's Key Vault (KEY_VAULT_URI)."""
    client_id: str
    """Client id of the fleet's user-assigned identity (AZURE_CLIENT_ID)."""
    trusted_proxies: tuple[str, ...] = ()
    """The gateway subnets (TRUSTED_PROXIES): the only peers whose X-Forwarded-For the service believes."""


def environment(boot: Boot) -> dict[str, str]:
    """The variables bootstrap.sh writes into the service's env file (its `--env KEY=VALUE` arguments)."""
    return {
        "CELL": boot.cell,
        "CELL_URLS": ",".join(f"{name}={url}" for name, url in sorted(boot.cell_urls.items())),
        "KEY_VAULT_URI": boot.key_vault_uri,
        "AZURE_CLIENT_ID": boot.client_id,
        **({"TRUSTED_PROXIES": ",".join(boot.trusted_proxies)} if boot.trusted_proxies else {}),
    }


# The release container admits only Entra tokens (no shared keys, no SAS), and bootstrap.sh fetches
# with plain curl: this asks the instance metadata service for a storage token of the fleet's identity
# at boot and hands it to curl through a curlrc that only root can read. The token never leaves the VM.
IMDS_SCRIPT = """#!/bin/sh
set -eu
client_id="$1"; home="$2"
# IMDS_ENDPOINT is the variable Azure's own SDKs honour to point at another metadata endpoint.
url="${IMDS_ENDPOINT:-http://169.254.169.254}/metadata/identity/oauth2/token?api-version=2018-02-01"
url="$url&resource=https%3A%2F%2Fstorage.azure.com%2F&client_id=$client_id"
token="$(curl -fsS --retry 10 --retry-connrefused -H Metadata:true "$url" | python3 -c \
  'import json,sys; print(json.load(sys.stdin)["access_token"])')"
umask 077
mkdir -p "$home"
printf 'header = "Authorization: Bearer %s"\nheader = "x-ms-version: 2021-08-06"\n' "$token" > "$home/.curlrc"
"""


def _file(path: str, content: bytes, mode: str) -> dict[str, str]:
    return {"path": path, "permissions": mode, "owner": "root:root", "encoding": "b64",
            "content": base64.b64encode(content).decode()}


def render(boot: Boot, script: Path) -> str:
    """The #cloud-config document; embeds `script` (and its booking.service) when it exists, else runs it
    from REFERENCED_PATH."""
    files = [_file(IMDS_SCRIPT_PATH, IMDS_SCRIPT.encode(), "0700")]
    command = [REFERENCED_PATH]
    if script.is_file():
        files.append(_file(INSTALL_PATH, script.read_bytes(), "0755"))
        unit = script.parent / "booking.service"
        if unit.is_file():
            files.append(_file(UNIT_PATH, unit.read_bytes(), "0644"))
        command = [INSTALL_PATH, "--unit-file", UNIT_PATH]
    env_args = [item for key, value in environment(boot).items() for item in ("--env", f"{key}={value}")]
    document = {
        "package_update": True,
        "packages": ["python3-venv", "curl", "ca-certificates"],
        "write_files": files,
        "runcmd": [
            [IMDS_SCRIPT_PATH, boot.client_id, CURL_HOME],
            ["env", f"CURL_HOME={CURL_HOME}", *command, "--wheel-url", boot.wheel_url, "--sha256", boot.sha256,
             *env_args],
            ["rm", "-f", f"{CURL_HOME}/.curlrc"],
        ],
    }
    return "#cloud-config\n" + yaml.safe_dump(document, sort_keys=False, width=1000)


def custom_data(boot: Boot, script: Path) -> str:
    """`render` base64-encoded, as the scale set's osProfile.customData wants it."""
    return base64.b64encode(render(boot, script).encode()).decode()
