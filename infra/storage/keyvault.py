"""KeyVault: the cell's vault for secrets, the envelope key-encryption key and the gateway's TLS certificate.

RBAC only (no access policies), purge protection and 90-day soft delete so a deleted secret can
always be recovered, and no public network access: the fleet and the gateway reach it through a
private endpoint in their own region. The vault lives in the primary region and has its endpoint
there; each other region of the cell (the secondary) gets a second endpoint, registered in that
region's own privatelink.vaultcore.azure.net zone, so VMs started there during a primary-region
outage still read the vault (Microsoft fails a vault over read-only to the paired region).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pulumi
from pulumi_azure_native import keyvault, network

from infra.network.private_endpoint import private_endpoint
from infra.storage import placeholder_cert
from infra.storage.placeholder_cert import placeholder_pfx

SOFT_DELETE_DAYS = 90
KEK_NAME = "envelope-kek"
# The service wraps per-tenant data keys with this key; rotating yearly keeps old versions for unwrap.
KEK_ROTATION: keyvault.RotationPolicyArgsDict = {
    "attributes": {"expiry_time": "P2Y"},
    "lifetime_actions": [
        {"trigger": {"time_after_create": "P1Y"}, "action": {"type": keyvault.KeyRotationPolicyActionType.ROTATE}},
        {"trigger": {"time_before_expiry": "P30D"}, "action": {"type": keyvault.KeyRotationPolicyActionType.NOTIFY}},
    ],
}


@dataclass
class VaultEndpoint:
    """Where a further private endpoint of the vault goes: another region of the cell."""

    subnet_id: pulumi.Input[str]
    """That region's private-endpoint subnet."""
    dns_zone_id: pulumi.Input[str]
    """That region's own privatelink.vaultcore.azure.net zone (linked to that region's VNet only)."""
    resource_group_name: pulumi.Input[str]
    """That region's resource group."""
    location: str
    """That Azure region."""


@dataclass
class KeyVaultArgs:
    """Inputs of a cell's Key Vault."""

    vault_name: str
    """Globally unique vault name (infra.naming.key_vault)."""
    resource_group_name: pulumi.Input[str]
    """Resource group (the cell's primary region)."""
    location: str
    """Azure region of the vault."""
    tenant_id: pulumi.Input[str]
    """Entra tenant that authorizes access (RBAC)."""
    private_endpoint_subnet_id: pulumi.Input[str]
    """Subnet of the vault's private endpoint in its own (the primary) region."""
    dns_zone_id: pulumi.Input[str]
    """The primary region's privatelink.vaultcore.azure.net zone (linked to the primary VNet only)."""
    certificate_name: str
    """Name of the secret holding the gateway's TLS certificate (a placeholder until the operator replaces it)."""
    tags: dict[str, str]
    """Cell tags."""
    certificate_hostname: str | None = None
    """The cell's public host name: a placeholder certificate for it is written when the vault is new (None:
    the vault serves no gateway, no placeholder)."""
    regional_endpoints: Mapping[str, VaultEndpoint] = field(default_factory=dict)
    """Further private endpoints by region role (the cell's secondary region), each in its region's zone."""


class KeyVault(pulumi.ComponentResource):
    """A private, RBAC-only Key Vault with a rotating key-encryption key.

    Attributes: `vault`, `id`, `name`, `uri`, `endpoint` (the private endpoint in the vault's region),
    `regional_endpoints` (role -> the private endpoint in that region), `kek` (the key), `kek_uri`,
    `certificate_secret_id` (versionless secret id of the TLS certificate, so the gateway picks up renewals).
    """

    def __init__(self, name: str, args: KeyVaultArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slotstack:storage:KeyVault", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.args = args
        self.vault = keyvault.Vault(
            f"{name}-vault",
            vault_name=args.vault_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            properties={
                "tenant_id": args.tenant_id,
                "sku": {"family": keyvault.SkuFamily.A, "name": keyvault.SkuName.STANDARD},
                "enable_rbac_authorization": True,
                "enable_purge_protection": True,
                "enable_soft_delete": True,
                "soft_delete_retention_in_days": SOFT_DELETE_DAYS,
                "public_network_access": "Disabled",
                "network_acls": {"default_action": keyvault.NetworkRuleAction.DENY,
                                 "bypass": keyvault.NetworkRuleBypassOptions.NONE},
                "enabled_for_deployment": False,
                "enabled_for_template_deployment": False,
                "enabled_for_disk_encryption": False,
            },
            tags=args.tags,
            opts=child,
        )
        self.id = self.vault.id
        self.name = self.vault.name
        self.uri: pulumi.Output[str] = self.vault.properties.apply(lambda p: p.vault_uri)
        self.endpoint = private_endpoint(
            f"{name}-vault", target_id=self.vault.id, group_id="vault", subnet_id=args.private_endpoint_subnet_id,
            dns_zone_id=args.dns_zone_id, resource_group_name=args.resource_group_name, location=args.location,
            tags=args.tags, parent=self)
        self.regional_endpoints: dict[str, network.PrivateEndpoint] = {
            role: private_endpoint(
                f"{name}-vault-{role}", target_id=self.vault.id, group_id="vault", subnet_id=where.subnet_id,
                dns_zone_id=where.dns_zone_id, resource_group_name=where.resource_group_name,
                location=where.location, tags=args.tags, parent=self)
            for role, where in args.regional_endpoints.items()}
        self.kek = keyvault.Key(
            f"{name}-kek",
            key_name=KEK_NAME,
            vault_name=self.vault.name,
            resource_group_name=args.resource_group_name,
            properties={"kty": "RSA", "key_size": 3072, "key_ops": ["wrapKey", "unwrapKey"],
                        "rotation_policy": KEK_ROTATION},
            tags=args.tags,
            opts=child,
        )
        self.kek_uri: pulumi.Output[str] = pulumi.Output.concat(self.uri, "keys/", KEK_NAME)
        # Written once, when the vault is new; never again, so a real certificate put in its place (a new
        # version of the same secret, docs/deploy.md) is not overwritten by the next `pulumi up`.
        self.certificate: keyvault.Secret | None = None if args.certificate_hostname is None else keyvault.Secret(
            f"{name}-certificate",
            secret_name=args.certificate_name,
            vault_name=self.vault.name,
            resource_group_name=args.resource_group_name,
            properties={"value": pulumi.Output.secret(
                placeholder_pfx(args.certificate_hostname, datetime.now(UTC))),
                "content_type": placeholder_cert.CONTENT_TYPE},
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["properties"]),
        )
        self.certificate_secret_id: pulumi.Output[str] = pulumi.Output.concat(
            self.uri, "secrets/", args.certificate_name)
        self.register_outputs({"id": self.id, "uri": self.uri, "kek_uri": self.kek_uri,
                               "certificate_secret_id": self.certificate_secret_id})

    def secret(self, name: str, value: pulumi.Input[str], *, content_type: str, expires: datetime,
               opts: pulumi.ResourceOptions | None = None) -> keyvault.Secret:
        """Store `value` as secret `name` with a content type and an expiry (for the data tier's passwords)."""
        return keyvault.Secret(
            f"{self._name}-secret-{name}",
            secret_name=name,
            vault_name=self.vault.name,
            resource_group_name=self.args.resource_group_name,
            properties={"value": value, "content_type": content_type,
                        "attributes": {"enabled": True, "expires": int(expires.timestamp())}},
            tags=self.args.tags,
            opts=pulumi.ResourceOptions.merge(pulumi.ResourceOptions(parent=self), opts),
        )
