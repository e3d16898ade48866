"""A cell of the real plan, found by resource type and region: what the observability tests check against.

Not a test module: tests take the ids here from the resources the program declared, so a resource the
program stops watching (or a watcher it stops creating) shows up as a difference, never as a copy that
agrees with itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.environment import Cell
from infra.mocks import Plan, Recorded
from tests.plans import of_cell

GATEWAY = "azure-native:network:ApplicationGateway"
POSTGRES = "azure-native:dbforpostgresql:Server"
SCALE_SET = "azure-native:compute:VirtualMachineScaleSet"
STORAGE = "azure-native:storage:StorageAccount"
VAULT = "azure-native:keyvault:Vault"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
GROUP = "azure-native:resources:ResourceGroup"


def _by_region(plan: Plan, cell: str, type_: str) -> dict[str, Recorded]:
    found: dict[str, Recorded] = {}
    for resource in of_cell(plan, cell, type_):
        region = resource.location
        assert region, f"{resource.name}: no location"
        assert region not in found, f"cell {cell}: two {type_} in {region}: {found[region].name}, {resource.name}"
        found[region] = resource
    return found


@dataclass(frozen=True)
class CellResources:
    """The resources of one cell that others refer to, by Azure region."""

    gateways: dict[str, Recorded]
    databases: dict[str, Recorded]
    """The server in the primary region, its read replica in the secondary."""
    scale_sets: dict[str, Recorded]
    storage_accounts: list[Recorded]
    key_vault: Recorded
    fleet_identity: Recorded
    resource_groups: dict[str, str]
    """Region -> resource group name."""

    def ids(self, resources: dict[str, Recorded]) -> dict[str, str]:
        """Region -> id of `resources` (one of the dicts above)."""
        return {region: r.id for region, r in resources.items()}

    def data_bearing_ids(self) -> set[str]:
        """Every id whose logs must reach the workspace (storage accounts via their blob service too)."""
        ids = {r.id for r in [*self.gateways.values(), *self.databases.values(), self.key_vault]}
        ids |= {a.id for a in self.storage_accounts}
        ids |= {f"{a.id}/blobServices/default" for a in self.storage_accounts}
        return ids


def cell_resources(plan: Plan, cell: Cell) -> CellResources:
    """The resources of `cell` in `plan`."""
    [vault] = of_cell(plan, cell.name, VAULT)
    [identity] = [i for i in of_cell(plan, cell.name, IDENTITY) if i.name == f"{cell.name}-id-fleet"]
    return CellResources(
        gateways=_by_region(plan, cell.name, GATEWAY),
        databases=_by_region(plan, cell.name, POSTGRES),
        scale_sets=_by_region(plan, cell.name, SCALE_SET),
        storage_accounts=of_cell(plan, cell.name, STORAGE),
        key_vault=vault,
        fleet_identity=identity,
        resource_groups={r.location or "": r.inputs["resourceGroupName"] for r in of_cell(plan, cell.name, GROUP)},
    )
