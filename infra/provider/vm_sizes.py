"""VM sizes the fleet may use: vCPUs, quota family and whether accelerated networking is supported.

Sources (one per series; the "Accelerated Networking" row of each size table):
- B-series (classic Bs): https://learn.microsoft.com/en-us/azure/virtual-machines/sizes/general-purpose/b-family
  and https://learn.microsoft.com/en-us/azure/virtual-machines/sizes-b-series-burstable: of the classic
  B sizes only B12ms, B16ms and B20ms support accelerated networking.
- Bsv2: https://learn.microsoft.com/en-us/azure/virtual-machines/sizes/general-purpose/bsv2-series
- Dsv5: https://learn.microsoft.com/en-us/azure/virtual-machines/sizes/general-purpose/dsv5-series
- Dasv5: https://learn.microsoft.com/en-us/azure/virtual-machines/sizes/general-purpose/dasv5-series
- Quota families: https://learn.microsoft.com/en-us/azure/quotas/per-vm-quota-requests (the family a
  size counts against in `az vm list-usage`).
"""

from __future__ import annotations

from dataclasses import dataclass

ACCELERATED_NETWORKING_DOC = "https://learn.microsoft.com/en-us/azure/virtual-networking/accelerated-networking-overview"


@dataclass(frozen=True)
class VmSize:
    """One VM size as the documentation describes it."""

    vcpus: int
    family: str
    """The quota family (`az vm list-usage` name) the size's vCPUs count against."""
    accelerated_networking: bool


def _series(family: str, sizes: dict[str, int], accelerated: bool | set[str]) -> dict[str, VmSize]:
    return {name: VmSize(vcpus=vcpus, family=family,
                         accelerated_networking=accelerated if isinstance(accelerated, bool) else name in accelerated)
            for name, vcpus in sizes.items()}


VM_SIZES: dict[str, VmSize] = {
    **_series("standardBSFamily", {
        "Standard_B1s": 1, "Standard_B1ms": 1, "Standard_B2s": 2, "Standard_B2ms": 2, "Standard_B4ms": 4,
        "Standard_B8ms": 8, "Standard_B12ms": 12, "Standard_B16ms": 16, "Standard_B20ms": 20,
    }, accelerated={"Standard_B12ms", "Standard_B16ms", "Standard_B20ms"}),
    **_series("standardBsv2Family", {
        "Standard_B2s_v2": 2, "Standard_B2ms_v2": 2, "Standard_B4s_v2": 4, "Standard_B4ms_v2": 4,
        "Standard_B8s_v2": 8, "Standard_B8ms_v2": 8, "Standard_B16s_v2": 16,
    }, accelerated=True),
    **_series("standardDSv5Family", {
        "Standard_D2s_v5": 2, "Standard_D4s_v5": 4, "Standard_D8s_v5": 8, "Standard_D16s_v5": 16,
        "Standard_D32s_v5": 32,
    }, accelerated=True),
    **_series("standardDASv5Family", {
        "Standard_D2as_v5": 2, "Standard_D4as_v5": 4, "Standard_D8as_v5": 8, "Standard_D16as_v5": 16,
    }, accelerated=True),
}


def size(name: str) -> VmSize | None:
    """The documented facts of VM size `name`, or None when the table does not know it."""
    return VM_SIZES.get(name)


def accelerated_sizes() -> list[str]:
    """Known sizes that support accelerated networking (for messages that say what would work)."""
    return [name for name, s in VM_SIZES.items() if s.accelerated_networking]
