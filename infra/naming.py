"""Names of Azure resources: readable where Azure allows, short and globally unique where it must.

Storage accounts, Key Vaults, PostgreSQL servers and public-IP DNS labels share one global (or
regional) namespace across all Azure customers, so their names get a short suffix derived from the
environment and cell: stable across runs (a rename would replace the resource) yet unlikely to clash
with someone else's. Every other name is scoped to its resource group and stays readable.
"""

from __future__ import annotations

import hashlib
import re

PROJECT = "slotstack"
# Short region codes keep names under Azure's limits (storage accounts: 24 characters).
_REGION_WORDS = (("australia", "au"), ("germany", "de"), ("france", "fr"), ("sweden", "se"), ("central", "c"),
                 ("north", "n"), ("south", "s"), ("east", "e"), ("west", "w"), ("europe", "eu"))


def suffix(environment: str, cell: str, length: int = 6) -> str:
    """A stable hex suffix for the globally-unique names of one cell of one environment."""
    return hashlib.sha256(f"{PROJECT}/{environment}/{cell}".encode()).hexdigest()[:length]


def region_code(region: str) -> str:
    """A short code for an Azure region: westeurope -> weu, australiasoutheast -> ause."""
    code = region
    for word, short in _REGION_WORDS:
        code = code.replace(word, short)
    return code


def _env_code(environment: str) -> str:
    return {"staging": "stg", "prod": "prd"}.get(environment, environment[:4])


def resource_group(environment: str, cell: str, region: str) -> str:
    """rg-slotstack-prod-eu-westeurope: one resource group per cell and region."""
    return f"rg-{PROJECT}-{environment}-{cell}-{region}"


def scoped(kind: str, environment: str, cell: str, region: str) -> str:
    """A resource-group-scoped name such as agw-slotstack-prod-eu-weu."""
    return f"{kind}-{PROJECT}-{environment}-{cell}-{region_code(region)}"


def storage_account(purpose: str, environment: str, cell: str, region: str) -> str:
    """A storage account name (3-24 lowercase letters and digits, globally unique)."""
    name = f"ss{purpose[:3]}{_env_code(environment)}{cell}{region_code(region)}"[:18] + suffix(environment, cell)
    return _check(name, r"[a-z0-9]{3,24}", "storage account")


def key_vault(environment: str, cell: str) -> str:
    """A Key Vault name (3-24 letters, digits and hyphens, starting with a letter, globally unique)."""
    name = f"kv-ss-{_env_code(environment)}-{cell}"[:17] + "-" + suffix(environment, cell)
    return _check(name, r"[a-z][a-z0-9-]{1,22}[a-z0-9]", "key vault")


def dns_label(environment: str, cell: str, region: str) -> str:
    """The public IP's DNS label: <label>.<region>.cloudapp.azure.com must be unique in the region."""
    name = f"{PROJECT}-{environment}-{cell}-{region_code(region)}-{suffix(environment, cell)}"
    return _check(name, r"[a-z][a-z0-9-]{1,61}[a-z0-9]", "DNS label")


def _check(name: str, pattern: str, what: str) -> str:
    # Names come from validated environment values, so a failure here is a bug in the rules above.
    if not re.fullmatch(pattern, name):
        raise ValueError(f"generated {what} name {name!r} does not match {pattern}; shorten the cell name")
    return name


def postgres_server(environment: str, cell: str, region: str) -> str:
    """A PostgreSQL Flexible Server name (3-63 lowercase letters, digits, hyphens; globally unique DNS name)."""
    name = f"psql-{PROJECT}-{environment}-{cell}-{region_code(region)}-{suffix(environment, cell)}"
    return _check(name, r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", "PostgreSQL server")
