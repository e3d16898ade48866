"""CellNetwork: both regions' VNets of a cell, peered, with private DNS and (in prod) Azure Bastion."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import network, privatedns

from infra.network.addressing import ROLES, region_plan
from infra.network.vnet import RegionalNetwork, RegionalNetworkArgs

# Private DNS zones the cell's private endpoints and servers register in. Key Vault and blob must use
# Azure's privatelink zones; a Flexible Server zone only has to end in postgres.database.azure.com.
PRIVATELINK_ZONES = {"vault": "privatelink.vaultcore.azure.net", "blob": "privatelink.blob.core.windows.net"}


def postgres_zone(environment: str, cell: str) -> str:
    """The private DNS zone of the cell's PostgreSQL servers."""
    return f"{cell}.{environment}.private.postgres.database.azure.com"


@dataclass
class CellNetworkArgs:
    """Inputs of a cell's network."""

    environment: str
    """Environment name (part of the PostgreSQL zone name)."""
    cell: str
    """Cell name."""
    cell_index: int
    """Position of the cell in its environment; the address plan derives from it."""
    regions: dict[str, str]
    """Azure region by role ("primary", "secondary")."""
    resource_group_names: dict[str, pulumi.Input[str]]
    """Resource group by role."""
    bastion: bool
    """Deploy Azure Bastion in the primary region (prod)."""
    tags: dict[str, str]
    """Cell tags."""


class CellNetwork(pulumi.ComponentResource):
    """Two peered VNets, private DNS zones (postgres, vault, blob) linked to both, and optional Bastion.

    Attributes: `regional` (RegionalNetwork by role), `subnet_ids` (role -> subnet -> id),
    `dns_zone_ids` (postgres/vault/blob -> id), `bastion` (or None).
    """

    def __init__(self, name: str, args: CellNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slotstack:network:CellNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        plans = {role: region_plan(args.cell_index, role) for role in ROLES}
        bastion_prefix = plans["primary"].prefix("bastion") if args.bastion else None
        self.regional: dict[str, RegionalNetwork] = {}
        for role in ROLES:
            peer = ROLES[1 - ROLES.index(role)]
            self.regional[role] = RegionalNetwork(f"{name}-{role}", RegionalNetworkArgs(
                resource_group_name=args.resource_group_names[role], location=args.regions[role],
                plan=plans[role], peer_plan=plans[peer], bastion_prefix=bastion_prefix, tags=args.tags,
            ), opts=child)
        for role in ROLES:
            peer = ROLES[1 - ROLES.index(role)]
            network.VirtualNetworkPeering(
                f"{name}-peer-{role}-to-{peer}",
                virtual_network_peering_name=f"to-{peer}",
                resource_group_name=args.resource_group_names[role],
                virtual_network_name=self.regional[role].vnet.name,
                remote_virtual_network={"id": self.regional[peer].vnet.id},
                allow_virtual_network_access=True,
                allow_forwarded_traffic=False,
                # Subnets exist before peering so the peering sees the final address space.
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(self.regional[role].subnets.values())),
            )
        zones = {"postgres": postgres_zone(args.environment, args.cell), **PRIVATELINK_ZONES}
        self.dns_zones: dict[str, privatedns.PrivateZone] = {}
        for key, zone_name in zones.items():
            zone = privatedns.PrivateZone(
                f"{name}-dns-{key}", private_zone_name=zone_name, location="global",
                resource_group_name=args.resource_group_names["primary"], tags=args.tags, opts=child)
            self.dns_zones[key] = zone
            for role in ROLES:
                privatedns.VirtualNetworkLink(
                    f"{name}-dns-{key}-link-{role}", private_zone_name=zone.name, location="global",
                    resource_group_name=args.resource_group_names["primary"],
                    virtual_network={"id": self.regional[role].vnet.id}, registration_enabled=False,
                    virtual_network_link_name=f"{args.cell}-{role}", tags=args.tags, opts=child)
        self.subnet_ids = {role: r.subnet_ids for role, r in self.regional.items()}
        self.dns_zone_ids: dict[str, pulumi.Output[str]] = {k: z.id for k, z in self.dns_zones.items()}
        self.bastion = self._bastion(name, args) if args.bastion else None
        self.register_outputs({"subnet_ids": self.subnet_ids, "dns_zone_ids": self.dns_zone_ids})

    def _bastion(self, name: str, args: CellNetworkArgs) -> network.BastionHost:
        """Admin access without any public IP on a VM: Bastion (Standard, tunneling for native SSH)."""
        child = pulumi.ResourceOptions(parent=self)
        ip = network.PublicIPAddress(
            f"{name}-pip-bastion", resource_group_name=args.resource_group_names["primary"],
            location=args.regions["primary"], sku={"name": "Standard", "tier": "Regional"},
            public_ip_allocation_method="Static", zones=["1", "2", "3"], tags=args.tags, opts=child)
        return network.BastionHost(
            f"{name}-bastion", resource_group_name=args.resource_group_names["primary"],
            location=args.regions["primary"], sku={"name": "Standard"}, enable_tunneling=True,
            ip_configurations=[{"name": "bastion", "subnet": {"id": self.regional["primary"].subnet_ids["bastion"]},
                                "public_ip_address": {"id": ip.id}}],
            tags=args.tags, opts=child)
