"""No public network path to where data lives: PostgreSQL, Key Vault, storage."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policy.rules.common import dig

NAME = "no-public-network-access"
DESCRIPTION = ("PostgreSQL servers, Key Vaults and storage accounts disable public network access (reach them "
               "through the VNet or a private endpoint); blob containers are never public.")


def _postgres(props: Mapping[str, Any]) -> list[str]:
    value = dig(props, "network.publicNetworkAccess")
    if value != "Disabled":
        return [f"network.publicNetworkAccess is {value!r}: the database would be reachable from the Internet; "
                "set it to Disabled and use the delegated subnet and private DNS zone"]
    return []


def _vault(props: Mapping[str, Any]) -> list[str]:
    problems = []
    value = dig(props, "properties.publicNetworkAccess")
    if value != "Disabled":
        problems.append(f"properties.publicNetworkAccess is {value!r}: secrets would be reachable from the "
                        "Internet; set it to Disabled and use the private endpoint")
    if dig(props, "properties.networkAcls.defaultAction", "Deny") != "Deny":
        problems.append("properties.networkAcls.defaultAction is not Deny: set it to Deny")
    return problems


def _storage(props: Mapping[str, Any]) -> list[str]:
    problems = []
    if props.get("publicNetworkAccess") != "Disabled":
        problems.append(f"publicNetworkAccess is {props.get('publicNetworkAccess')!r}: the account would be "
                        "reachable from the Internet; set it to Disabled and use the private endpoint")
    if props.get("allowBlobPublicAccess") is not False:
        problems.append("allowBlobPublicAccess is not false: a container could be made anonymous-readable; "
                        "set it to false")
    return problems


def _container(props: Mapping[str, Any]) -> list[str]:
    access = props.get("publicAccess", "None")
    if access not in ("None", None):
        return [f"publicAccess is {access!r}: anyone could read the container; set it to None"]
    return []


CHECKS = {
    "azure-native:dbforpostgresql:Server": _postgres,
    "azure-native:keyvault:Vault": _vault,
    "azure-native:storage:StorageAccount": _storage,
    "azure-native:storage:BlobContainer": _container,
}


def check(type_: str, props: Mapping[str, Any]) -> list[str]:
    """Violations of this policy by one resource (empty when compliant or not applicable)."""
    rule = CHECKS.get(type_)
    return rule(props) if rule else []
