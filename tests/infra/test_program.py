"""The program's skeleton: a resource group per cell and region, every located resource tagged and in its geography."""

from __future__ import annotations

from infra import mocks, tags
from infra.environment import Environment
from infra.observability.exempt import GLOBAL_RESOURCES
from infra.residency import RESIDENCIES

# Resources that live in Azure's "global" location and hold no customer data.
GLOBAL_OK = {
    "azure-native:privatedns:PrivateZone": "private DNS holds only private IP records",
    "azure-native:privatedns:VirtualNetworkLink": "a link between a DNS zone and a VNet holds no data",
    **GLOBAL_RESOURCES,
}


def _cell_resources(env: Environment, plan: mocks.Plan, cell: str) -> list[mocks.Recorded]:
    return [r for r in plan.resources if r.name.startswith(f"{cell}-") and not r.type.startswith("slotstack:")]


def test_resource_group_per_cell_and_region(env_plan: tuple[Environment, mocks.Plan]) -> None:
    env, plan = env_plan
    groups = [g for g in plan.of_type("azure-native:resources:ResourceGroup") if g.tags.get("cell") != tags.SHARED_CELL]
    expected = {(c.name, region) for c in env.cells.values() for region in (c.primary_region, c.secondary_region)}
    found = {(g.tags.get("cell"), g.location) for g in groups}
    assert found == expected, f"{env.name}: one resource group per cell and region"
    assert len({g.inputs["resourceGroupName"] for g in groups}) == len(groups), "resource group names must be unique"


def test_every_taggable_resource_carries_the_cell_tags(env_plan: tuple[Environment, mocks.Plan]) -> None:
    env, plan = env_plan
    for cell in env.cells.values():
        expected = tags.cell_tags(env.name, cell)
        for resource in _cell_resources(env, plan, cell.name):
            if resource.location is None and "tags" not in resource.inputs:
                continue  # sub-resources (subnets, rules, links of a parent) take no tags
            missing = {k: v for k, v in expected.items() if resource.tags.get(k) != v}
            assert not missing, f"{resource.type} {resource.name}: tags guardrail broken, missing/wrong {missing}"


def test_every_located_resource_sits_in_its_cells_geography(env_plan: tuple[Environment, mocks.Plan]) -> None:
    env, plan = env_plan
    for cell in env.cells.values():
        allowed = RESIDENCIES[cell.residency].azure_regions
        for resource in _cell_resources(env, plan, cell.name):
            if resource.location is None:
                continue
            if resource.location == "global":
                assert resource.type in GLOBAL_OK, f"{resource.type} {resource.name}: global without a reason"
                continue
            assert resource.location in (cell.primary_region, cell.secondary_region), (
                f"{resource.type} {resource.name}: residency guardrail broken, {resource.location} is not "
                f"a region of cell {cell.name}")
            assert resource.location in allowed


def test_every_azure_resource_sets_its_location(env_plan: tuple[Environment, mocks.Plan]) -> None:
    _env, plan = env_plan
    # Child resources addressed through their parent's name inherit its location from Azure.
    children = {"Subnet", "VirtualNetworkPeering", "PrivateDnsZoneGroup", "Key", "Secret", "BlobContainer", "Blob",
                "RoleAssignment", "BlobServiceProperties", "ManagementPolicy", "BlobContainerImmutabilityPolicy",
                "Configuration", "Database", "Administrator", "DiagnosticSetting",
                "DataCollectionRuleAssociation", "Endpoint", "AdministratorsMicrosoftEntra"}
    for resource in plan.resources:
        if resource.type.startswith("azure-native:") and resource.type.rsplit(":", 1)[-1] not in children:
            assert resource.location, f"{resource.type} {resource.name}: no explicit location"
