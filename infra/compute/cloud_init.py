"""The fleet's custom data: cloud-init that prepares a VM for releases, and the service's environment.

Custom data runs once per instance and cannot change on a running VM, so it carries nothing that
changes between releases: only the packages every release needs. The release itself (wheel,
bootstrap, environment) arrives through the scale set's release extension (infra.compute.release),
which runs on every new instance and again on every running one when the release changes.

Nothing here is secret: the service reads its secrets from Key Vault with the VM's managed identity
(AZURE_CLIENT_ID selects which one).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import yaml

PACKAGES = ["python3-venv", "curl", "ca-certificates"]


@dataclass(frozen=True)
class Boot:
    """What the service on one VM needs to know (all of it public)."""

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


def render() -> str:
    """The #cloud-config document: the packages the release extension's bootstrap needs."""
    document = {"package_update": True, "packages": PACKAGES}
    return "#cloud-config\n" + yaml.safe_dump(document, sort_keys=False, width=1000)


def custom_data() -> str:
    """`render` base64-encoded, as the scale set's osProfile.customData wants it."""
    return base64.b64encode(render().encode()).decode()
