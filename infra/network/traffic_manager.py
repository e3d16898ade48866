"""Traffic Manager of a cell: priority routing to the serving region's gateway, the other as fallback."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import trafficmanager

from infra.environment import Cell
from infra.failover import failover_plan
from infra.network.gateway import HEALTH_PATH

# Traffic Manager is a global DNS service; it holds endpoint names, no customer data.
LOCATION = "global"
TTL_SECONDS = 30
PROBE_INTERVAL_SECONDS = 30
PROBE_TIMEOUT_SECONDS = 10
TOLERATED_FAILURES = 3
EXTERNAL_ENDPOINT = "Microsoft.Network/trafficManagerProfiles/externalEndpoints"


@dataclass
class TrafficManagerArgs:
    """Inputs of `TrafficManager`."""

    cell: Cell
    """The cell; its `active_region` sets the endpoint priorities."""
    resource_group_name: pulumi.Input[str]
    """Resource group in the cell's SECONDARY region: a failover must be able to change the profile while
    the primary region (and with it ARM writes to its resource groups) is down."""
    profile_name: str
    """Profile name, owned by the caller's naming."""
    dns_name: str
    """Relative DNS name: `<dns_name>.trafficmanager.net` must be globally unique; the cell's hostname
    is a CNAME to it."""
    gateway_fqdns: Mapping[str, pulumi.Input[str]]
    """Region -> public FQDN of that region's Application Gateway (secondary optional without a replica)."""
    tags: Mapping[str, str]
    """The cell tags."""


class TrafficManager(pulumi.ComponentResource):
    """A Priority-routed profile probing https://<gateway>/healthz with the cell's Host header."""

    profile_id: pulumi.Output[str]
    fqdn: pulumi.Output[str]

    def __init__(self, name: str, args: TrafficManagerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slotstack:network:TrafficManager", name, None, opts)
        cell = args.cell
        plan = failover_plan(cell)
        unknown = sorted(set(args.gateway_fqdns) - {cell.primary_region, cell.secondary_region})
        if unknown:
            raise ValueError(f"cell {cell.name}: gateway_fqdns has regions {unknown} outside the cell "
                             f"(allowed: {cell.primary_region}, {cell.secondary_region})")
        if plan.serving_region not in args.gateway_fqdns:
            raise ValueError(f"cell {cell.name}: no gateway FQDN for the serving region {plan.serving_region}; "
                             "Traffic Manager would have nowhere to send traffic")
        endpoints: list[trafficmanager.EndpointArgsDict] = [{
            "name": f"{cell.name}-{region}",
            "type": EXTERNAL_ENDPOINT,
            "target": fqdn,
            "endpoint_location": region,
            "endpoint_status": "Enabled",
            "priority": plan.priorities[region],
        } for region, fqdn in sorted(args.gateway_fqdns.items(), key=lambda item: plan.priorities[item[0]])]
        profile = trafficmanager.Profile(
            f"{name}-tm",
            profile_name=args.profile_name,
            resource_group_name=args.resource_group_name,
            location=LOCATION,
            profile_status="Enabled",
            traffic_routing_method="Priority",
            dns_config={"relative_name": args.dns_name, "ttl": TTL_SECONDS},
            monitor_config={
                "protocol": "HTTPS",
                "port": 443,
                "path": HEALTH_PATH,
                "interval_in_seconds": PROBE_INTERVAL_SECONDS,
                "timeout_in_seconds": PROBE_TIMEOUT_SECONDS,
                "tolerated_number_of_failures": TOLERATED_FAILURES,
                "expected_status_code_ranges": [{"min": 200, "max": 200}],
                # The gateway's listener is host-based: without the cell's Host header the probe would
                # hit no listener and every endpoint would look down.
                "custom_headers": [{"name": "Host", "value": cell.hostname}],
            },
            endpoints=endpoints,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.profile_id = profile.id
        self.fqdn = pulumi.Output.from_input(f"{args.dns_name}.trafficmanager.net")
        self.register_outputs({"profile_id": self.profile_id, "fqdn": self.fqdn})
