"""Pieces of Azure Resource Manager ids, for APIs that want a name and group instead of an id."""

from __future__ import annotations

import re

_ID = re.compile(r"^/subscriptions/[^/]+/resourceGroups/(?P<group>[^/]+)/providers/(?P<provider>[^/]+)/"
                 r"(?P<kind>[^/]+)/(?P<name>[^/]+)$", re.IGNORECASE)


def group_and_name(resource_id: str, kind: str) -> tuple[str, str]:
    """(resource group, name) of a top-level ARM id of `kind`, e.g. virtualMachineScaleSets."""
    match = _ID.match(resource_id)
    if match is None or match.group("kind").lower() != kind.lower():
        raise ValueError(f"{resource_id!r} is not the id of a {kind} resource; expected "
                         f"/subscriptions/<sub>/resourceGroups/<group>/providers/<provider>/{kind}/<name>")
    return match.group("group"), match.group("name")
