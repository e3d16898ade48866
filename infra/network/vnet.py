"""RegionalNetwork: the VNet of one region of a cell, its subnets and their NSGs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_azure_native import network

from infra.network import nsg_rules
from infra.network.addressing import AZURE_NAMES, RegionPlan


@dataclass
class RegionalNetworkArgs:
    """Inputs of one region's network."""

    resource_group_name: pulumi.Input[str]
    """Resource group of the region."""
    location: str
    """Azure region."""
    plan: RegionPlan
    """Address space and subnet prefixes of this region."""
    peer_plan: RegionPlan
    """The other region's plan: replication and the standby fleet come from it."""
    bastion_prefix: str | None
    """The AzureBastionSubnet admins come from (SSH to the fleet is admitted from it only), if any."""
    tags: dict[str, str]
    """Cell tags."""


class RegionalNetwork(pulumi.ComponentResource):
    """A VNet with gateway, app, database, private-endpoint and Bastion subnets, each with its NSG.

    Attributes: `vnet`, `subnet_ids` (by subnet name), `nsgs` (by subnet name).
    """

    def __init__(self, name: str, args: RegionalNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slotstack:network:RegionalNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        common: dict[str, Any] = {"resource_group_name": args.resource_group_name, "location": args.location,
                                  "tags": args.tags}
        self.vnet = network.VirtualNetwork(
            f"{name}-vnet", address_space={"address_prefixes": [str(args.plan.space)]}, **common,
            # Subnets are separate resources below; the VNet must not fight them over its subnet list.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["subnets"]))
        rules = {
            "gateway": nsg_rules.gateway_rules(),
            "app": nsg_rules.app_rules(args.plan, args.bastion_prefix),
            "database": nsg_rules.database_rules(args.plan, args.peer_plan),
            "private_endpoints": nsg_rules.private_endpoint_rules(args.plan, args.peer_plan),
        }
        self.nsgs: dict[str, network.NetworkSecurityGroup] = {
            subnet: network.NetworkSecurityGroup(f"{name}-nsg-{subnet.replace('_', '-')}", security_rules=r,
                                                 **common, opts=child)
            for subnet, r in rules.items()}
        # The fleet installs the wheel's dependencies from PyPI: outbound goes through a NAT gateway
        # (new subnets get no default outbound access, and no VM gets a public IP).
        self.nat_ip = network.PublicIPAddress(
            f"{name}-pip-nat", sku={"name": "Standard", "tier": "Regional"}, public_ip_allocation_method="Static",
            **common, opts=child)
        self.nat = network.NatGateway(
            f"{name}-nat", sku={"name": "Standard"}, public_ip_addresses=[{"id": self.nat_ip.id}],
            idle_timeout_in_minutes=10, **common, opts=child)
        self.subnets: dict[str, network.Subnet] = {}
        previous: network.Subnet | None = None
        for subnet, prefix in args.plan.subnets.items():
            extra: dict[str, Any] = {}
            if subnet in self.nsgs:
                extra["network_security_group"] = {"id": self.nsgs[subnet].id}
            if subnet == "database":
                extra["delegations"] = [{"name": "postgres",
                                         "service_name": "Microsoft.DBforPostgreSQL/flexibleServers"}]
            if subnet == "private_endpoints":
                # Without network policies the NSG would not apply to private endpoints.
                extra["private_endpoint_network_policies"] = "Enabled"
            if subnet == "app":
                extra["nat_gateway"] = {"id": self.nat.id}
                extra["default_outbound_access"] = False
            self.subnets[subnet] = network.Subnet(
                f"{name}-snet-{subnet.replace('_', '-')}",
                subnet_name=AZURE_NAMES.get(subnet, subnet.replace("_", "-")),
                resource_group_name=args.resource_group_name,
                virtual_network_name=self.vnet.name,
                address_prefix=str(prefix),
                **extra,
                # Azure rejects concurrent changes to subnets of one VNet: create them one after another.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[previous] if previous else None),
            )
            previous = self.subnets[subnet]
        self.subnet_ids: dict[str, pulumi.Output[str]] = {k: s.id for k, s in self.subnets.items()}
        self.register_outputs({"vnet_id": self.vnet.id, "subnet_ids": self.subnet_ids})
