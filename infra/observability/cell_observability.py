"""A cell's observability in one component (logs, agent, availability tests, alerts), wired by one call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import pulumi

from infra.environment import Alerts, Cell
from infra.observability.agent import MonitorAgent, MonitorAgentArgs
from infra.observability.alerts import CellAlerts, CellAlertsArgs
from infra.observability.availability import DEMO_SERVICE, Availability, AvailabilityArgs
from infra.observability.diagnostics import Diagnostics, DiagnosticsArgs
from infra.observability.locations import pick_locations
from infra.observability.workspace import LogWorkspace, LogWorkspaceArgs

T = TypeVar("T")


def by_region(cell: Cell, by_role: Mapping[str, T]) -> dict[str, T]:
    """Re-key a {"primary"/"secondary": value} map (how `infra/cell.py` exposes ids) by Azure region."""
    regions = {"primary": cell.primary_region, "secondary": cell.secondary_region}
    unknown = sorted(set(by_role) - set(regions))
    if unknown:
        raise ValueError(f"cell {cell.name}: region roles {unknown} are not primary or secondary")
    return {regions[role]: value for role, value in by_role.items()}


@dataclass
class CellObservabilityArgs:
    """Inputs of `CellObservability`: the cell, names, and the ids of the resources it watches."""

    cell: Cell
    """The cell (regions, hostname, logs, active_region)."""
    alerts: Alerts
    """`env.alerts`."""
    resource_group_name: pulumi.Input[str]
    """Resource group in the cell's primary region."""
    name_prefix: str
    """Stem of every name, e.g. `slotstack-prod-us`: law-, appi-, alert- are prefixed to it."""
    action_group_ids: Mapping[str, pulumi.Input[str]]
    """`OnCallActionGroups.ids` of the environment (page, notify)."""
    gateway_ids: Mapping[str, pulumi.Input[str]]
    """Region -> Application Gateway id."""
    postgres_server_ids: Mapping[str, pulumi.Input[str]]
    """Region -> PostgreSQL server id (primary region: the server; secondary: the replica)."""
    key_vault_id: pulumi.Input[str]
    """The cell's Key Vault."""
    scale_set_ids: Mapping[str, pulumi.Input[str]]
    """Region -> VM Scale Set id."""
    tags: Mapping[str, str]
    """The cell tags."""
    storage_account_ids: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Label -> storage account id (backup, release)."""
    fleet_identity_id: pulumi.Input[str] | None = None
    """The fleet's user-assigned identity (the agent authenticates with it)."""
    booking_path: str | None = None
    """The demo tenant's public booking page; default `/demo-<cell>`, the slug the demo tenant gets."""
    booking_text: str | None = DEMO_SERVICE
    """Text that page must show (the demo tenant's service); None checks the status only."""
    install_agent_extension: bool = True
    """False when the fleet's scale set lists `agent.agent_extension(...)` inline (see `MonitorAgentArgs`)."""
    failover_resource_group_name: pulumi.Input[str] | None = None
    """Resource group in the SECONDARY region for the alert rules (default: the primary's). ARM cannot
    change resources whose resource group's region is down, and a failover changes the alerts' targets;
    failing back happens with both regions up."""


class CellObservability(pulumi.ComponentResource):
    """Workspace, diagnostics, agent, availability tests and alerts of a cell."""

    def __init__(self, name: str, args: CellObservabilityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slotstack:observability:CellObservability", name, None, opts)
        cell, child = args.cell, pulumi.ResourceOptions(parent=self)
        rg, prefix, tags = args.resource_group_name, args.name_prefix, args.tags
        failover_rg = args.failover_resource_group_name or rg
        logs = LogWorkspace(f"{name}-logs", LogWorkspaceArgs(
            rg, cell.primary_region, f"law-{prefix}", cell.logs.retention_days, cell.logs.daily_cap_gb, tags),
            opts=child)
        targets: dict[str, pulumi.Input[str]] = {f"gateway-{r}": i for r, i in args.gateway_ids.items()}
        targets.update({f"postgres-{r}": i for r, i in args.postgres_server_ids.items()})
        targets["keyvault"] = args.key_vault_id
        Diagnostics(f"{name}-diag", DiagnosticsArgs(logs.workspace_id, targets, args.storage_account_ids),
                    opts=child)
        MonitorAgent(f"{name}-agent", MonitorAgentArgs(
            rg, cell.primary_region, logs.workspace_id, args.scale_set_ids, tags, args.fleet_identity_id,
            install_extension=args.install_agent_extension), opts=child)
        availability = Availability(f"{name}-avail", AvailabilityArgs(
            rg, cell.primary_region, logs.workspace_id, f"appi-{prefix}", cell.hostname,
            pick_locations(cell.residency, args.alerts.availability_locations), tags,
            args.booking_path or f"/demo-{cell.name}", args.booking_text),
            opts=child)
        alerts = CellAlerts(f"{name}-alerts", CellAlertsArgs(
            cell, args.alerts, failover_rg, f"alert-{prefix}", args.action_group_ids, logs.workspace_id,
            availability.component_id, availability.web_test_ids, args.gateway_ids, args.postgres_server_ids,
            args.scale_set_ids, tags), opts=child)
        self.workspace_id = logs.workspace_id
        self.component_id = availability.component_id
        self.alert_rule_ids = alerts.rule_ids
        self.register_outputs({"workspace_id": self.workspace_id, "component_id": self.component_id})
