"""Residency: every copy of customer data stays inside its cell's geography.

The classification (which types bear data, which global types are exempt and why) is shared with
the residency statement in `infra.statement`, and the geographies come from `infra.residency`, so
the environment loader, this rule and the statement cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence

from infra.statement import DATA_BEARING, EXEMPT, exempt_group, placements
from policy.rules.common import Finding, Resource

NAME = "residency-data-in-geography"
DESCRIPTION = ("Data-bearing resources (databases and replicas, geo-backups, storage, vaults, workspaces, VMs, "
               "gateways, S3 buckets) are in an allowed region of the geography named by their `residency` "
               "tag; global resources are exempt only if listed with a reason: "
               + "; ".join(f"{t.split(':')[-1]}" for t in EXEMPT) + ".")


def check_stack(resources: Sequence[Resource]) -> list[Finding]:
    """Each copy of data outside its geography, each data-bearing resource without a residency."""
    findings = []
    for resource in resources:
        if resource.type not in DATA_BEARING:
            continue  # touch no other props: at preview they may be unknown
        if exempt_group(resource.tags) is not None:
            continue  # the uptime monitor and shared plumbing: outside every cell on purpose, no customer data
        residency = resource.tags.get("residency")
        for placement in placements(resource.type, resource.name, resource.props, resource.aws_region,
                                    residency if isinstance(residency, str) else None):
            if placement.problem:
                findings.append(Finding(resource.name, f"{placement.holds}: {placement.problem}", resource.urn))
    return findings
