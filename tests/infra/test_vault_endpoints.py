"""The cell's Key Vault is reachable from each region through that region's own private endpoint.

The vault lives in the primary region. During a primary-region outage the standby fleet in the
secondary region scales up and its new VMs read their secrets from the vault at start, so the
secondary region needs its own endpoint, and DNS in the secondary VNet must resolve the vault's name
to it: one privatelink.vaultcore.azure.net zone per region, each linked to its own VNet only (two
endpoints registering in one zone would overwrite each other's A record).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from infra import environment, mocks, program, tags
from infra.compute.settings import DeploySettings
from infra.network.cell_network import PRIVATELINK_ZONES
from infra.storage.keyvault import KeyVault, KeyVaultArgs, VaultEndpoint
from tests.plans import ENVIRONMENTS, by_id, of_cell

VAULT = "azure-native:keyvault:Vault"
ENDPOINT = "azure-native:network:PrivateEndpoint"
ZONE_GROUP = "azure-native:network:PrivateDnsZoneGroup"
ZONE = "azure-native:privatedns:PrivateZone"
LINK = "azure-native:privatedns:VirtualNetworkLink"
VNET = "azure-native:network:VirtualNetwork"
SUBNET = "azure-native:network:Subnet"
VAULT_ZONE = PRIVATELINK_ZONES["vault"]
Env = tuple[environment.Environment, mocks.Plan]


def _group_regions(plan: mocks.Plan) -> dict[str, str]:
    """Resource group name -> its region."""
    groups = plan.of_type("azure-native:resources:ResourceGroup")
    return {g.inputs["resourceGroupName"]: str(g.location) for g in groups}


def _vnet_region(plan: mocks.Plan, vnet_name: str) -> str:
    [vnet] = [v for v in plan.of_type(VNET) if v.name == vnet_name]
    return str(vnet.location)


def _vault_endpoints(plan: mocks.Plan, cell: str) -> dict[str, mocks.Recorded]:
    """The private endpoints of the cell's vault, by the region of their subnet's VNet."""
    [vault] = of_cell(plan, cell, VAULT)
    ids = by_id(plan)
    found: dict[str, mocks.Recorded] = {}
    for endpoint in plan.of_type(ENDPOINT):
        if endpoint.inputs["privateLinkServiceConnections"][0]["privateLinkServiceId"] != vault.id:
            continue
        region = _vnet_region(plan, ids[endpoint.inputs["subnet"]["id"]].inputs["virtualNetworkName"])
        assert region not in found, f"{cell}: two vault endpoints in {region}"
        found[region] = endpoint
    return found


def _zone_of(plan: mocks.Plan, endpoint: mocks.Recorded) -> mocks.Recorded:
    """The private DNS zone the endpoint's zone group writes its A record into."""
    [group] = [g for g in plan.of_type(ZONE_GROUP) if g.inputs["privateEndpointName"] == endpoint.name]
    [config] = group.inputs["privateDnsZoneConfigs"]
    zone = by_id(plan)[config["privateDnsZoneId"]]
    assert zone.type == ZONE
    return zone


def _vault_zones(plan: mocks.Plan, cell: str) -> list[mocks.Recorded]:
    return [z for z in of_cell(plan, cell, ZONE) if z.inputs["privateZoneName"] == VAULT_ZONE]


def _links_of(plan: mocks.Plan, zone: mocks.Recorded) -> list[mocks.Recorded]:
    """VNet links of `zone` (a zone is named by its resource group and its DNS name)."""
    return [link for link in plan.of_type(LINK)
            if (link.inputs["resourceGroupName"], link.inputs["privateZoneName"])
            == (zone.inputs["resourceGroupName"], zone.inputs["privateZoneName"])]


def test_every_region_of_a_cell_has_its_own_vault_endpoint_in_its_private_endpoints_subnet(env_plan: Env) -> None:
    env, plan = env_plan
    ids, groups = by_id(plan), _group_regions(plan)
    for cell in env.cells.values():
        networks = {str(v.location) for v in of_cell(plan, cell.name, VNET)}
        endpoints = _vault_endpoints(plan, cell.name)
        # Every region the cell has a network in (dev too: it has a secondary VNet, only no standby fleet).
        assert set(endpoints) == networks == {cell.primary_region, cell.secondary_region}, cell.name
        for region, endpoint in endpoints.items():
            where = f"{env.name}/{cell.name}/{region}"
            assert endpoint.location == region, where
            assert groups[endpoint.inputs["resourceGroupName"]] == region, f"{where}: in another region's group"
            assert endpoint.inputs["privateLinkServiceConnections"][0]["groupIds"] == ["vault"], where
            assert ids[endpoint.inputs["subnet"]["id"]].inputs["subnetName"] == "private-endpoints", where
            assert endpoint.tags == tags.cell_tags(env.name, cell), f"{where}: tags guardrail broken"


def test_each_vault_endpoint_registers_in_its_own_regions_vault_zone(env_plan: Env) -> None:
    env, plan = env_plan
    groups = _group_regions(plan)
    for cell in env.cells.values():
        zones = {}
        for region, endpoint in _vault_endpoints(plan, cell.name).items():
            zone = _zone_of(plan, endpoint)
            assert zone.inputs["privateZoneName"] == VAULT_ZONE
            assert groups[zone.inputs["resourceGroupName"]] == region, \
                f"{cell.name}: the {region} endpoint registers in another region's zone"
            zones[region] = zone.name
        assert len(set(zones.values())) == 2, f"{cell.name}: both endpoints write one zone; the last one wins"


def test_each_vault_zone_is_linked_to_exactly_its_own_regions_vnet(env_plan: Env) -> None:
    env, plan = env_plan
    ids, groups = by_id(plan), _group_regions(plan)
    for cell in env.cells.values():
        zones = _vault_zones(plan, cell.name)
        regions = sorted(groups[z.inputs["resourceGroupName"]] for z in zones)
        assert regions == sorted((cell.primary_region, cell.secondary_region)), \
            f"{cell.name}: one vault zone per region, each in that region's resource group"
        for zone in zones:
            region = groups[zone.inputs["resourceGroupName"]]
            assert zone.location == "global", zone.name
            assert zone.tags == tags.cell_tags(env.name, cell), f"{zone.name}: tags guardrail broken"
            links = _links_of(plan, zone)
            assert len(links) == 1, f"{zone.name}: linked to {len(links)} VNets, must be exactly its region's"
            [link] = links
            assert not link.inputs["registrationEnabled"]
            assert ids[link.inputs["virtualNetwork"]["id"]].location == region, \
                f"{zone.name}: linked to another region's VNet"


def test_from_each_vnet_the_vault_name_resolves_to_that_regions_endpoint(env_plan: Env) -> None:
    """Follow DNS as Azure does: VNet -> the vault zone linked to it -> the endpoint registered there."""
    env, plan = env_plan
    ids = by_id(plan)
    for cell in env.cells.values():
        endpoints = _vault_endpoints(plan, cell.name)
        registered = {_zone_of(plan, e).name: e for e in endpoints.values()}
        for vnet in of_cell(plan, cell.name, VNET):
            linked = [z for z in _vault_zones(plan, cell.name)
                      if any(link.inputs["virtualNetwork"]["id"] == vnet.id for link in _links_of(plan, z))]
            # Azure refuses a second link of one zone name to a VNet; one zone also means one answer.
            assert len(linked) == 1, f"{vnet.name}: resolves the vault through {len(linked)} zones"
            endpoint = registered[linked[0].name]
            subnet = ids[endpoint.inputs["subnet"]["id"]]
            assert subnet.inputs["virtualNetworkName"] == vnet.name, \
                f"{vnet.name}: the vault resolves to the endpoint in another region"


def test_the_postgres_and_blob_zones_stay_one_per_cell_linked_to_both_vnets(env_plan: Env) -> None:
    env, plan = env_plan
    groups = _group_regions(plan)
    for cell in env.cells.values():
        vnets = {v.id for v in of_cell(plan, cell.name, VNET)}
        shared = [z for z in of_cell(plan, cell.name, ZONE) if z.inputs["privateZoneName"] != VAULT_ZONE]
        assert len(shared) == 2, cell.name
        for zone in shared:
            assert groups[zone.inputs["resourceGroupName"]] == cell.primary_region, zone.name
            assert {link.inputs["virtualNetwork"]["id"] for link in _links_of(plan, zone)} == vnets, zone.name


# What an existing stack has: these resources must keep their URNs (parent chain and logical name), or
# `pulumi up` would replace the endpoint the fleet reads its secrets through.
KV = "slotstack:cell:Cell$slotstack:storage:KeyVault"
NET = "slotstack:cell:Cell$slotstack:network:CellNetwork"
KEPT = (
    f"{KV}$azure-native:network:PrivateEndpoint::{{cell}}-kv-vault-pe",
    f"{KV}$azure-native:network:PrivateEndpoint$azure-native:network:PrivateDnsZoneGroup::{{cell}}-kv-vault-pe-dns",
    f"{NET}$azure-native:privatedns:PrivateZone::{{cell}}-net-dns-vault",
    f"{NET}$azure-native:privatedns:VirtualNetworkLink::{{cell}}-net-dns-vault-link-primary",
    f"{NET}$azure-native:privatedns:VirtualNetworkLink::{{cell}}-net-dns-vault-link-secondary",
)
ADDED = (
    f"{KV}$azure-native:network:PrivateEndpoint::{{cell}}-kv-vault-secondary-pe",
    f"{KV}$azure-native:network:PrivateEndpoint$azure-native:network:PrivateDnsZoneGroup::"
    "{cell}-kv-vault-secondary-pe-dns",
    f"{NET}$azure-native:privatedns:PrivateZone::{{cell}}-net-dns-vault-secondary",
)


def _registrations(name: str, settings: DeploySettings) -> dict[str, pulumi.ResourceOptions]:
    """Every resource of environment `name` by its URN's `<type chain>::<name>`, with its options."""
    chains: dict[int, str] = {}
    found: dict[str, pulumi.ResourceOptions] = {}

    def record(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        parent = args.opts.parent if args.opts else None
        prefix = chains.get(id(parent)) if parent is not None else None  # the root stack is not in a URN
        chain = f"{prefix}${args.type_}" if prefix else args.type_
        chains[id(args.resource)] = chain
        found[f"{chain}::{args.name}"] = args.opts or pulumi.ResourceOptions()
        return None

    def run() -> Any:
        pulumi.runtime.register_stack_transformation(record)
        return program.build(environment.load(name), settings)

    mocks.evaluate(name, run)
    return found


@pytest.fixture(scope="module")
def prod_registrations(deploy_settings: DeploySettings) -> dict[str, pulumi.ResourceOptions]:
    return _registrations("prod", deploy_settings)


def test_existing_vault_resources_keep_their_urns_and_the_new_ones_are_added(
        prod_registrations: dict[str, pulumi.ResourceOptions]) -> None:
    for cell in environment.load("prod").cells:
        for urn in (*KEPT, *ADDED):
            assert urn.format(cell=cell) in prod_registrations, f"{urn.format(cell=cell)}: not declared"


def test_the_primary_vault_endpoint_is_declared_as_before(plan_of: Callable[[str], mocks.Plan]) -> None:
    """Same inputs as before the secondary endpoint existed: `pulumi up` leaves it alone."""
    env, plan = environment.load("prod"), plan_of("prod")
    ids = by_id(plan)
    for cell in env.cells.values():
        [vault] = of_cell(plan, cell.name, VAULT)
        endpoint = plan.named(f"{cell.name}-kv-vault-pe")
        primary_group = vault.inputs["resourceGroupName"]
        assert endpoint.inputs["resourceGroupName"] == primary_group
        assert endpoint.location == cell.primary_region
        assert endpoint.inputs["privateLinkServiceConnections"] == [
            {"name": f"{cell.name}-kv-vault-vault", "privateLinkServiceId": vault.id, "groupIds": ["vault"]}]
        subnet = ids[endpoint.inputs["subnet"]["id"]]
        assert subnet.name == f"{cell.name}-net-primary-snet-private-endpoints"
        group = plan.named(f"{cell.name}-kv-vault-pe-dns")
        zone = plan.named(f"{cell.name}-net-dns-vault")
        assert group.inputs == {"privateDnsZoneGroupName": "default", "privateEndpointName": endpoint.name,
                                "resourceGroupName": primary_group,
                                "privateDnsZoneConfigs": [{"name": "vault", "privateDnsZoneId": zone.id}]}
        assert zone.inputs["resourceGroupName"] == primary_group


def test_the_secondary_vault_link_is_replaced_delete_first(
        prod_registrations: dict[str, pulumi.ResourceOptions]) -> None:
    """On a stack from before, `<cell>-net-dns-vault-link-secondary` linked the primary region's zone to the
    secondary VNet; it moves to the secondary zone (a replacement). Azure refuses to link one VNet to two
    zones of one name, so the old link must go before the new one is made."""
    for cell in environment.load("prod").cells:
        for role in ("primary", "secondary"):
            urn = f"{NET}$azure-native:privatedns:VirtualNetworkLink::{cell}-net-dns-vault-link-{role}"
            assert prod_registrations[urn].delete_before_replace is True, urn


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_no_vnet_of_an_environment_is_linked_to_two_zones_of_one_name(
        name: str, plan_of: Callable[[str], mocks.Plan]) -> None:
    seen: dict[tuple[str, str], int] = {}
    for link in plan_of(name).of_type(LINK):
        key = (link.inputs["virtualNetwork"]["id"], link.inputs["privateZoneName"])
        seen[key] = seen.get(key, 0) + 1
    assert seen, name
    assert all(count == 1 for count in seen.values()), \
        f"{name}: Azure rejects a VNet linked to two zones of one name: {[k for k, n in seen.items() if n > 1]}"


def test_the_component_adds_one_endpoint_per_further_region_in_that_regions_zone() -> None:
    net = "/subscriptions/s/resourceGroups/{rg}/providers/Microsoft.Network/{kind}/{name}"

    def program() -> None:
        KeyVault("kvtest", KeyVaultArgs(
            vault_name="kv-test-0001", resource_group_name="rg-west", location="westeurope", tenant_id=mocks.TENANT,
            private_endpoint_subnet_id=net.format(rg="rg-west", kind="virtualNetworks", name="west/subnets/pe"),
            dns_zone_id=net.format(rg="rg-west", kind="privateDnsZones", name=VAULT_ZONE),
            certificate_name="gateway-tls", tags={"cell": "eu"},
            regional_endpoints={"secondary": VaultEndpoint(
                subnet_id=net.format(rg="rg-north", kind="virtualNetworks", name="north/subnets/pe"),
                dns_zone_id=net.format(rg="rg-north", kind="privateDnsZones", name=VAULT_ZONE),
                resource_group_name="rg-north", location="northeurope")}))
        KeyVault("kvsolo", KeyVaultArgs(
            vault_name="kv-test-0002", resource_group_name="rg-west", location="westeurope", tenant_id=mocks.TENANT,
            private_endpoint_subnet_id="subnet", dns_zone_id="zone", certificate_name="gateway-tls", tags={}))

    plan = mocks.evaluate("standalone", program)
    endpoints = {e.name: e for e in plan.of_type(ENDPOINT)}
    assert set(endpoints) == {"kvtest-vault-pe", "kvtest-vault-secondary-pe", "kvsolo-vault-pe"}
    second = endpoints["kvtest-vault-secondary-pe"]
    assert (second.location, second.inputs["resourceGroupName"]) == ("northeurope", "rg-north")
    assert second.inputs["subnet"]["id"].endswith("north/subnets/pe")
    [config] = plan.named("kvtest-vault-secondary-pe-dns").inputs["privateDnsZoneConfigs"]
    assert config["privateDnsZoneId"] == net.format(rg="rg-north", kind="privateDnsZones", name=VAULT_ZONE)
    [config] = plan.named("kvtest-vault-pe-dns").inputs["privateDnsZoneConfigs"]
    assert config["privateDnsZoneId"] == net.format(rg="rg-west", kind="privateDnsZones", name=VAULT_ZONE)
