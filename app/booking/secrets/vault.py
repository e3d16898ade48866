"""The service's secrets from the cell's Azure Key Vault, read with the VM's managed identity.

cloud-init gives a VM only public facts (KEY_VAULT_URI, AZURE_CLIENT_ID, CELL, CELL_URLS). At start the
service asks the instance metadata service (IMDS) for a Key Vault token of the fleet's user-assigned
identity and reads the secrets Pulumi put into the vault (infra/storage/service_secrets.py). Plain HTTPS
with `requests`: the two calls are small and documented, and the Azure SDK would add a large dependency
tree to every VM for them. Values are returned, never logged; errors name the secret and what to fix.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import requests

# environment variable -> Key Vault secret name (the contract with infra/)
SECRETS = {
    "DATABASE_URL": "booking-database-url",
    "DATABASE_OWNER_URL": "booking-owner-url",
    "SECRET_KEY": "booking-secret-key",
    "PEER_KEY": "booking-peer-key",
}
KEY_VAULT_API = "7.4"
IMDS_API = "2018-02-01"
IMDS_DEFAULT = "http://169.254.169.254"  # Azure SDKs honour IMDS_ENDPOINT to point elsewhere; so do we
VAULT_RESOURCE = "https://vault.azure.net"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class VaultError(RuntimeError):
    """A secret could not be read; the message says which and what to check."""


def _checked_vault_uri(uri: str) -> str:
    parts = urlsplit(uri)
    # a token for the vault must never travel in clear text; plain http only to this machine (tests)
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK):
        raise VaultError(f"KEY_VAULT_URI={uri!r} must be an https:// URL like https://kv-name.vault.azure.net/")
    return uri if uri.endswith("/") else uri + "/"


def imds_token(client_id: str, *, endpoint: str = IMDS_DEFAULT, attempts: int = 5, timeout_s: float = 5.0,
               sleep: Callable[[float], None] = time.sleep) -> str:
    """A Key Vault access token of the user-assigned identity `client_id`.

    IMDS can be briefly unavailable right after boot, so it is retried with back-off (as Azure advises).
    """
    url = f"{endpoint.rstrip('/')}/metadata/identity/oauth2/token"
    params = {"api-version": IMDS_API, "resource": VAULT_RESOURCE, "client_id": client_id}
    why = ""
    for attempt in range(attempts):
        try:
            resp = requests.get(url, params=params, headers={"Metadata": "true"}, timeout=timeout_s)
        except requests.RequestException as exc:
            why = type(exc).__name__
        else:
            if resp.status_code == 200:
                token = resp.json().get("access_token")
                if isinstance(token, str) and token:
                    return token
                why = "an answer without access_token"
            elif resp.status_code in (400, 404):  # wrong identity: retrying will not help
                raise VaultError(f"the instance metadata service refused a token for client_id={client_id!r} "
                                 f"(HTTP {resp.status_code}); AZURE_CLIENT_ID must be the client id of the "
                                 "fleet's user-assigned identity attached to this VM")
            else:
                why = f"HTTP {resp.status_code}"
        if attempt + 1 < attempts:
            sleep(min(2.0 ** attempt, 8.0))
    raise VaultError(f"no token from the instance metadata service at {endpoint} after {attempts} attempts "
                     f"({why}); this must run on an Azure VM with the fleet's managed identity")


def get_secret(vault_uri: str, name: str, token: str, *, timeout_s: float = 10.0) -> str:
    """The current value of secret `name`."""
    url = f"{_checked_vault_uri(vault_uri)}secrets/{name}"
    try:
        resp = requests.get(url, params={"api-version": KEY_VAULT_API}, timeout=timeout_s,
                            headers={"Authorization": f"Bearer {token}"})
    except requests.RequestException as exc:
        raise VaultError(f"Key Vault {vault_uri} did not answer for secret {name!r} ({type(exc).__name__}); "
                         "check the vault's private endpoint and DNS from this VM") from exc
    if resp.status_code == 403:
        raise VaultError(f"Key Vault {vault_uri} refused secret {name!r} (403): grant the fleet's identity "
                         "'Key Vault Secrets User' on this vault (infra/cell.py does) and check its network rules")
    if resp.status_code == 404:
        raise VaultError(f"secret {name!r} does not exist in Key Vault {vault_uri}; run `pulumi up` for this "
                         "environment, which creates it")
    if resp.status_code != 200:
        raise VaultError(f"Key Vault {vault_uri} answered HTTP {resp.status_code} for secret {name!r}: "
                         f"{_error_message(resp)}")
    value = resp.json().get("value")
    if not isinstance(value, str) or not value:
        raise VaultError(f"secret {name!r} in Key Vault {vault_uri} is empty; set it with `pulumi up`")
    return value


def _error_message(resp: requests.Response) -> str:
    try:
        return str(resp.json()["error"]["message"])[:200]
    except (ValueError, KeyError, TypeError):
        return resp.text[:200]


def load(env: Mapping[str, str]) -> dict[str, str]:
    """Every secret of SECRETS from the vault named by KEY_VAULT_URI, as environment variables.

    All are read before any is used, so a missing one fails the start before anything is changed.
    """
    vault_uri = _checked_vault_uri(env["KEY_VAULT_URI"])
    client_id = env.get("AZURE_CLIENT_ID", "")
    if not client_id:
        raise VaultError("AZURE_CLIENT_ID is not set; cloud-init writes it (the fleet identity's client id)")
    token = imds_token(client_id, endpoint=env.get("IMDS_ENDPOINT") or IMDS_DEFAULT)
    return {variable: get_secret(vault_uri, name, token) for variable, name in SECRETS.items()}
