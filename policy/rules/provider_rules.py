"""What Azure itself would refuse: zones in zoneless regions, capabilities a VM size lacks, diagnostic
categories a resource type does not have.

The rules are the data of infra.provider (each with its Microsoft document), the same the environment
loader and the program use, so `slotstack validate`, the program and `pulumi preview` cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.provider import diagnostics, regions, vm_sizes
from policy.rules.common import as_list, dig

NAME = "provider-rules"
DESCRIPTION = ("Resources respect the providers' documented constraints: no availability zones (nor ZRS storage or "
               "zone-redundant database HA) in a region without them, accelerated networking only on sizes that "
               "support it, diagnostic categories the target resource type accepts.")
ZONAL_TYPES = ("azure-native:compute:VirtualMachineScaleSet", "azure-native:network:ApplicationGateway",
               "azure-native:network:PublicIPAddress")


def _zones(type_: str, props: Mapping[str, Any]) -> list[str]:
    location = props.get("location")
    if not isinstance(location, str) or regions.has_zones(location):
        return []
    found = []
    asked = as_list(props.get("zones"))
    if type_ == "azure-native:dbforpostgresql:Server" and props.get("availabilityZone"):
        asked = [props["availabilityZone"]]
    if asked:
        found.append(f"zones {asked!r} in {location}, which has no availability zones ({regions.REGIONS_LIST}); "
                     "omit zones there (infra.provider.regions derives them)")
    if type_ == "azure-native:dbforpostgresql:Server" and dig(props, "highAvailability.mode") == "ZoneRedundant":
        found.append(f"highAvailability.mode 'ZoneRedundant' in {location}, which has no availability zones; use "
                     "SameZone or Disabled there (database.ha)")
    sku = dig(props, "sku.name")
    if type_ == "azure-native:storage:StorageAccount" and isinstance(sku, str) and "ZRS" in sku:
        # ZRS and GZRS keep copies in three zones (https://learn.microsoft.com/en-us/azure/storage/common/
        # redundancy-regions-zrs): only where the region has them.
        found.append(f"sku {sku} needs availability zones, which {location} does not have; use LRS/GRS there")
    return found


def _accelerated(props: Mapping[str, Any]) -> list[str]:
    name = dig(props, "sku.name")
    known = vm_sizes.size(name) if isinstance(name, str) else None
    if known is None or known.accelerated_networking:
        return []
    nics = as_list(dig(props, "virtualMachineProfile.networkProfile.networkInterfaceConfigurations"))
    if any(isinstance(nic, Mapping) and nic.get("enableAcceleratedNetworking") is True for nic in nics):
        return [f"enableAcceleratedNetworking is true but {name} does not support it "
                f"({vm_sizes.ACCELERATED_NETWORKING_DOC}); use one of {', '.join(vm_sizes.accelerated_sizes())} "
                "or turn it off (fleet.accelerated_networking: false)"]
    return []


def _diagnostics(props: Mapping[str, Any]) -> list[str]:
    target = props.get("resourceUri")
    if not isinstance(target, str):
        return []  # unknown until the target exists; checked again at `pulumi up`
    logs = [item for item in as_list(props.get("logs")) if isinstance(item, Mapping)]
    metrics = [item for item in as_list(props.get("metrics")) if isinstance(item, Mapping)]
    return diagnostics.problems(target, [dict(x) for x in logs], [dict(x) for x in metrics])


def check(type_: str, props: Mapping[str, Any]) -> list[str]:
    """Violations of this policy by one resource (empty when compliant or not applicable)."""
    found: list[str] = []
    if type_ in (*ZONAL_TYPES, "azure-native:dbforpostgresql:Server", "azure-native:storage:StorageAccount"):
        found += _zones(type_, props)
    if type_ == "azure-native:compute:VirtualMachineScaleSet":
        found += _accelerated(props)
    if type_ == "azure-native:monitor:DiagnosticSetting":
        found += _diagnostics(props)
    return found
