"""The Cell component: a complete, independent copy of the service for one residency.

It composes, per Azure region of the cell (primary and secondary), a resource group and network;
per cell the Key Vault and the identities; and per region that runs a fleet (the serving region,
plus the other one when the environment keeps a standby fleet) a gateway and a scale set that
carries the release. The attributes listed in `Cell`'s docstring are what the data tier (infra/storage) and
observability (infra/observability) take as their Args.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_azure_native import compute, managedidentity, resources

from infra import naming, tags
from infra.compute import cloud_init, release, roles
from infra.compute.fleet import Fleet, FleetArgs
from infra.compute.settings import DeploySettings
from infra.environment import Alerts
from infra.environment import Cell as CellSpec
from infra.network.addressing import region_plan
from infra.network.cell_network import CellNetwork, CellNetworkArgs
from infra.network.gateway import Gateway, GatewayArgs
from infra.network.traffic_manager import TrafficManager, TrafficManagerArgs
from infra.network.waf import WafPolicy, WafPolicyArgs
from infra.observability.agent import agent_extension
from infra.observability.cell_observability import CellObservability, CellObservabilityArgs, by_region
from infra.provider import checks
from infra.storage.backup import BackupStorage, BackupStorageArgs
from infra.storage.images import Images, ImagesArgs
from infra.storage.keyvault import KeyVault, KeyVaultArgs, VaultEndpoint
from infra.storage.postgres import PostgresArgs, PostgresServer
from infra.storage.service_secrets import ServiceSecrets, ServiceSecretsArgs

ROLES = ("primary", "secondary")
TLS_CERTIFICATE = "gateway-tls"
GATEWAY_MAX = 10
RATE_LIMIT_PER_MINUTE = 600


@dataclass
class CellArgs:
    """Everything one cell is built from."""

    environment: str
    """Environment (stack) name: dev, staging, prod."""
    spec: CellSpec
    """The validated cell of the environment file."""
    index: int
    """Position of the cell in its environment; address spaces derive from it."""
    is_prod: bool
    """Prod gets Bastion and the larger gateway floor."""
    cell_urls: dict[str, str]
    """Public URL of every cell of the environment (for 421 redirects to a tenant's home cell)."""
    subscription_id: pulumi.Input[str]
    """Azure subscription id: ARM ids of sub-resources and role definitions are built from it."""
    tenant_id: pulumi.Input[str]
    """Entra tenant id of the Key Vault."""
    settings: DeploySettings
    """The wheel to release and the admin SSH keys."""
    alerts: Alerts
    """Alert thresholds of the environment."""
    action_group_ids: Mapping[str, pulumi.Input[str]]
    """The environment's on-call action groups by channel ("page": SMS + email, "notify": email)."""
    oidc_provider_arn: pulumi.Input[str]
    """The stack's IAM OIDC provider that trusts the Entra tenant (one per stack: IAM is global)."""
    oidc_issuer_url: pulumi.Input[str]
    """Issuer of the managed identity's tokens, as the OIDC provider knows it."""
    oidc_audience: str
    """Audience of the tokens the service exchanges with AWS STS."""
    peer_key: pulumi.Input[str]
    """The environment's PEER_KEY (one RandomPassword per stack): signs the calls between its cells."""


def fleet_sizes(spec: CellSpec) -> dict[str, tuple[int, int]]:
    """(min, max) instances per region role that runs a fleet: the serving one, and a standby if asked for."""
    serving = "primary" if spec.active_region == "primary" else "secondary"
    standby = "secondary" if serving == "primary" else "primary"
    sizes = {serving: (spec.fleet.min, spec.fleet.max)}
    if spec.fleet.standby > 0:
        sizes[standby] = (spec.fleet.standby, spec.fleet.max)
    return sizes


def _release(args: CellArgs, vault_uri: pulumi.Output[str],
             client_id: pulumi.Output[str]) -> pulumi.Output[compute.VirtualMachineScaleSetExtensionArgsDict]:
    """The fleet's release extension, once the vault URI and the identity's client id are known."""

    def render(values: list[Any]) -> compute.VirtualMachineScaleSetExtensionArgsDict:
        uri, client = values
        boot = cloud_init.Boot(
            cell=args.spec.name, cell_urls=args.cell_urls, key_vault_uri=uri, client_id=client,
            trusted_proxies=tuple(region_plan(args.index, role).prefix("gateway") for role in ROLES))
        return release.extension(args.settings.wheel, boot, args.settings.bootstrap)

    return pulumi.Output.all(vault_uri, client_id).apply(render)


class Cell(pulumi.ComponentResource):
    """One residency cell.

    Attributes for the other components (dicts keyed by region role "primary"/"secondary"):
    `regions`, `tags`, `resource_groups`, `resource_group_names`,
    `subnet_ids` (role -> "gateway"/"app"/"database"/"private_endpoints"/"bastion" -> id),
    `dns_zone_ids` ("postgres"/"blob" -> id; zones linked to both VNets),
    `vault_zone_ids` (role -> that region's privatelink.vaultcore.azure.net zone, linked to its VNet only),
    `key_vault` (the KeyVault component: `.secret(...)` stores a secret with expiry and content type; it
    has a private endpoint in each region, registered in that region's vault zone),
    `key_vault_id`, `key_vault_name`, `key_vault_uri`,
    `fleet_identity_id`, `fleet_identity_principal_id`, `fleet_identity_client_id` (the VMs' identity),
    `gateway_ids`, `public_ip_ids`, `gateway_fqdns`, `scale_set_ids`
    (only for the roles that run a fleet; `serving_role` is the one taking traffic).
    """

    def __init__(self, name: str, args: CellArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slotstack:cell:Cell", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        self.spec = spec
        self.tags = tags.cell_tags(args.environment, spec)
        self.regions = {"primary": spec.primary_region, "secondary": spec.secondary_region}
        self.serving_role = "primary" if spec.active_region == "primary" else "secondary"
        self.resource_groups: dict[str, resources.ResourceGroup] = {
            role: resources.ResourceGroup(
                f"{name}-rg-{role}", resource_group_name=naming.resource_group(args.environment, spec.name, region),
                location=region, tags=tags.with_role(self.tags, role), opts=child)
            for role, region in self.regions.items()}
        self.resource_group_names: dict[str, pulumi.Output[str]] = {
            role: rg.name for role, rg in self.resource_groups.items()}

        self.network = CellNetwork(f"{name}-net", CellNetworkArgs(
            environment=args.environment, cell=spec.name, cell_index=args.index, regions=self.regions,
            resource_group_names=dict(self.resource_group_names), bastion=args.is_prod, tags=self.tags,
        ), opts=child)
        self.subnet_ids = self.network.subnet_ids
        self.dns_zone_ids = self.network.dns_zone_ids
        self.vault_zone_ids = self.network.vault_zone_ids

        # The vault lives in the primary region. VMs of the secondary region (the standby fleet, scaled
        # up in a failover) read it through their own region's endpoint: the primary's may be down. The
        # network makes a vault zone for every region it builds a VNet (and private-endpoint subnet) in.
        vault_endpoints = {
            role: VaultEndpoint(subnet_id=self.subnet_ids[role]["private_endpoints"], dns_zone_id=zone_id,
                                resource_group_name=self.resource_group_names[role], location=self.regions[role])
            for role, zone_id in self.vault_zone_ids.items() if role != "primary"}
        self.key_vault = KeyVault(f"{name}-kv", KeyVaultArgs(
            vault_name=naming.key_vault(args.environment, spec.name),
            resource_group_name=self.resource_group_names["primary"], location=spec.primary_region,
            tenant_id=args.tenant_id, private_endpoint_subnet_id=self.subnet_ids["primary"]["private_endpoints"],
            dns_zone_id=self.vault_zone_ids["primary"], certificate_name=TLS_CERTIFICATE,
            certificate_hostname=spec.hostname, tags=self.tags,
            regional_endpoints=vault_endpoints,
        ), opts=child)
        self.key_vault_id = self.key_vault.id
        self.key_vault_name = self.key_vault.name
        self.key_vault_uri = self.key_vault.uri

        identities = {
            kind: managedidentity.UserAssignedIdentity(
                f"{name}-id-{kind}", resource_name_=naming.scoped(f"id-{kind}", args.environment, spec.name,
                                                                  spec.primary_region),
                resource_group_name=self.resource_group_names["primary"], location=spec.primary_region,
                tags=self.tags, opts=child)
            for kind in ("gateway", "fleet")}
        self.fleet_identity_id = identities["fleet"].id
        self.fleet_identity_principal_id = identities["fleet"].principal_id
        self.fleet_identity_client_id = identities["fleet"].client_id
        gateway_reads_certificate = roles.assign(
            f"{name}-role-gateway-kv", role="Key Vault Secrets User", principal_id=identities["gateway"].principal_id,
            scope=self.key_vault.id, subscription_id=args.subscription_id, parent=self)
        roles.assign(
            f"{name}-role-fleet-kv", role="Key Vault Secrets User", principal_id=identities["fleet"].principal_id,
            scope=self.key_vault.id, subscription_id=args.subscription_id, parent=self)

        certificate = [self.key_vault.certificate] if self.key_vault.certificate is not None else []
        self.gateways: dict[str, Gateway] = {}
        self.fleets: dict[str, Fleet] = {}
        for role, (minimum, maximum) in fleet_sizes(spec).items():
            region = self.regions[role]
            rg = self.resource_group_names[role]
            waf = WafPolicy(f"{name}-waf-{role}", WafPolicyArgs(
                policy_name=naming.scoped("waf", args.environment, spec.name, region), resource_group_name=rg,
                location=region, rate_limit_per_minute=RATE_LIMIT_PER_MINUTE, tags=self.tags), opts=child)
            gateway = Gateway(f"{name}-gw-{role}", GatewayArgs(
                gateway_name=naming.scoped("agw", args.environment, spec.name, region), resource_group_name=rg,
                location=region, subscription_id=args.subscription_id, subnet_id=self.subnet_ids[role]["gateway"],
                hostname=spec.hostname, certificate_secret_id=self.key_vault.certificate_secret_id,
                identity_id=identities["gateway"].id, waf_policy_id=waf.id,
                min_capacity=3 if args.is_prod else 2, max_capacity=GATEWAY_MAX,
                dns_label=naming.dns_label(args.environment, spec.name, region), tags=self.tags,
            ), opts=pulumi.ResourceOptions(parent=self,
                                           depends_on=[gateway_reads_certificate, *certificate]))
            # One release for both regions: the standby fleet runs exactly what the serving one runs.
            release_extension = _release(args, self.key_vault.uri, identities["fleet"].client_id)
            self.fleets[role] = Fleet(f"{name}-fleet-{role}", FleetArgs(
                scale_set_name=naming.scoped("vmss", args.environment, spec.name, region), resource_group_name=rg,
                location=region, vm_size=spec.fleet.vm_size,
                accelerated_networking=checks.accelerated_networking(spec.fleet), minimum=minimum, maximum=maximum,
                subnet_id=self.subnet_ids[role]["app"], backend_pool_id=gateway.backend_pool_id,
                identity_id=identities["fleet"].id, custom_data=cloud_init.custom_data(),
                ssh_public_keys=args.settings.ssh_public_keys, tags=self.tags,
                extra_extensions=[release_extension, agent_extension(identities["fleet"].id)]), opts=child)
            self.gateways[role] = gateway

        self.gateway_ids = {role: g.id for role, g in self.gateways.items()}
        self.public_ip_ids = {role: g.public_ip_id for role, g in self.gateways.items()}
        self.gateway_fqdns = {role: g.fqdn for role, g in self.gateways.items()}
        self.scale_set_ids = {role: f.id for role, f in self.fleets.items()}

        # Data tier: the database (with its cross-region replica), backups and images.
        suffix = naming.suffix(args.environment, spec.name)
        self.postgres = PostgresServer(f"{name}-pg", PostgresArgs(
            cell=spec, server_name=naming.postgres_server(args.environment, spec.name, spec.primary_region),
            resource_group_name=self.resource_group_names["primary"],
            delegated_subnet_id=self.subnet_ids["primary"]["database"],
            private_dns_zone_id=self.dns_zone_ids["postgres"], key_vault_id=self.key_vault_id, tags=self.tags,
            # The service's own identity is the Entra admin, so it connects with tokens instead of a
            # password; people get in through Entra groups added by the DBA runbook.
            entra_admin_object_id=identities["fleet"].principal_id,
            entra_admin_principal_name=identities["fleet"].name, entra_admin_principal_type="ServicePrincipal",
            tenant_id=args.tenant_id,
            replica_resource_group_name=self.resource_group_names["secondary"],
            replica_subnet_id=self.subnet_ids["secondary"]["database"]), opts=child)
        # The database URLs, SECRET_KEY and the environment's PEER_KEY the fleet reads from the vault at boot
        # (none is in custom data).
        self.service_secrets = ServiceSecrets(f"{name}-booking-secrets", ServiceSecretsArgs(
            cell=spec, key_vault=self.key_vault, postgres=self.postgres, peer_key=args.peer_key), opts=child)
        self.backup = BackupStorage(f"{name}-backup", BackupStorageArgs(
            cell=spec, account_name=naming.storage_account("bak", args.environment, spec.name, spec.primary_region),
            resource_group_name=self.resource_group_names["primary"],
            private_endpoint_subnet_id=self.subnet_ids["primary"]["private_endpoints"],
            private_dns_zone_id=self.dns_zone_ids["blob"], tags=self.tags), opts=child)
        self.images = Images(f"{name}-images", ImagesArgs(
            cell=spec, bucket_name=f"{naming.PROJECT}-{args.environment}-{spec.name}-images-{suffix}",
            tags=self.tags, oidc_provider_arn=args.oidc_provider_arn, oidc_issuer_url=args.oidc_issuer_url,
            oidc_audience=args.oidc_audience, identity_principal_id=self.fleet_identity_principal_id), opts=child)

        # Observability and failover: what tells on-call, and what moves traffic between regions.
        pg_ids: dict[str, pulumi.Input[str]] = {"primary": self.postgres.server.id}
        if self.postgres.replica is not None:
            pg_ids["secondary"] = self.postgres.replica.id
        storage_ids: dict[str, pulumi.Input[str]] = {"backup": self.backup.account.id}
        self.observability = CellObservability(f"{name}-obs", CellObservabilityArgs(
            cell=spec, alerts=args.alerts,
            resource_group_name=self.resource_group_names["primary"],
            failover_resource_group_name=self.resource_group_names["secondary"],
            name_prefix=f"{naming.PROJECT}-{args.environment}-{spec.name}",
            action_group_ids=args.action_group_ids,
            gateway_ids=by_region(spec, self.gateway_ids),
            postgres_server_ids=by_region(spec, pg_ids), key_vault_id=self.key_vault_id,
            scale_set_ids=by_region(spec, self.scale_set_ids), storage_account_ids=storage_ids,
            fleet_identity_id=self.fleet_identity_id, tags=self.tags,
            install_agent_extension=False), opts=child)
        # In the secondary region's resource group: a failover changes the profile while the primary region
        # (and ARM writes to its resource groups) may be down. The alias keeps stacks created while the
        # profile sat under the observability component from replacing it.
        self.traffic_manager = TrafficManager(f"{name}-obs-tm", TrafficManagerArgs(
            cell=spec, resource_group_name=self.resource_group_names["secondary"],
            profile_name=f"tm-{naming.PROJECT}-{args.environment}-{spec.name}",
            dns_name=f"{naming.PROJECT}-{args.environment}-{spec.name}-{suffix}",
            gateway_fqdns=by_region(spec, self.gateway_fqdns), tags=self.tags),
            opts=pulumi.ResourceOptions(parent=self, aliases=[
                pulumi.Alias(type_="slotstack:observability:TrafficManager", parent=self.observability)]))
        self.register_outputs(self.exports())

    def exports(self) -> dict[str, Any]:
        """The stack outputs of this cell: what operators and runbooks look up."""
        return {
            "regions": self.regions,
            "serving_role": self.serving_role,
            "resource_groups": self.resource_group_names,
            "subnet_ids": self.subnet_ids,
            "dns_zone_ids": self.dns_zone_ids,
            "vault_zone_ids": self.vault_zone_ids,
            "key_vault_uri": self.key_vault_uri,
            "gateway_fqdns": self.gateway_fqdns,
            "scale_set_ids": self.scale_set_ids,
        }
