"""A private endpoint for one Azure service plus its registration in the matching private DNS zone."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import network


def private_endpoint(name: str, *, target_id: pulumi.Input[str], group_id: str, subnet_id: pulumi.Input[str],
                     dns_zone_id: pulumi.Input[str], resource_group_name: pulumi.Input[str], location: str,
                     tags: dict[str, str], parent: pulumi.Resource) -> network.PrivateEndpoint:
    """Reach `target_id` (sub-resource `group_id`: "vault", "blob", ...) privately from `subnet_id`.

    The DNS zone group writes the endpoint's A record into the private zone, so the service's public
    name resolves to the private address from every VNet linked to that zone. Two endpoints of one
    service must not share a zone: they write the same name, and the last one wins.
    """
    endpoint = network.PrivateEndpoint(
        f"{name}-pe",
        resource_group_name=resource_group_name,
        location=location,
        subnet={"id": subnet_id},
        private_link_service_connections=[{
            "name": f"{name}-{group_id}",
            "private_link_service_id": target_id,
            "group_ids": [group_id],
        }],
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    network.PrivateDnsZoneGroup(
        f"{name}-pe-dns",
        private_dns_zone_group_name="default",
        private_endpoint_name=endpoint.name,
        resource_group_name=resource_group_name,
        private_dns_zone_configs=[{"name": group_id, "private_dns_zone_id": dns_zone_id}],
        opts=pulumi.ResourceOptions(parent=endpoint),
    )
    return endpoint
