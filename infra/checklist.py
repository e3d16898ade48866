"""What a deployer must see to before `pulumi up`: restricted regions, vCPU quota per family and region,
DNS records nobody but them can create. Part of `slotstack plan`."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from infra.cell import fleet_sizes
from infra.environment import Environment
from infra.provider import checks, vm_sizes


def attention(env: Environment) -> dict[str, Any]:
    """The checklist of `env`: warnings, vCPUs needed per (quota family, region), manual DNS records."""
    vcpus: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for cell in env.cells.values():
        size = vm_sizes.size(cell.fleet.vm_size)
        if size is None:
            continue  # validation already refused it
        regions = {"primary": cell.primary_region, "secondary": cell.secondary_region}
        for role, (low, high) in fleet_sizes(cell).items():
            entry = vcpus[(size.family, regions[role])]
            entry[0] += low * size.vcpus
            # A rolling upgrade or a failover can take a fleet to its maximum.
            entry[1] += high * size.vcpus
    # The cells' host names live wherever the company's DNS is; the CloudFront domains' records are written
    # into the Route 53 zones the environment names (infra/storage/cdn_domain.py), which must exist.
    dns = [f"{cell.hostname} CNAME to the cell's Traffic Manager name (`pulumi stack output`), once"
           for cell in env.cells.values()]
    zones = sorted({z for z in [*(c.images.dns_zone for c in env.cells.values()), env.monitor.status_dns_zone] if z})
    return {
        "restricted_regions": [w.split(": ", 1)[1] for w in env.warnings],
        "vcpus": [{"family": family, "region": region, "at_minimum": lo, "at_maximum": hi}
                  for (family, region), (lo, hi) in sorted(vcpus.items())],
        "dns_records": dns,
        "route53_zones": zones,
        "accelerated_networking": {name: checks.accelerated_networking(c.fleet) for name, c in env.cells.items()},
    }


def render(doc: dict[str, Any]) -> list[str]:
    """The checklist as lines for people."""
    lines = ["needs attention before `pulumi up`:"]
    lines += [f"  restricted region: {w}" for w in doc["restricted_regions"]] or ["  restricted regions: none"]
    lines += [f"  vCPU quota: {v['family']} in {v['region']}: {v['at_minimum']} at minimum, {v['at_maximum']} at "
              "maximum (quota cannot be read offline: `az vm list-usage -l REGION`)" for v in doc["vcpus"]]
    lines += [f"  DNS record (manual): {d}" for d in doc["dns_records"]]
    lines += [f"  Route 53 public hosted zone {z} must exist in the AWS account (pulumi up writes the ACM "
              "validation and alias records there)" for z in doc["route53_zones"]]
    return lines
