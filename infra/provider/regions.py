"""Azure regions: which have availability zones, and which need an access request first.

Sources:
- Zones: https://learn.microsoft.com/en-us/azure/reliability/regions-list (column "Availability zones";
  "N/A" means none) and https://learn.microsoft.com/en-us/azure/reliability/availability-zones-region-support
- Restricted access: https://learn.microsoft.com/en-us/troubleshoot/azure/general/region-access-request-process
  (regions marked "restricted access" in the regions list accept deployments only after a support
  request approves the subscription; they exist mostly as the pair of a public region).

Only the regions this project can use (infra.residency) and their close neighbours are listed; a
region missing here is treated as zoneless, the safe default (no zones are sent).
"""

from __future__ import annotations

from dataclasses import dataclass

REGIONS_LIST = "https://learn.microsoft.com/en-us/azure/reliability/regions-list"
ACCESS_REQUEST = "https://learn.microsoft.com/en-us/troubleshoot/azure/general/region-access-request-process"
ALL_ZONES = ("1", "2", "3")


@dataclass(frozen=True)
class RegionFacts:
    """What the Azure documentation says about one region."""

    zones: tuple[str, ...]
    """Availability zones the region offers (empty: none)."""
    restricted: bool = False
    """True when a subscription must request access before deploying there."""


_ZONED = RegionFacts(zones=ALL_ZONES)
_ZONELESS = RegionFacts(zones=())
_RESTRICTED = RegionFacts(zones=(), restricted=True)

AZURE_REGIONS: dict[str, RegionFacts] = {
    # United States
    "eastus": _ZONED, "eastus2": _ZONED, "centralus": _ZONED, "southcentralus": _ZONED,
    "westus2": _ZONED, "westus3": _ZONED,
    "westus": _ZONELESS, "westcentralus": _ZONELESS, "northcentralus": _ZONELESS,
    # European Union: the pairs of Germany, France and Sweden are restricted and zoneless
    "westeurope": _ZONED, "northeurope": _ZONED, "germanywestcentral": _ZONED, "francecentral": _ZONED,
    "swedencentral": _ZONED,
    "germanynorth": _RESTRICTED, "francesouth": _RESTRICTED, "swedensouth": _RESTRICTED,
    # Australia: only Australia East has zones; the Canberra regions are for approved customers
    "australiaeast": _ZONED, "australiasoutheast": _ZONELESS,
    "australiacentral": _RESTRICTED, "australiacentral2": _RESTRICTED,
    # outside every residency, listed so that messages about them are right
    "uksouth": _ZONED, "ukwest": _ZONELESS, "switzerlandnorth": _ZONED, "switzerlandwest": _RESTRICTED,
    "norwayeast": _ZONED, "norwaywest": _RESTRICTED,
}


def facts(region: str) -> RegionFacts:
    """The documented facts of `region`; an unknown region counts as zoneless and unrestricted."""
    return AZURE_REGIONS.get(region, _ZONELESS)


def zones_of(region: str) -> list[str]:
    """The zones to pin a zonal resource to in `region`: all of them, or none where there are none.

    Azure rejects a `zones` property in a region without availability zones, so callers pass the
    result as is (an empty list means "omit zones").
    """
    return list(facts(region).zones)


def has_zones(region: str) -> bool:
    """True when `region` has availability zones."""
    return bool(facts(region).zones)


def is_restricted(region: str) -> bool:
    """True when deploying to `region` needs an approved access request first."""
    return facts(region).restricted


def zoned_regions() -> list[str]:
    """Every listed region with availability zones (for messages that say what would work)."""
    return sorted(r for r, f in AZURE_REGIONS.items() if f.zones)
