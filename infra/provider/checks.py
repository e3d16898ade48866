"""The provider rules applied to an environment: what cannot work (problems) and what needs a request (warnings).

Used by the environment loader, so `slotstack validate`, `slotstack plan` and `pulumi up` all refuse
an environment that Azure would refuse, before anything is created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from infra.provider import regions, vm_sizes
from infra.schema import Problems, join

if TYPE_CHECKING:
    from infra.environment import Cell, Fleet


def accelerated_networking(fleet: Fleet) -> bool:
    """Whether the fleet's NICs use accelerated networking: as asked, else wherever the size supports it."""
    if fleet.accelerated_networking is not None:
        return fleet.accelerated_networking
    known = vm_sizes.size(fleet.vm_size)
    return bool(known and known.accelerated_networking)


def check_fleet(problems: Problems, path: str, fleet: Fleet) -> None:
    """A size the table does not know, or one without a capability the environment asks for."""
    known = vm_sizes.size(fleet.vm_size)
    if known is None:
        problems.add(join(path, "vm_size"),
                     f"{fleet.vm_size!r} is not in infra/provider/vm_sizes.py, so its capabilities cannot be "
                     f"checked; use one of {', '.join(vm_sizes.VM_SIZES)} or add the size there with its document")
        return
    if fleet.accelerated_networking and not known.accelerated_networking:
        problems.add(join(path, "accelerated_networking"),
                     f"true, but {fleet.vm_size} does not support accelerated networking "
                     f"({vm_sizes.ACCELERATED_NETWORKING_DOC}); use a size that does "
                     f"({', '.join(vm_sizes.accelerated_sizes())}) or set accelerated_networking: false")


def check_regions(problems: Problems, path: str, cell: Cell) -> None:
    """Zone requests in regions without zones."""
    zoned = ", ".join(regions.zoned_regions())
    if cell.primary_region and not regions.has_zones(cell.primary_region):
        # The backup account is GZRS and the gateway zone-redundant: both need zones in the primary region.
        problems.add(join(path, "primary_region"),
                     f"{cell.primary_region!r} has no availability zones ({regions.REGIONS_LIST}); the backup "
                     f"account's GZRS needs them; use a region with zones as primary ({zoned})")
    for role, region in (("primary", cell.primary_region), ("secondary", cell.secondary_region)):
        if role == "secondary" and cell.active_region != "secondary":
            continue  # the database HA of a replica is off; only a promoted one serves writes with HA
        if cell.database.ha == "ZoneRedundant" and region and not regions.has_zones(region):
            problems.add(join(join(path, "database"), "ha"),
                         f"'ZoneRedundant' needs availability zones, but the {role} region {region!r} has none "
                         f"({regions.REGIONS_LIST}); use ha SameZone or Disabled, or a region with zones ({zoned})")


def warnings(cell_path: str, cell: Cell) -> list[str]:
    """What a subscription must request before `pulumi up` can work: access to restricted regions."""
    found = []
    for key, region in (("primary_region", cell.primary_region), ("secondary_region", cell.secondary_region)):
        if region and regions.is_restricted(region):
            found.append(f"{join(cell_path, key)}: {region!r} is an access-restricted region; request access for "
                         f"the subscription first ({regions.ACCESS_REQUEST}), or `pulumi up` fails there")
    return found
