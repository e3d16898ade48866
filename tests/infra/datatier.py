"""The data-tier components (PostgreSQL, backup storage, images) planned on their own, for component tests.

Not a test module: the postgres, backup and images tests build each component with ARM-shaped ids in
place of the rest of the cell, to check what only a component test can (an injected clock, one part at
a time). How the program wires them is checked on the real plan (tests/plans.py).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable

import pulumi

from infra.environment import Cell, Environment, load
from infra.mocks import ACCOUNT, SUBSCRIPTION, TENANT, Plan, evaluate
from infra.storage.backup import BackupStorage, BackupStorageArgs
from infra.storage.images import Images, ImagesArgs
from infra.storage.postgres import PostgresArgs, PostgresServer
from infra.tags import cell_tags

ENVIRONMENTS = ("dev", "staging", "prod")
# A fixed clock (2026-11-27T00:00:00Z) so that rotation windows and expiries are reproducible.
NOW = 1_795_737_600.0
OIDC_ISSUER = f"https://login.microsoftonline.com/{TENANT}/v2.0"
OIDC_AUDIENCE = "api://AzureADTokenExchange"
OIDC_PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/login.microsoftonline.com/{TENANT}/v2.0"


def principal_of(cell: Cell) -> str:
    """Stand-in object id of the cell's managed identity."""
    return f"principal-{cell.name}"


def arm(group: str, provider: str, kind: str, name: str) -> str:
    """A stand-in ARM id shaped like the real one."""
    return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/{provider}/{kind}/{name}"


def tags_of(env: Environment, cell: Cell) -> dict[str, str]:
    """The cell tags the program attaches (infra/tags.py), not a copy of them."""
    return cell_tags(env.name, cell)


def group_of(env: Environment, cell: Cell, region: str) -> str:
    return f"rg-slot-{env.name}-{cell.name}-{region}"


def postgres(env: Environment, cell: Cell, *, clock: Callable[[], float] = lambda: NOW,
             opts: pulumi.ResourceOptions | None = None) -> PostgresServer:
    primary = group_of(env, cell, cell.primary_region)
    secondary = group_of(env, cell, cell.secondary_region)
    net = "Microsoft.Network"
    return PostgresServer(f"{cell.name}-pg", PostgresArgs(
        cell=cell, server_name=f"psql-slot-{env.name}-{cell.name}", resource_group_name=primary,
        delegated_subnet_id=arm(primary, net, "virtualNetworks", f"vnet-{cell.primary_region}/subnets/db"),
        private_dns_zone_id=arm(primary, net, "privateDnsZones", "privatelink.postgres.database.azure.com"),
        key_vault_id=arm(primary, "Microsoft.KeyVault", "vaults", f"kv-slot-{env.name}-{cell.name}"),
        tags=tags_of(env, cell), entra_admin_object_id="22222222-2222-2222-2222-222222222222",
        entra_admin_principal_name="slotstack-dba", tenant_id=TENANT,
        replica_resource_group_name=secondary,
        replica_subnet_id=arm(secondary, net, "virtualNetworks", f"vnet-{cell.secondary_region}/subnets/db"),
        clock=clock), opts)


def backup(env: Environment, cell: Cell) -> BackupStorage:
    primary = group_of(env, cell, cell.primary_region)
    net = "Microsoft.Network"
    return BackupStorage(f"{cell.name}-backup", BackupStorageArgs(
        cell=cell, account_name=f"stslot{env.name}{cell.name}bk", resource_group_name=primary,
        private_endpoint_subnet_id=arm(primary, net, "virtualNetworks", f"vnet-{cell.primary_region}/subnets/pe"),
        private_dns_zone_id=arm(primary, net, "privateDnsZones", "privatelink.blob.core.windows.net"),
        tags=tags_of(env, cell)))


def images(env: Environment, cell: Cell) -> Images:
    return Images(f"{cell.name}-images", ImagesArgs(
        cell=cell, bucket_name=f"slotstack-{env.name}-{cell.name}-images", tags=tags_of(env, cell),
        oidc_provider_arn=OIDC_PROVIDER_ARN, oidc_issuer_url=OIDC_ISSUER, oidc_audience=OIDC_AUDIENCE,
        identity_principal_id=principal_of(cell)))


def datatier(env: Environment, parts: tuple[Callable[[Environment, Cell], pulumi.Resource], ...]
             ) -> Callable[[], None]:
    """A Pulumi program that declares `parts` for every cell of `env`."""
    def program() -> None:
        for cell in env.cells.values():
            for part in parts:
                part(env, cell)
    return program


ALL_PARTS = (postgres, backup, images)


@functools.cache
def _plan(name: str, parts: tuple[Callable[[Environment, Cell], pulumi.Resource], ...]) -> Plan:
    return evaluate(name, datatier(load(name), parts))


def datatier_plan(name: str, parts: tuple[Callable[[Environment, Cell], pulumi.Resource], ...] = ALL_PARTS) -> Plan:
    """The recorded plan of environment `name` (evaluated once per session; callers get a copy)."""
    return copy.deepcopy(_plan(name, parts))
