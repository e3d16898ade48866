"""The address plan: every VNet of every cell gets its own /16, so none overlap and any two can be peered.

A cell's VNets derive from the cell's position in its environment (cell 0: 10.16/16 primary and
10.17/16 secondary, cell 1: 10.18/16 and 10.19/16, ...). New cells are appended to the environment
file, so existing cells keep their addresses. 10.0/12 is left free for on-premises or VPN ranges.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

FIRST_OCTET = 16
ROLES = ("primary", "secondary")
APP_PORT = 8000
"""The port the booking service listens on behind the gateway."""
POSTGRES_PORT = 5432

# Subnet name -> (third octet of its first address, prefix length) inside the region's /16.
SUBNETS: dict[str, tuple[int, int]] = {
    "gateway": (0, 24),  # Application Gateway v2 wants a dedicated subnet; /24 leaves room to scale out
    "database": (1, 24),  # delegated to PostgreSQL Flexible Server
    "private_endpoints": (2, 24),
    "bastion": (3, 26),  # AzureBastionSubnet must be at least /26
    "app": (4, 22),  # the scale set: up to ~1000 instances
}
AZURE_NAMES = {"bastion": "AzureBastionSubnet"}


@dataclass(frozen=True)
class RegionPlan:
    """Address space and subnet prefixes of one region of one cell."""

    space: ipaddress.IPv4Network
    subnets: dict[str, ipaddress.IPv4Network]

    def prefix(self, subnet: str) -> str:
        """The CIDR of `subnet` as a string, e.g. '10.16.4.0/22'."""
        return str(self.subnets[subnet])


def region_plan(cell_index: int, role: str) -> RegionPlan:
    """The address plan of region `role` ("primary"/"secondary") of the cell at `cell_index`."""
    if role not in ROLES:
        raise ValueError(f"region role {role!r} is not one of {ROLES}")
    octet = FIRST_OCTET + 2 * cell_index + ROLES.index(role)
    if not cell_index >= 0 or octet > 255:
        raise ValueError(f"cell index {cell_index} is outside the address plan (at most {(255 - FIRST_OCTET) // 2 + 1} "
                         "cells per environment)")
    space = ipaddress.IPv4Network(f"10.{octet}.0.0/16")
    subnets = {name: ipaddress.IPv4Network(f"10.{octet}.{third}.0/{length}")
               for name, (third, length) in SUBNETS.items()}
    return RegionPlan(space=space, subnets=subnets)
