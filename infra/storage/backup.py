"""The backup storage account of a cell: database dumps and exports that must survive an attacker.

GZRS keeps three zone copies in the primary region and the geo copy in its Azure pair, which the
environment loader already keeps inside the cell's geography. Nothing reaches it from the Internet
or with the account key: writers use Entra identities through the private endpoint, and the
`backups` container is WORM for 90 days so that a stolen credential cannot erase the history.

What the resource model cannot express: the time-based retention policy is created *unlocked*.
Locking is an action (`az storage container immutability-policy lock`), not a property, and it is
one-way: once locked nobody, the subscription owner included, can shorten or delete it. Lock it
once per account after the first deployment has been verified (restore runbook).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi import Input, ResourceOptions
from pulumi_azure_native import network, storage

from infra.environment import Cell

CONTAINER = "backups"
IMMUTABLE_DAYS = 90
COOL_AFTER_DAYS = 30
DELETE_AFTER_DAYS = 400
SOFT_DELETE_DAYS = 30


@dataclass
class BackupStorageArgs:
    """Inputs of a cell's backup storage account."""

    cell: Cell
    """The environment's cell; the account lives in its primary region."""
    account_name: str
    """Globally unique storage account name (3-24 lowercase letters and digits)."""
    resource_group_name: Input[str]
    """Resource group of the primary region."""
    private_endpoint_subnet_id: Input[str]
    """Primary-region subnet for private endpoints."""
    private_dns_zone_id: Input[str]
    """Id of the private DNS zone privatelink.blob.core.windows.net."""
    tags: dict[str, str]
    """The cell tags (environment, cell, residency, data-classification, managed-by)."""
    sku: str = "Standard_GZRS"
    """Standard_GZRS or Standard_RAGZRS: zone copies here, the geo copy in the Azure pair."""


class BackupStorage(pulumi.ComponentResource):
    """GZRS account with versioning, soft delete, a WORM `backups` container and a private endpoint."""

    account: storage.StorageAccount

    def __init__(self, name: str, args: BackupStorageArgs, opts: ResourceOptions | None = None) -> None:
        super().__init__("slotstack:storage:BackupStorage", name, None, opts)
        if args.sku not in ("Standard_GZRS", "Standard_RAGZRS"):
            raise ValueError(f"BackupStorageArgs.sku {args.sku!r} would not keep the copy in the Azure pair; "
                             "use Standard_GZRS or Standard_RAGZRS")
        region = args.cell.primary_region
        self.account = storage.StorageAccount(
            f"{name}-account", account_name=args.account_name, resource_group_name=args.resource_group_name,
            location=region, kind="StorageV2", sku=storage.SkuArgs(name=args.sku), access_tier=storage.AccessTier.HOT,
            minimum_tls_version="TLS1_2", enable_https_traffic_only=True, allow_blob_public_access=False,
            allow_shared_key_access=False, default_to_o_auth_authentication=True,
            allow_cross_tenant_replication=False, public_network_access="Disabled",
            network_rule_set=storage.NetworkRuleSetArgs(default_action=storage.DefaultAction.DENY, bypass="None"),
            encryption=storage.EncryptionArgs(
                key_source="Microsoft.Storage", require_infrastructure_encryption=True,
                services=storage.EncryptionServicesArgs(
                    blob=storage.EncryptionServiceArgs(enabled=True, key_type="Account"))),
            tags=args.tags, opts=ResourceOptions(parent=self))
        # Children use the literal account name (known at preview, unlike the `name` output).
        child = ResourceOptions(parent=self, depends_on=[self.account])

        blob = storage.BlobServiceProperties(
            f"{name}-blob-service", account_name=args.account_name, resource_group_name=args.resource_group_name,
            blob_services_name="default", is_versioning_enabled=True,
            delete_retention_policy=storage.DeleteRetentionPolicyArgs(enabled=True, days=SOFT_DELETE_DAYS),
            container_delete_retention_policy=storage.DeleteRetentionPolicyArgs(enabled=True, days=SOFT_DELETE_DAYS),
            opts=child)
        self.container = storage.BlobContainer(
            f"{name}-container", account_name=args.account_name, resource_group_name=args.resource_group_name,
            container_name=CONTAINER, public_access=storage.PublicAccess.NONE,
            # Version-level WORM: the container's time-based policy then holds every blob version.
            immutable_storage_with_versioning=storage.ImmutableStorageWithVersioningArgs(enabled=True),
            opts=ResourceOptions(parent=self, depends_on=[self.account, blob]))
        storage.BlobContainerImmutabilityPolicy(
            f"{name}-immutability", account_name=args.account_name, resource_group_name=args.resource_group_name,
            container_name=CONTAINER, immutability_policy_name="default",
            immutability_period_since_creation_in_days=IMMUTABLE_DAYS, allow_protected_append_writes=False,
            opts=ResourceOptions(parent=self, depends_on=[self.container]))
        after = storage.DateAfterModificationArgs
        storage.ManagementPolicy(
            f"{name}-lifecycle", account_name=args.account_name, resource_group_name=args.resource_group_name,
            management_policy_name="default",
            policy=storage.ManagementPolicySchemaArgs(rules=[storage.ManagementPolicyRuleArgs(
                name="cool-then-expire", type="Lifecycle", enabled=True,
                definition=storage.ManagementPolicyDefinitionArgs(
                    filters=storage.ManagementPolicyFilterArgs(blob_types=["blockBlob"]),
                    actions=storage.ManagementPolicyActionArgs(
                        base_blob=storage.ManagementPolicyBaseBlobArgs(
                            tier_to_cool=after(days_after_modification_greater_than=COOL_AFTER_DAYS),
                            delete=after(days_after_modification_greater_than=DELETE_AFTER_DAYS)),
                        version=storage.ManagementPolicyVersionArgs(
                            tier_to_cool=storage.DateAfterCreationArgs(days_after_creation_greater_than=COOL_AFTER_DAYS),
                            delete=storage.DateAfterCreationArgs(days_after_creation_greater_than=DELETE_AFTER_DAYS)),
                    )))]),
            opts=child)

        self.private_endpoint = network.PrivateEndpoint(
            f"{name}-pe", private_endpoint_name=f"pe-{args.account_name}-blob",
            resource_group_name=args.resource_group_name, location=region, tags=args.tags,
            subnet=network.SubnetArgs(id=args.private_endpoint_subnet_id),
            private_link_service_connections=[network.PrivateLinkServiceConnectionArgs(
                name=f"{args.account_name}-blob", private_link_service_id=self.account.id, group_ids=["blob"])],
            opts=child)
        network.PrivateDnsZoneGroup(
            f"{name}-pe-dns", private_endpoint_name=f"pe-{args.account_name}-blob",
            resource_group_name=args.resource_group_name, private_dns_zone_group_name="default",
            private_dns_zone_configs=[network.PrivateDnsZoneConfigArgs(
                name="blob", private_dns_zone_id=args.private_dns_zone_id)],
            opts=ResourceOptions(parent=self, depends_on=[self.private_endpoint]))
        self.register_outputs({"account_id": self.account.id, "account_name": self.account.name,
                               "container": CONTAINER, "private_endpoint_id": self.private_endpoint.id})
