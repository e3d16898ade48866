"""The cell networks: VNets, subnets, NSG rules, peering, private DNS and Bastion, for dev, staging and prod."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from infra import environment, mocks
from infra.network.addressing import APP_PORT, region_plan
from tests.plans import ENVIRONMENTS, by_id, of_cell

VNET = "azure-native:network:VirtualNetwork"
SUBNET = "azure-native:network:Subnet"
NSG = "azure-native:network:NetworkSecurityGroup"
Env = tuple[environment.Environment, mocks.Plan]


def _vnets(env: environment.Environment, plan: mocks.Plan) -> dict[tuple[str, str], mocks.Recorded]:
    found: dict[tuple[str, str], mocks.Recorded] = {}
    for cell in env.cells.values():
        for vnet in of_cell(plan, cell.name, VNET):
            assert vnet.location is not None
            found[(cell.name, vnet.location)] = vnet
    return found


def _subnets_of(plan: mocks.Plan, vnet: mocks.Recorded) -> dict[str, mocks.Recorded]:
    return {s.inputs["subnetName"]: s for s in plan.of_type(SUBNET) if s.inputs["virtualNetworkName"] == vnet.name}


def _nsg_of(plan: mocks.Plan, subnet: mocks.Recorded) -> list[dict[str, Any]]:
    nsg = by_id(plan)[subnet.inputs["networkSecurityGroup"]["id"]]
    assert nsg.type == NSG
    rules: list[dict[str, Any]] = nsg.inputs["securityRules"]
    return rules


def _allows(rules: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(r["sourceAddressPrefix"], r["destinationPortRange"]) for r in rules
            if r["access"] == "Allow" and r["direction"] == "Inbound"}


def _ends_with_deny_all(rules: list[dict[str, Any]], where: str) -> None:
    last = max(rules, key=lambda r: r["priority"])
    assert (last["access"], last["sourceAddressPrefix"], last["destinationPortRange"], last["protocol"]) == (
        "Deny", "*", "*", "*"), f"{where}: NSG guardrail broken, the rest of the inbound traffic is not denied"
    assert all(r["priority"] < last["priority"] for r in rules if r is not last)


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_vnet_per_region_with_non_overlapping_address_spaces(name: str, plan_of: Any) -> None:
    env, plan = environment.load(name), plan_of(name)
    vnets = _vnets(env, plan)
    expected = {(c.name, r) for c in env.cells.values() for r in (c.primary_region, c.secondary_region)}
    assert set(vnets) == expected
    spaces = [(key, ipaddress.ip_network(p))
              for key, v in vnets.items() for p in v.inputs["addressSpace"]["addressPrefixes"]]
    for i, (key_a, a) in enumerate(spaces):
        for key_b, b in spaces[i + 1:]:
            assert not a.overlaps(b), f"{name}: VNets {key_a} {a} and {key_b} {b} overlap; peering would fail"


def test_address_plan_gives_every_cell_and_region_its_own_space_and_refuses_past_its_end() -> None:
    spaces = [region_plan(i, role).space for i in range(120) for role in ("primary", "secondary")]
    assert len(set(spaces)) == len(spaces)
    with pytest.raises(ValueError, match="outside the address plan"):
        region_plan(120, "primary")


def test_subnets_are_inside_the_vnet_and_shaped_for_their_tier(env_plan: Env) -> None:
    env, plan = env_plan
    for (cell, region), vnet in _vnets(env, plan).items():
        space = ipaddress.ip_network(vnet.inputs["addressSpace"]["addressPrefixes"][0])
        subnets = _subnets_of(plan, vnet)
        assert set(subnets) == {"gateway", "app", "database", "private-endpoints", "AzureBastionSubnet"}, (cell, region)
        prefixes = {k: ipaddress.ip_network(s.inputs["addressPrefix"]) for k, s in subnets.items()}
        for key, prefix in prefixes.items():
            assert prefix.subnet_of(space), f"{cell}/{region} subnet {key} {prefix} is outside {space}"  # type: ignore[arg-type]
        assert prefixes["gateway"].prefixlen == 24, "gateway subnet must be a dedicated /24"
        assert prefixes["AzureBastionSubnet"].prefixlen <= 26
        delegations = subnets["database"].inputs["delegations"]
        assert [d["serviceName"] for d in delegations] == ["Microsoft.DBforPostgreSQL/flexibleServers"]
        assert "delegations" not in subnets["app"].inputs
        assert subnets["private-endpoints"].inputs["privateEndpointNetworkPolicies"] == "Enabled", \
            "NSG on private endpoints only applies with network policies enabled"
        assert "networkSecurityGroup" not in subnets["AzureBastionSubnet"].inputs
        nat = by_id(plan)[subnets["app"].inputs["natGateway"]["id"]]
        assert nat.type == "azure-native:network:NatGateway"
        assert nat.location == region


def test_gateway_nsg_admits_https_http_gateway_manager_and_load_balancer_only(
        env_plan: Env) -> None:
    env, plan = env_plan
    for (cell, region), vnet in _vnets(env, plan).items():
        rules = _nsg_of(plan, _subnets_of(plan, vnet)["gateway"])
        assert _allows(rules) == {("Internet", "443"), ("Internet", "80"), ("GatewayManager", "65200-65535"),
                                  ("AzureLoadBalancer", "*")}, f"{cell}/{region} gateway NSG"
        _ends_with_deny_all(rules, f"{cell}/{region} gateway NSG")


def test_app_nsg_admits_service_port_from_gateway_subnet_only(env_plan: Env) -> None:
    env, plan = env_plan
    for (cell, region), vnet in _vnets(env, plan).items():
        subnets = _subnets_of(plan, vnet)
        rules = _nsg_of(plan, subnets["app"])
        expected = {(subnets["gateway"].inputs["addressPrefix"], str(APP_PORT)), ("AzureLoadBalancer", "*")}
        if env.is_prod:
            # Admin SSH comes only from the Bastion subnet of the primary region.
            primary = _vnets(env, plan)[(cell, env.cells[cell].primary_region)]
            expected.add((_subnets_of(plan, primary)["AzureBastionSubnet"].inputs["addressPrefix"], "22"))
        assert _allows(rules) == expected, f"{cell}/{region} app NSG admits more than the gateway"
        _ends_with_deny_all(rules, f"{cell}/{region} app NSG")


def test_database_nsg_admits_postgres_from_both_app_subnets_and_replication_only(
        env_plan: Env) -> None:
    env, plan = env_plan
    vnets = _vnets(env, plan)
    for (cell, region), vnet in vnets.items():
        spec = env.cells[cell]
        peer_region = spec.secondary_region if region == spec.primary_region else spec.primary_region
        subnets, peer = _subnets_of(plan, vnet), _subnets_of(plan, vnets[(cell, peer_region)])
        rules = _nsg_of(plan, subnets["database"])
        # The other region's fleet (standby, or serving after a failover) reaches the writer over the peering.
        assert _allows(rules) == {(subnets["app"].inputs["addressPrefix"], "5432"),
                                  (peer["app"].inputs["addressPrefix"], "5432"),
                                  (peer["database"].inputs["addressPrefix"], "5432")}, f"{cell}/{region} database NSG"
        _ends_with_deny_all(rules, f"{cell}/{region} database NSG")


def test_regions_of_a_cell_are_peered_both_ways(env_plan: Env) -> None:
    env, plan = env_plan
    vnets = _vnets(env, plan)
    for cell in env.cells.values():
        primary, secondary = vnets[(cell.name, cell.primary_region)], vnets[(cell.name, cell.secondary_region)]
        peerings = {(p.inputs["virtualNetworkName"], p.inputs["remoteVirtualNetwork"]["id"])
                    for p in of_cell(plan, cell.name, "azure-native:network:VirtualNetworkPeering")}
        assert peerings == {(primary.name, secondary.id), (secondary.name, primary.id)}, cell.name


def test_private_dns_zones_postgres_and_blob_link_both_vnets_vault_one_per_region(
        env_plan: Env) -> None:
    env, plan = env_plan
    vnets = _vnets(env, plan)
    for cell in env.cells.values():
        zones = of_cell(plan, cell.name, "azure-native:privatedns:PrivateZone")
        assert sorted(z.inputs["privateZoneName"] for z in zones) == sorted([
            f"{cell.name}.{env.name}.private.postgres.database.azure.com", "privatelink.blob.core.windows.net",
            "privatelink.vaultcore.azure.net", "privatelink.vaultcore.azure.net"])
        links = of_cell(plan, cell.name, "azure-native:privatedns:VirtualNetworkLink")
        primary, secondary = vnets[(cell.name, cell.primary_region)].id, vnets[(cell.name, cell.secondary_region)].id
        for zone in zones:
            # A zone is addressed by its resource group and its name (the vault's name is in two groups).
            linked = {link.inputs["virtualNetwork"]["id"] for link in links
                      if (link.inputs["resourceGroupName"], link.inputs["privateZoneName"])
                      == (zone.inputs["resourceGroupName"], zone.inputs["privateZoneName"])}
            if zone.inputs["privateZoneName"] != "privatelink.vaultcore.azure.net":
                assert linked == {primary, secondary}, f"{cell.name}: zone {zone.name} must resolve from both regions"
            elif zone.inputs["resourceGroupName"].endswith(cell.primary_region):
                assert linked == {primary}, f"{cell.name}: {zone.name} must resolve from the primary region only"
            else:
                assert zone.inputs["resourceGroupName"].endswith(cell.secondary_region), zone.name
                assert linked == {secondary}, f"{cell.name}: {zone.name} must resolve from the secondary region only"
        assert all(not link.inputs["registrationEnabled"] for link in links)


def test_bastion_only_in_prod_in_the_bastion_subnet(env_plan: Env) -> None:
    env, plan = env_plan
    ids = by_id(plan)
    for cell in env.cells.values():
        hosts = of_cell(plan, cell.name, "azure-native:network:BastionHost")
        if not env.is_prod:
            assert hosts == [], f"{env.name}: Bastion is a prod-only cost"
            continue
        assert len(hosts) == 1
        config = hosts[0].inputs["ipConfigurations"][0]
        assert ids[config["subnet"]["id"]].inputs["subnetName"] == "AzureBastionSubnet"
        assert hosts[0].location == cell.primary_region
