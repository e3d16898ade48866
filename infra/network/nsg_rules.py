"""Security rules of the subnets' NSGs, as data: admit exactly what each tier needs and deny the rest.

Azure's default rules admit everything from the VirtualNetwork and the AzureLoadBalancer tags; each
NSG below ends with an explicit deny-all at the lowest priority so that only the rules above it admit.
"""

from __future__ import annotations

from pulumi_azure_native import network

from infra.network.addressing import APP_PORT, POSTGRES_PORT, RegionPlan

DENY_PRIORITY = 4096


def _allow(name: str, priority: int, source: str, port: str, protocol: str = "Tcp") -> network.SecurityRuleArgsDict:
    return {
        "name": name, "priority": priority, "direction": "Inbound", "access": "Allow", "protocol": protocol,
        "source_address_prefix": source, "source_port_range": "*",
        "destination_address_prefix": "*", "destination_port_range": port,
    }


def _deny_all() -> network.SecurityRuleArgsDict:
    return {
        "name": "DenyAllInbound", "priority": DENY_PRIORITY, "direction": "Inbound", "access": "Deny",
        "protocol": "*", "source_address_prefix": "*", "source_port_range": "*",
        "destination_address_prefix": "*", "destination_port_range": "*",
    }


def gateway_rules() -> list[network.SecurityRuleArgsDict]:
    """Application Gateway v2: HTTPS and HTTP (redirected) from the Internet, plus Azure's control plane."""
    return [
        _allow("AllowHttpsInternet", 100, "Internet", "443"),
        _allow("AllowHttpInternet", 110, "Internet", "80"),
        # Gateway v2 refuses to provision unless its infrastructure ports are open to GatewayManager.
        _allow("AllowGatewayManager", 120, "GatewayManager", "65200-65535"),
        _allow("AllowAzureLoadBalancer", 130, "AzureLoadBalancer", "*", protocol="*"),
        _deny_all(),
    ]


def app_rules(plan: RegionPlan, bastion_prefix: str | None) -> list[network.SecurityRuleArgsDict]:
    """The fleet: the service port from the gateway subnet only; SSH only from Bastion where it exists."""
    rules = [
        _allow("AllowServiceFromGateway", 100, plan.prefix("gateway"), str(APP_PORT)),
        # The health extension and the scale set's load balancer probes come from this tag.
        _allow("AllowAzureLoadBalancer", 110, "AzureLoadBalancer", "*", protocol="*"),
    ]
    if bastion_prefix:
        rules.append(_allow("AllowSshFromBastion", 120, bastion_prefix, "22"))
    return [*rules, _deny_all()]


def database_rules(plan: RegionPlan, peer: RegionPlan) -> list[network.SecurityRuleArgsDict]:
    """PostgreSQL: 5432 from both regions' app subnets; replication from the peer region's database subnet."""
    return [
        _allow("AllowPostgresFromApp", 100, plan.prefix("app"), str(POSTGRES_PORT)),
        # Every VM migrates against the writer at start and serves from it: the standby fleet in the
        # other region (and, after a failover, the fleet of the old primary) reaches it over the peering.
        _allow("AllowPostgresFromPeerApp", 105, peer.prefix("app"), str(POSTGRES_PORT)),
        # The cross-region read replica streams from the primary server over the peering.
        _allow("AllowReplicationFromPeer", 110, peer.prefix("database"), str(POSTGRES_PORT)),
        _deny_all(),
    ]


def private_endpoint_rules(plan: RegionPlan, peer: RegionPlan) -> list[network.SecurityRuleArgsDict]:
    """Key Vault and blob endpoints: HTTPS from the fleets of both regions and from the gateway.

    The gateway reads its TLS certificate from Key Vault through the vault's private endpoint.
    """
    return [
        _allow("AllowHttpsFromApp", 100, plan.prefix("app"), "443"),
        _allow("AllowHttpsFromPeerApp", 110, peer.prefix("app"), "443"),
        _allow("AllowHttpsFromGateway", 120, plan.prefix("gateway"), "443"),
        _allow("AllowHttpsFromPeerGateway", 130, peer.prefix("gateway"), "443"),
        _deny_all(),
    ]
