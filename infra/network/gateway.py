"""Gateway: the cell's edge in one region, a zone-redundant Application Gateway WAF_v2 and its public IP.

The gateway's sub-resources (listeners, rules, pools, ...) reference each other by ARM id. Those ids
are built from the gateway's own id, which is known before the gateway exists because its name is
set explicitly (an auto-named gateway would have no id to point at until it was created).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import network

from infra.network.addressing import APP_PORT
from infra.provider import regions

SSL_POLICY = "AppGwSslPolicy20220101S"
HEALTH_PATH = "/healthz"
POOL = "pool-fleet"


@dataclass
class GatewayArgs:
    """Inputs of one region's gateway."""

    gateway_name: str
    """Explicit gateway name; sub-resource ids are built from it."""
    resource_group_name: pulumi.Input[str]
    """Resource group of the region."""
    location: str
    """Azure region."""
    subscription_id: pulumi.Input[str]
    """Subscription id, for the gateway's own ARM id."""
    subnet_id: pulumi.Input[str]
    """The dedicated gateway subnet."""
    hostname: str
    """The cell's public host name (SNI of the HTTPS listener)."""
    certificate_secret_id: pulumi.Input[str]
    """Versionless Key Vault secret id of the TLS certificate."""
    identity_id: pulumi.Input[str]
    """User-assigned identity allowed to read the certificate from Key Vault."""
    waf_policy_id: pulumi.Input[str]
    """The WAF policy attached to the gateway."""
    min_capacity: int
    """Autoscale floor (instances); every instance counts, so 2+ keeps a zone failure survivable."""
    max_capacity: int
    """Autoscale ceiling."""
    dns_label: str
    """DNS label of the public IP (<label>.<region>.cloudapp.azure.com)."""
    tags: dict[str, str]
    """Cell tags."""


def gateway_id(subscription_id: pulumi.Input[str], resource_group_name: pulumi.Input[str],
               name: str) -> pulumi.Output[str]:
    """The ARM id the gateway will have."""
    return pulumi.Output.concat("/subscriptions/", subscription_id, "/resourceGroups/", resource_group_name,
                                "/providers/Microsoft.Network/applicationGateways/", name)


class Gateway(pulumi.ComponentResource):
    """HTTPS with SNI and a Key Vault certificate, HTTP permanently redirected, /healthz probe, fleet pool.

    Attributes: `gateway`, `id`, `public_ip`, `public_ip_id`, `fqdn`, `backend_pool_id`.
    """

    def __init__(self, name: str, args: GatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slotstack:network:Gateway", name, None, opts)
        # Zone-redundant where the region has zones; Azure refuses zones in a zoneless region.
        zones = regions.zones_of(args.location) or None
        self.public_ip = network.PublicIPAddress(
            f"{name}-pip",
            resource_group_name=args.resource_group_name,
            location=args.location,
            sku={"name": "Standard", "tier": "Regional"},
            public_ip_allocation_method="Static",
            zones=zones,
            dns_settings={"domain_name_label": args.dns_label},
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        own = gateway_id(args.subscription_id, args.resource_group_name, args.gateway_name)

        def sub(kind: str, item: str) -> network.SubResourceArgsDict:
            return {"id": pulumi.Output.concat(own, f"/{kind}/{item}")}

        self.gateway = network.ApplicationGateway(
            f"{name}-agw",
            application_gateway_name=args.gateway_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            sku={"name": "WAF_v2", "tier": "WAF_v2"},
            autoscale_configuration={"min_capacity": args.min_capacity, "max_capacity": args.max_capacity},
            zones=zones,
            enable_http2=True,
            identity={"type": network.ResourceIdentityType.USER_ASSIGNED,
                      "user_assigned_identities": [args.identity_id]},
            firewall_policy={"id": args.waf_policy_id},
            ssl_policy={"policy_type": "Predefined", "policy_name": SSL_POLICY},
            gateway_ip_configurations=[{"name": "gateway-ipconfig", "subnet": {"id": args.subnet_id}}],
            frontend_ip_configurations=[{"name": "frontend-public", "public_ip_address": {"id": self.public_ip.id}}],
            frontend_ports=[{"name": "port-443", "port": 443}, {"name": "port-80", "port": 80}],
            ssl_certificates=[{"name": "cert-tls", "key_vault_secret_id": args.certificate_secret_id}],
            http_listeners=[
                {"name": "listener-https", "protocol": "Https", "host_name": args.hostname,
                 "require_server_name_indication": True,
                 "frontend_ip_configuration": sub("frontendIPConfigurations", "frontend-public"),
                 "frontend_port": sub("frontendPorts", "port-443"),
                 "ssl_certificate": sub("sslCertificates", "cert-tls")},
                {"name": "listener-http", "protocol": "Http", "host_name": args.hostname,
                 "frontend_ip_configuration": sub("frontendIPConfigurations", "frontend-public"),
                 "frontend_port": sub("frontendPorts", "port-80")},
            ],
            redirect_configurations=[{
                "name": "redirect-http-to-https", "redirect_type": "Permanent",
                "target_listener": sub("httpListeners", "listener-https"),
                "include_path": True, "include_query_string": True,
                "request_routing_rules": [sub("requestRoutingRules", "rule-http")],
            }],
            backend_address_pools=[{"name": POOL}],
            probes=[{
                "name": "probe-healthz", "protocol": "Http", "host": args.hostname, "path": HEALTH_PATH,
                "interval": 15, "timeout": 10, "unhealthy_threshold": 3,
                "pick_host_name_from_backend_http_settings": False,
                "match": {"status_codes": ["200"]},
            }],
            backend_http_settings_collection=[{
                "name": "settings-app", "port": APP_PORT, "protocol": "Http", "cookie_based_affinity": "Disabled",
                "request_timeout": 30, "probe": sub("probes", "probe-healthz"),
                "connection_draining": {"enabled": True, "drain_timeout_in_sec": 60},
            }],
            request_routing_rules=[
                {"name": "rule-https", "rule_type": "Basic", "priority": 100,
                 "http_listener": sub("httpListeners", "listener-https"),
                 "backend_address_pool": sub("backendAddressPools", POOL),
                 "backend_http_settings": sub("backendHttpSettingsCollection", "settings-app")},
                {"name": "rule-http", "rule_type": "Basic", "priority": 200,
                 "http_listener": sub("httpListeners", "listener-http"),
                 "redirect_configuration": sub("redirectConfigurations", "redirect-http-to-https")},
            ],
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.id = self.gateway.id
        self.public_ip_id = self.public_ip.id
        self.fqdn = f"{args.dns_label}.{args.location}.cloudapp.azure.com"
        # Through the gateway's output id, so that the fleet joins the pool only once the gateway exists.
        self.backend_pool_id: pulumi.Output[str] = self.gateway.id.apply(lambda i: f"{i}/backendAddressPools/{POOL}")
        self.register_outputs({"id": self.id, "public_ip_id": self.public_ip_id, "fqdn": self.fqdn})
