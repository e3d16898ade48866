"""Key Vaults cannot be purged early and are governed by Azure RBAC, not access policies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policy.rules.common import dig

NAME = "keyvault-purge-protection-rbac"
DESCRIPTION = "Key Vaults enable purge protection, soft delete of 90 days and RBAC authorization."
VAULT = "azure-native:keyvault:Vault"
SOFT_DELETE_DAYS = 90


def check(type_: str, props: Mapping[str, Any]) -> list[str]:
    """Violations of this policy by one resource (empty when compliant or not applicable)."""
    if type_ != VAULT:
        return []
    problems = []
    if dig(props, "properties.enablePurgeProtection") is not True:
        problems.append("properties.enablePurgeProtection is not true: a deleted vault and its keys could be "
                        "purged at once; set it to true (it cannot be turned off later)")
    if dig(props, "properties.enableRbacAuthorization") is not True:
        problems.append("properties.enableRbacAuthorization is not true: access policies bypass Azure RBAC and "
                        "its audit; set it to true and grant roles instead")
    if dig(props, "properties.enableSoftDelete") is False:
        problems.append("properties.enableSoftDelete is false: set it to true")
    days = dig(props, "properties.softDeleteRetentionInDays", SOFT_DELETE_DAYS)
    if not isinstance(days, int | float) or days < SOFT_DELETE_DAYS:
        problems.append(f"properties.softDeleteRetentionInDays is {days!r}: keep deleted secrets {SOFT_DELETE_DAYS} "
                        "days")
    return problems
