"""Stand-in ids for what engineers A and B build, and the program that wires issue 6 with them.

Not a test module of its own: the observability, alerts and failover tests import `observe`, which
runs an environment's action groups and every cell's `CellObservability` under the mock engine.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any

from infra import environment
from infra.environment import Cell, Environment
from infra.mocks import SUBSCRIPTION, Plan, evaluate
from infra.network.traffic_manager import TrafficManager, TrafficManagerArgs
from infra.observability.action_groups import ActionGroupsArgs, OnCallActionGroups
from infra.observability.cell_observability import CellObservability, CellObservabilityArgs


def arm(group: str, provider: str, kind: str, name: str) -> str:
    return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/{provider}/{kind}/{name}"


@dataclass
class StandIns:
    """The ids a cell's observability needs, as A's and B's components would hand them over."""

    resource_group: str
    failover_resource_group: str = ""
    gateway_ids: dict[str, str] = field(default_factory=dict)
    gateway_fqdns: dict[str, str] = field(default_factory=dict)
    postgres_server_ids: dict[str, str] = field(default_factory=dict)
    scale_set_ids: dict[str, str] = field(default_factory=dict)
    storage_account_ids: dict[str, str] = field(default_factory=dict)
    key_vault_id: str = ""
    identity_id: str = ""

    def data_bearing_ids(self) -> set[str]:
        """Every id whose logs must reach the workspace (storage accounts via their blob service too)."""
        ids = {*self.gateway_ids.values(), *self.postgres_server_ids.values(), self.key_vault_id}
        ids |= set(self.storage_account_ids.values())
        ids |= {f"{account}/blobServices/default" for account in self.storage_account_ids.values()}
        return ids


def stand_ins(env: str, cell: Cell) -> StandIns:
    """Ids for `cell`: the secondary region has a gateway, replica and fleet only when the cell has a replica."""
    stem = f"slotstack-{env}-{cell.name}"
    regions = [cell.primary_region] + ([cell.secondary_region] if cell.database.replica else [])
    ids = StandIns(resource_group=f"rg-{stem}-{cell.primary_region}",
                   failover_resource_group=f"rg-{stem}-{cell.secondary_region}")
    for region in regions:
        group = f"rg-{stem}-{region}"
        ids.gateway_ids[region] = arm(group, "Microsoft.Network", "applicationGateways", f"agw-{stem}-{region}")
        ids.gateway_fqdns[region] = f"agw-{stem}-{region}.{region}.cloudapp.azure.com"
        ids.postgres_server_ids[region] = arm(group, "Microsoft.DBforPostgreSQL", "flexibleServers",
                                              f"psql-{stem}-{region}")
        ids.scale_set_ids[region] = arm(group, "Microsoft.Compute", "virtualMachineScaleSets", f"vmss-{stem}-{region}")
    ids.storage_account_ids = {
        "backup": arm(ids.resource_group, "Microsoft.Storage", "storageAccounts", f"stbk{env}{cell.name}"),
        "release": arm(ids.resource_group, "Microsoft.Storage", "storageAccounts", f"strel{env}{cell.name}"),
    }
    ids.key_vault_id = arm(ids.resource_group, "Microsoft.KeyVault", "vaults", f"kv-{stem}")
    ids.identity_id = arm(ids.resource_group, "Microsoft.ManagedIdentity", "userAssignedIdentities", f"id-{stem}")
    return ids


def tags_of(env: Environment, cell: Cell | None) -> dict[str, str]:
    tags = {"environment": env.name, "managed-by": "pulumi", "data-classification": "customer"}
    if cell is not None:
        tags.update(cell=cell.name, residency=cell.residency)
    return tags


def program(env: Environment) -> dict[str, Any]:
    """What `infra/program.py` + `infra/cell.py` will do for issue 6, with stand-in ids."""
    groups = OnCallActionGroups("oncall", ActionGroupsArgs(
        resource_group_name=f"rg-slotstack-{env.name}-monitoring", name_prefix=f"ag-slotstack-{env.name}",
        short_name_prefix=env.name[:7], receivers=env.oncall.receivers, tags=tags_of(env, None)))
    for cell in env.cells.values():
        ids = stand_ins(env.name, cell)
        CellObservability(cell.name, CellObservabilityArgs(
            cell=cell, alerts=env.alerts, resource_group_name=ids.resource_group,
            name_prefix=f"slotstack-{env.name}-{cell.name}",
            action_group_ids=groups.ids, gateway_ids=ids.gateway_ids,
            postgres_server_ids=ids.postgres_server_ids, key_vault_id=ids.key_vault_id,
            scale_set_ids=ids.scale_set_ids, tags=tags_of(env, cell), storage_account_ids=ids.storage_account_ids,
            fleet_identity_id=ids.identity_id, failover_resource_group_name=ids.failover_resource_group))
        TrafficManager(f"{cell.name}-obs-tm", TrafficManagerArgs(
            cell=cell, resource_group_name=ids.failover_resource_group,
            profile_name=f"tm-slotstack-{env.name}-{cell.name}",
            dns_name=f"slotstack-{env.name}-{cell.name}", gateway_fqdns=ids.gateway_fqdns, tags=tags_of(env, cell)))
    return {"action_groups": groups.ids}


def observe(env: Environment) -> Plan:
    """Evaluate `program(env)` under the mock engine."""
    return evaluate(env.name, lambda: program(env))


@functools.cache
def committed(name: str) -> tuple[Environment, Plan]:
    """A committed environment and its plan, evaluated once per test process; treat both as read-only."""
    env = environment.load(name)
    return env, observe(env)


def with_cell(env: Environment, name: str, **changes: Any) -> Environment:
    """`env` with cell `name` changed, e.g. `active_region="secondary"`."""
    cells = dict(env.cells)
    cells[name] = dataclasses.replace(cells[name], **changes)
    return dataclasses.replace(env, cells=cells)


def in_cell(plan: Plan, cell: str, type_: str) -> list[Any]:
    """The resources of `type_` that belong to cell `cell` (their names start with the cell's name)."""
    return [r for r in plan.of_type(type_) if r.name.startswith(f"{cell}-")]
