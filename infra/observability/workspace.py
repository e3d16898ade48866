"""The cell's Log Analytics workspace: every log of the cell lands here, in its primary region."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import operationalinsights


@dataclass
class LogWorkspaceArgs:
    """Inputs of `LogWorkspace`."""

    resource_group_name: pulumi.Input[str]
    """Resource group in the cell's primary region."""
    location: str
    """The cell's primary region (logs are customer data: they stay in the geography)."""
    workspace_name: str
    """Workspace name, owned by the caller's naming (unique in the resource group)."""
    retention_days: int
    """`cell.logs.retention_days`."""
    daily_cap_gb: float
    """`cell.logs.daily_cap_gb`: ingestion stops for the day at this volume."""
    tags: Mapping[str, str]
    """The cell tags."""


class LogWorkspace(pulumi.ComponentResource):
    """A PerGB2018 Log Analytics workspace with the cell's retention and daily cap."""

    workspace_id: pulumi.Output[str]
    workspace_customer_id: pulumi.Output[str]

    def __init__(self, name: str, args: LogWorkspaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slotstack:observability:LogWorkspace", name, None, opts)
        workspace = operationalinsights.Workspace(
            f"{name}-law",
            workspace_name=args.workspace_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            sku={"name": "PerGB2018"},
            retention_in_days=args.retention_days,
            workspace_capping={"daily_quota_gb": args.daily_cap_gb},
            # Access goes through Azure RBAC on the workspace; no shared keys for new agents.
            features={"enable_log_access_using_only_resource_permissions": True},
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.workspace_id = workspace.id
        self.workspace_customer_id = workspace.customer_id
        self.register_outputs({"workspace_id": self.workspace_id})
