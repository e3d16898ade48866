"""CellNetwork: both regions' VNets of a cell, peered, with private DNS and (in prod) Azure Bastion."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import network, privatedns

from infra.network.addressing import ROLES, region_plan
from infra.network.vnet import RegionalNetwork, RegionalNetworkArgs
from infra.provider import regions

# Private DNS zones the cell's private endpoints and servers register in. Key Vault and blob must use
# Azure's privatelink zones; a Flexible Server zone only has to end in postgres.database.azure.com.
PRIVATELINK_ZONES = {"vault": "privatelink.vaultcore.azure.net", "blob": "privatelink.blob.core.windows.net"}
# Zones with one copy per region, each linked to its own region's VNet only. The vault has a private
# endpoint in each region under one name (the vault's); in a zone shared by both VNets the two zone
# groups would overwrite each other's A record and send one region's VMs to the other region's endpoint
# (dead in a regional outage). Blob and postgres names are per account/server, so their zones are shared.
REGIONAL_ZONES = ("vault",)


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
    """Two peered VNets, private DNS zones, and optional Bastion.

    The postgres and blob zones are linked to both VNets; the vault zone exists once per region, each
    linked to its own region's VNet only (see REGIONAL_ZONES).

    Attributes: `regional` (RegionalNetwork by role), `subnet_ids` (role -> subnet -> id),
    `dns_zone_ids` (postgres/blob -> id: zones linked to both VNets), `vault_zone_ids` (role -> id of
    that region's privatelink.vaultcore.azure.net zone), `bastion` (or None).
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
        self.regional_zones: dict[str, dict[str, privatedns.PrivateZone]] = {}
        for key, zone_name in zones.items():
            if key not in REGIONAL_ZONES:
                zone = self._zone(f"{name}-dns-{key}", zone_name, "primary", args)
                self.dns_zones[key] = zone
                for role in ROLES:
                    self._link(f"{name}-dns-{key}-link-{role}", zone, "primary", role, args)
                continue
            self.regional_zones[key] = {}
            for role in ROLES:
                # The primary region's copy keeps the logical name the zone had when it was shared.
                logical = f"{name}-dns-{key}" if role == "primary" else f"{name}-dns-{key}-{role}"
                zone = self._zone(logical, zone_name, role, args)
                self.regional_zones[key][role] = zone
                # Azure refuses to link a VNet to two zones of one name. On a stack from before regional
                # zones, the secondary link (same logical name) sits on the primary region's zone: moving
                # it to its own region's zone is a replacement that must delete the old link first.
                self._link(f"{name}-dns-{key}-link-{role}", zone, role, role, args, delete_before_replace=True)
        self.subnet_ids = {role: r.subnet_ids for role, r in self.regional.items()}
        self.dns_zone_ids: dict[str, pulumi.Output[str]] = {k: z.id for k, z in self.dns_zones.items()}
        self.vault_zone_ids: dict[str, pulumi.Output[str]] = {
            role: z.id for role, z in self.regional_zones["vault"].items()}
        self.bastion = self._bastion(name, args) if args.bastion else None
        self.register_outputs({"subnet_ids": self.subnet_ids, "dns_zone_ids": self.dns_zone_ids,
                               "vault_zone_ids": self.vault_zone_ids})

    def _zone(self, name: str, zone_name: str, role: str, args: CellNetworkArgs) -> privatedns.PrivateZone:
        """A private DNS zone (a global resource) in region `role`'s resource group."""
        return privatedns.PrivateZone(
            name, private_zone_name=zone_name, location="global", resource_group_name=args.resource_group_names[role],
            tags=args.tags, opts=pulumi.ResourceOptions(parent=self))

    def _link(self, name: str, zone: privatedns.PrivateZone, zone_role: str, role: str, args: CellNetworkArgs,
              delete_before_replace: bool = False) -> privatedns.VirtualNetworkLink:
        """Resolve `zone` (in region `zone_role`'s resource group) from the VNet of region `role`."""
        return privatedns.VirtualNetworkLink(
            name, private_zone_name=zone.name, location="global",
            resource_group_name=args.resource_group_names[zone_role],
            virtual_network={"id": self.regional[role].vnet.id}, registration_enabled=False,
            virtual_network_link_name=f"{args.cell}-{role}", tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=delete_before_replace))

    def _bastion(self, name: str, args: CellNetworkArgs) -> network.BastionHost:
        """Admin access without any public IP on a VM: Bastion (Standard, tunneling for native SSH)."""
        child = pulumi.ResourceOptions(parent=self)
        ip = network.PublicIPAddress(
            f"{name}-pip-bastion", resource_group_name=args.resource_group_names["primary"],
            location=args.regions["primary"], sku={"name": "Standard", "tier": "Regional"},
            public_ip_allocation_method="Static", zones=regions.zones_of(args.regions["primary"]) or None,
            tags=args.tags, opts=child)
        return network.BastionHost(
            f"{name}-bastion", resource_group_name=args.resource_group_names["primary"],
            location=args.regions["primary"], sku={"name": "Standard"}, enable_tunneling=True,
            ip_configurations=[{"name": "bastion", "subnet": {"id": self.regional["primary"].subnet_ids["bastion"]},
                                "public_ip_address": {"id": ip.id}}],
            tags=args.tags, opts=child)
