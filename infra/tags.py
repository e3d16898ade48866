"""The tags every taggable Azure and AWS resource of a cell carries.

The `cell` tag is how tools, policies and the residency statement find a resource's cell; the
`residency` tag says which geography its data must stay in.
"""

from __future__ import annotations

from infra.environment import Cell

# Environment-wide resources that belong to no cell (action groups, the IAM OIDC provider) and the
# uptime monitor on AWS carry these `cell` values; they hold operational data, no customer data. The
# residency statement owns the values (the policy pack imports it without PyYAML, so not this module).
from infra.statement import MONITOR_CELL, OPERATIONAL, SHARED_CELL  # noqa: F401 - re-exported

MANAGED_BY = "pulumi-slotstack"
# A cell stores tenant personal data (names, emails, appointments); everything in it is handled as such.
DATA_CLASSIFICATION = "confidential-personal-data"

REQUIRED_KEYS = ("environment", "cell", "residency", "data-classification", "managed-by")


def cell_tags(environment: str, cell: Cell) -> dict[str, str]:
    """The five required tags of every resource of `cell` in `environment`."""
    return {
        "environment": environment,
        "cell": cell.name,
        "residency": cell.residency,
        "data-classification": DATA_CLASSIFICATION,
        "managed-by": MANAGED_BY,
    }


def with_role(tags: dict[str, str], role: str) -> dict[str, str]:
    """`tags` plus a `role` tag (e.g. "primary", "secondary") for resources of one region of a cell."""
    return {**tags, "region-role": role}
