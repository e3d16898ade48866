"""Release: the booking wheel as a versioned, sha256-named blob in a private release container.

Each region that runs a fleet gets its own release account, so a standby fleet can still boot and
scale out when the other region is down. The fleet reads it with its managed identity through a
private endpoint; no key or SAS token exists anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import storage

from infra.compute.settings import Wheel
from infra.network.private_endpoint import private_endpoint

CONTAINER = "releases"


def blob_name(wheel: Wheel) -> str:
    """booking/<version>/<sha256>/<wheel file>: versioned, content-addressed, still a valid wheel file name."""
    return f"booking/{wheel.version}/{wheel.sha256}/{wheel.path.name}"


@dataclass
class ReleaseArgs:
    """Inputs of one region's release store."""

    account_name: str
    """Globally unique storage account name (infra.naming.storage_account)."""
    resource_group_name: pulumi.Input[str]
    """Resource group of the region."""
    location: str
    """Azure region."""
    wheel: Wheel
    """The booking wheel to upload."""
    private_endpoint_subnet_id: pulumi.Input[str]
    """Subnet of the blob private endpoint."""
    dns_zone_id: pulumi.Input[str]
    """The privatelink.blob.core.windows.net zone of the cell."""
    tags: dict[str, str]
    """Cell tags."""


class Release(pulumi.ComponentResource):
    """A locked-down storage account, a private `releases` container and the uploaded wheel.

    Attributes: `account`, `container`, `container_id`, `blob`, `wheel_url`, `sha256`.
    """

    def __init__(self, name: str, args: ReleaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slotstack:compute:Release", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.account = storage.StorageAccount(
            f"{name}-sa",
            account_name=args.account_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            kind="StorageV2",
            # The wheel can always be rebuilt from git; zone redundancy is enough.
            sku={"name": "Standard_ZRS"},
            minimum_tls_version="TLS1_2",
            enable_https_traffic_only=True,
            allow_blob_public_access=False,
            allow_shared_key_access=False,
            default_to_o_auth_authentication=True,
            public_network_access="Disabled",
            network_rule_set={"default_action": storage.DefaultAction.DENY, "bypass": "None"},
            tags=args.tags,
            opts=child,
        )
        self.container = storage.BlobContainer(
            f"{name}-container",
            container_name=CONTAINER,
            account_name=self.account.name,
            resource_group_name=args.resource_group_name,
            public_access=storage.PublicAccess.NONE,
            opts=child,
        )
        self.endpoint = private_endpoint(
            f"{name}-blob", target_id=self.account.id, group_id="blob", subnet_id=args.private_endpoint_subnet_id,
            dns_zone_id=args.dns_zone_id, resource_group_name=args.resource_group_name, location=args.location,
            tags=args.tags, parent=self)
        name_in_container = blob_name(args.wheel)
        self.blob = storage.Blob(
            f"{name}-wheel",
            blob_name=name_in_container,
            account_name=self.account.name,
            container_name=self.container.name,
            resource_group_name=args.resource_group_name,
            source=pulumi.FileAsset(str(args.wheel.path)),
            content_type="application/zip",
            metadata={"sha256": args.wheel.sha256, "version": args.wheel.version},
            opts=child,
        )
        self.container_id = self.container.id
        self.sha256 = args.wheel.sha256
        self.wheel_url: pulumi.Output[str] = pulumi.Output.concat(
            "https://", self.account.name, ".blob.core.windows.net/", CONTAINER, "/", name_in_container)
        self.register_outputs({"container_id": self.container_id, "wheel_url": self.wheel_url,
                               "sha256": self.sha256})
