"""PostgreSQL Flexible Server of a cell: the primary, its settings, and the cross-region read replica.

The primary lives in the cell's primary region with private access only (a delegated subnet and a
private DNS zone; no public endpoint), TLS 1.2+, Entra and password authentication. The admin
password is generated here and written only to the cell's Key Vault: it is never a stack output.

Failover (`active_region: secondary`) promotes the replica through the `replica` property of the
server, which azure-native 3.x exposes as `ReplicaArgs(role, promote_mode, promote_option)`.
What the resource model cannot express, and the failover runbook therefore does by hand:
- promotion is one-way and write-only: Azure never reports `promoteMode` back, so a refresh shows a
  diff until the property is dropped, and flipping `active_region` back to `primary` does NOT
  demote the promoted server nor recreate a replica; rebuilding the pair is a new replica
  (replace the old primary, then switch back) and is a runbook step, not a config flip;
- "wait until the replica has caught up" before a planned move: the engine cannot wait on replica
  lag; check the replica-lag alert first, or promote with `Forced` and accept the lag as RPO;
- `Switchover` (swap roles) needs virtual endpoints and a reachable primary, which a regional outage
  does not give us, so we promote to a standalone server.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pulumi
import pulumi_random as random
from pulumi import Input, Output, ResourceOptions
from pulumi_azure_native import dbforpostgresql, keyvault

from infra.environment import Cell
from infra.provider import regions

# Server parameters every server of ours carries (primary and replica): TLS only, and the
# connection logging an incident review needs.
SERVER_PARAMETERS: tuple[tuple[str, str], ...] = (
    ("require_secure_transport", "on"),
    ("ssl_min_protocol_version", "TLSv1.2"),
    ("log_connections", "on"),
    ("log_checkpoints", "on"),
    ("connection_throttle.enable", "on"),
    # Azure refuses CREATE EXTENSION for anything not allow-listed here; the bookings' exclusion constraint
    # (tenant, staff, time range) needs btree_gist (app/booking/migrations/versions/0001_initial.py)
    ("azure.extensions", "BTREE_GIST"),
)
# Properties Azure only honours when a replica is created; changing them later would either be
# rejected or replace the replica, so later updates ignore them.
REPLICA_CREATE_TIME = ["createMode", "sourceServerResourceId", "administratorLogin",
                       "administratorLoginPassword", "version", "availabilityZone"]
ADMIN_LOGIN = "slotstack_admin"
PROMOTE_OPTIONS = ("Forced", "Planned")
DATABASE = "booking"
SECONDS_PER_DAY = 86_400


@dataclass
class PostgresArgs:
    """Inputs of a cell's PostgreSQL servers; ids of other components come in as stand-alone Inputs."""

    cell: Cell
    """The environment's cell: regions, database SKU/tier/version/HA/retention/replica, active region."""
    server_name: str
    """Globally unique name of the primary server (the replica is `<server_name>-replica`)."""
    resource_group_name: Input[str]
    """Resource group of the primary region."""
    delegated_subnet_id: Input[str]
    """Primary-region subnet delegated to Microsoft.DBforPostgreSQL/flexibleServers."""
    private_dns_zone_id: Input[str]
    """Id of the private DNS zone privatelink.postgres.database.azure.com linked to both VNets."""
    key_vault_id: Input[str]
    """Id of the cell's Key Vault; the generated admin password is stored there and nowhere else."""
    tags: dict[str, str]
    """The cell tags (environment, cell, residency, data-classification, managed-by)."""
    entra_admin_object_id: Input[str]
    """Object id of the Entra principal that administers the server (a DBA group or the service identity)."""
    entra_admin_principal_name: Input[str]
    """Display name of that principal."""
    tenant_id: Input[str]
    """Entra tenant of the server's Entra authentication and admin."""
    entra_admin_principal_type: str = "Group"
    """Group, User or ServicePrincipal."""
    replica_resource_group_name: Input[str] | None = None
    """Resource group of the secondary region; required when the cell has a replica."""
    replica_subnet_id: Input[str] | None = None
    """Secondary-region delegated subnet; required when the cell has a replica."""
    password_rotation_days: int = 90
    """The admin password is regenerated in the first deployment after each such window."""
    promote_option: str = "Forced"
    """How failover promotes the replica: Forced (region outage; lag becomes RPO) or Planned (waits)."""
    clock: Callable[[], float] = field(default=time.time)
    """Seconds since the epoch; injected so rotation windows are reproducible in tests."""


def _vault_parts(vault_id: str) -> tuple[str, str]:
    """(resource group, vault name) of an ARM Key Vault id."""
    parts = vault_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    try:
        group = parts[lowered.index("resourcegroups") + 1]
        name = parts[-1]
    except (ValueError, IndexError):
        raise ValueError(f"key_vault_id {vault_id!r} is not an ARM id like "
                         "/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.KeyVault/vaults/<name>"
                         ) from None
    return group, name


class PostgresServer(pulumi.ComponentResource):
    """A cell's PostgreSQL Flexible Server, its `booking` database and (optionally) a geo read replica."""

    server: dbforpostgresql.Server
    replica: dbforpostgresql.Server | None
    admin_secret: keyvault.Secret
    admin_password: random.RandomPassword
    """The generated admin password (ADMIN_LOGIN's); the service's owner URL is built from it."""
    secret_expires: datetime
    """Expiry of the admin password's secret: secrets built from it (or kept beside it) expire with it."""

    def __init__(self, name: str, args: PostgresArgs, opts: ResourceOptions | None = None) -> None:
        if args.promote_option not in PROMOTE_OPTIONS:
            raise ValueError(f"PostgresArgs.promote_option {args.promote_option!r} is not one of "
                             f"{', '.join(PROMOTE_OPTIONS)} (Forced: promote now, lag becomes RPO; Planned: wait "
                             "for the replica to catch up)")
        super().__init__("slotstack:storage:PostgresServer", name, None, opts)
        cell, db = args.cell, args.cell.database
        child = ResourceOptions(parent=self)
        tenant = args.tenant_id

        period = max(1, args.password_rotation_days) * SECONDS_PER_DAY
        window = int(args.clock()) // period
        password = random.RandomPassword(
            f"{name}-admin-password", length=32, special=True, override_special="!#%*-_=+",
            min_lower=2, min_upper=2, min_numeric=2, min_special=2,
            # A new window replaces the password; the server and the secret follow it.
            keepers={"rotation-window": str(window)}, opts=child)
        # Valid through the next window too, so a deployment skipped for one window does not lock
        # the service out.
        expires = (window + 2) * period
        self.admin_password = password
        self.secret_expires = datetime.fromtimestamp(expires, tz=UTC)

        ha = (dbforpostgresql.HighAvailabilityArgs(mode=db.ha, standby_availability_zone="2")
              if db.ha == "ZoneRedundant" else dbforpostgresql.HighAvailabilityArgs(mode=db.ha))
        self.server = dbforpostgresql.Server(
            f"{name}-server", server_name=args.server_name, resource_group_name=args.resource_group_name,
            location=cell.primary_region, version=db.version, tags=args.tags,
            sku=dbforpostgresql.SkuArgs(name=db.sku, tier=db.tier),
            storage=dbforpostgresql.StorageArgs(storage_size_gb=db.storage_gb, auto_grow="Enabled"),
            # Pinned to a zone only where the region has zones (validation keeps primaries zoned).
            availability_zone="1" if regions.has_zones(cell.primary_region) else None, high_availability=ha,
            backup=dbforpostgresql.BackupArgs(
                backup_retention_days=db.backup_retention_days,
                geo_redundant_backup="Enabled" if db.geo_redundant_backup else "Disabled"),
            network=dbforpostgresql.NetworkArgs(
                delegated_subnet_resource_id=args.delegated_subnet_id,
                private_dns_zone_arm_resource_id=args.private_dns_zone_id,
                public_network_access="Disabled"),
            auth_config=dbforpostgresql.AuthConfigArgs(
                active_directory_auth="Enabled", password_auth="Enabled", tenant_id=tenant),  # noqa: S106
            administrator_login=ADMIN_LOGIN, administrator_login_password=password.result,
            create_mode="Create", opts=child)

        vault = Output.from_input(args.key_vault_id).apply(_vault_parts)
        self.admin_secret = keyvault.Secret(
            f"{name}-admin-secret", resource_group_name=vault[0], vault_name=vault[1],
            secret_name=f"{args.server_name}-admin-password", tags=args.tags,
            properties=keyvault.SecretPropertiesArgs(
                value=password.result,
                content_type=f"text/plain; postgresql-admin-password; login={ADMIN_LOGIN}",
                attributes=keyvault.SecretAttributesArgs(enabled=True, expires=expires)),
            opts=child)

        # Children name the server by its literal name (known at preview, unlike the `name` output) so
        # that the policy pack can match them to it. Azure runs one operation per server at a time and
        # fails the others ("ServerIsBusy"), so every child waits for the previous one.
        configured = self._parameters(f"{name}-server", self.server, args.server_name, args.resource_group_name)
        self.entra_admin = dbforpostgresql.AdministratorsMicrosoftEntra(
            f"{name}-entra-admin", resource_group_name=args.resource_group_name, server_name=args.server_name,
            object_id=args.entra_admin_object_id, principal_name=args.entra_admin_principal_name,
            principal_type=args.entra_admin_principal_type, tenant_id=tenant,
            opts=ResourceOptions(parent=self, depends_on=[configured]))
        self.database = dbforpostgresql.Database(
            f"{name}-db-{DATABASE}", resource_group_name=args.resource_group_name, server_name=args.server_name,
            database_name=DATABASE, charset="UTF8", collation="en_US.utf8",
            opts=ResourceOptions(parent=self, depends_on=[self.entra_admin]))

        self.replica = self._replica(name, args) if db.replica else None
        outputs: dict[str, object] = {
            "server_id": self.server.id, "server_name": self.server.name,
            "fqdn": self.server.fully_qualified_domain_name, "admin_secret_id": self.admin_secret.id,
            "database": DATABASE,
        }
        if self.replica is not None:
            outputs.update(replica_id=self.replica.id, replica_fqdn=self.replica.fully_qualified_domain_name)
        self.register_outputs(outputs)

    def _parameters(self, prefix: str, server: dbforpostgresql.Server, server_name: str, group: Input[str]
                    ) -> pulumi.Resource:
        """Declare SERVER_PARAMETERS one after the other; return the last one."""
        previous: pulumi.Resource = server
        for key, value in SERVER_PARAMETERS:
            previous = dbforpostgresql.Configuration(
                f"{prefix}-{key.replace('_', '-').replace('.', '-')}", resource_group_name=group,
                server_name=server_name, configuration_name=key, value=value, source="user-override",
                opts=ResourceOptions(parent=self, depends_on=[previous]))
        return previous

    def _replica(self, name: str, args: PostgresArgs) -> dbforpostgresql.Server:
        cell, db = args.cell, args.cell.database
        if args.replica_resource_group_name is None or args.replica_subnet_id is None:
            raise ValueError(f"cells.{cell.name}.database.replica is true, so PostgresArgs needs "
                             "replica_resource_group_name and replica_subnet_id of the secondary region "
                             f"({cell.secondary_region})")
        promote = None
        if cell.active_region == "secondary":
            # Failover: the replica leaves replication and takes writes (see the module docstring).
            promote = dbforpostgresql.ReplicaArgs(role="None", promote_mode="Standalone",
                                                  promote_option=args.promote_option)
        replica_name = f"{args.server_name}-replica"
        replica = dbforpostgresql.Server(
            f"{name}-replica", server_name=replica_name,
            resource_group_name=args.replica_resource_group_name, location=cell.secondary_region,
            create_mode="Replica", source_server_resource_id=self.server.id, tags=args.tags,
            sku=dbforpostgresql.SkuArgs(name=db.sku, tier=db.tier),
            storage=dbforpostgresql.StorageArgs(storage_size_gb=db.storage_gb, auto_grow="Enabled"),
            # Azure does not support HA on a read replica.
            high_availability=dbforpostgresql.HighAvailabilityArgs(mode="Disabled"),
            network=dbforpostgresql.NetworkArgs(
                delegated_subnet_resource_id=args.replica_subnet_id,
                private_dns_zone_arm_resource_id=args.private_dns_zone_id,
                public_network_access="Disabled"),
            replica=promote,
            # Created from the finished primary: its own operations would make the replica's fail.
            opts=ResourceOptions(parent=self, depends_on=[self.database],
                                 ignore_changes=REPLICA_CREATE_TIME))
        self._parameters(f"{name}-replica", replica, replica_name, args.replica_resource_group_name)
        return replica
