"""The data tier under the mock engine, with stand-in ids for what engineer A's components provide.

Shared by the postgres, backup, images, policy and statement tests: `datatier(env)` is the part of
`Cell` that the lead wires in, with ARM-shaped stand-in ids instead of A's outputs, so these
components are planned and checked on their own for every committed environment.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable

import pulumi
import pytest

from infra.environment import Cell, Environment, load
from infra.mocks import ACCOUNT, SUBSCRIPTION, TENANT, Plan, evaluate
from infra.storage.backup import BackupStorage, BackupStorageArgs
from infra.storage.images import Images, ImagesArgs
from infra.storage.postgres import PostgresArgs, PostgresServer
from policy.rules.common import Resource

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
    """The cell tags A's infra/tags.py attaches (same five keys)."""
    return {"environment": env.name, "cell": cell.name, "residency": cell.residency,
            "data-classification": "customer-confidential", "managed-by": "pulumi"}


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


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_datatier_declares_every_part_for_every_cell(name: str) -> None:
    """The stand-in program plans all three components in each cell, each with the cell tags."""
    env = load(name)
    plan = datatier_plan(name)
    for cell in env.cells.values():
        types = {r.type for r in plan.resources if r.tags.get("cell") == cell.name}
        assert "azure-native:dbforpostgresql:Server" in types, f"{name}/{cell.name}: no PostgreSQL server"
        assert "azure-native:storage:StorageAccount" in types, f"{name}/{cell.name}: no backup account"
        assert "aws:s3/bucket:Bucket" in types, f"{name}/{cell.name}: no image bucket"


def as_resources(plan: Plan) -> list[Resource]:
    """The recorded plan as the policy pack sees a stack (AWS resources carry their provider's region)."""
    return [Resource(type=r.type, name=r.name, props=r.inputs, aws_region=plan.aws_region_of(r))
            for r in plan.resources]


def engineer_a_resources(env: Environment, cell: Cell) -> list[Resource]:
    """Hand-written inputs for the resources engineer A builds (gateway, WAF policy, scale set, vault),
    shaped as azure-native 3.x records them, so the policies about them are tested before the merge."""
    tags = tags_of(env, cell)
    region, group = cell.primary_region, group_of(env, cell, cell.primary_region)
    net = "Microsoft.Network"
    waf_id = arm(group, net, "ApplicationGatewayWebApplicationFirewallPolicies", f"waf-slot-{env.name}-{cell.name}")
    zones = ["1", "2", "3"]
    gateway = {
        "applicationGatewayName": f"agw-slot-{env.name}-{cell.name}", "resourceGroupName": group,
        "location": region, "tags": tags, "zones": zones, "sku": {"name": "WAF_v2", "tier": "WAF_v2"},
        "autoscaleConfiguration": {"minCapacity": 3 if env.is_prod else 2, "maxCapacity": 10},
        "firewallPolicy": {"id": waf_id}, "enableHttp2": True,
        "sslPolicy": {"policyType": "Predefined", "policyName": "AppGwSslPolicy20220101S"},
        "sslCertificates": [{"name": "tls", "keyVaultSecretId": f"https://kv-slot-{env.name}-{cell.name}"
                             ".vault.azure.net/secrets/tls"}],
        "probes": [{"name": "healthz", "protocol": "Http", "path": "/healthz", "interval": 15, "timeout": 10,
                    "unhealthyThreshold": 3}],
    }
    waf_policy = {
        "policyName": f"waf-slot-{env.name}-{cell.name}", "resourceGroupName": group, "location": region,
        "tags": tags,
        "policySettings": {"mode": "Prevention", "state": "Enabled", "requestBodyCheck": True,
                           "maxRequestBodySizeInKb": 128, "fileUploadLimitInMb": 100},
        "managedRules": {"managedRuleSets": [
            {"ruleSetType": "Microsoft_DefaultRuleSet", "ruleSetVersion": "2.1"},
            {"ruleSetType": "Microsoft_BotManagerRuleSet", "ruleSetVersion": "1.1"}]},
        "customRules": [{"name": "perclientrate", "priority": 10, "ruleType": "RateLimitRule", "action": "Block",
                         "rateLimitDuration": "OneMin", "rateLimitThreshold": 600,
                         "groupByUserSession": [{"groupByVariables": [{"variableName": "ClientAddr"}]}],
                         "matchConditions": [{"matchVariables": [{"variableName": "RequestUri"}],
                                              "operator": "Any", "matchValues": []}]}],
    }
    scale_set = {
        "vmScaleSetName": f"vmss-slot-{env.name}-{cell.name}", "resourceGroupName": group, "location": region,
        "tags": tags, "zones": zones, "orchestrationMode": "Flexible", "platformFaultDomainCount": 1,
        "sku": {"name": cell.fleet.vm_size, "capacity": cell.fleet.min},
        "virtualMachineProfile": {
            "osProfile": {"computerNamePrefix": "app", "adminUsername": "slotadmin",
                          "customData": "I2Nsb3VkLWNvbmZpZw==",
                          "linuxConfiguration": {"disablePasswordAuthentication": True, "ssh": {"publicKeys": [
                              {"path": "/home/slotadmin/.ssh/authorized_keys", "keyData": "ssh-ed25519 AAAAC3Nz"}]}}},
            "securityProfile": {"encryptionAtHost": True, "securityType": "TrustedLaunch",
                                "uefiSettings": {"secureBootEnabled": True, "vTpmEnabled": True}},
        },
    }
    vault = {
        "vaultName": f"kv-slot-{env.name}-{cell.name}", "resourceGroupName": group, "location": region, "tags": tags,
        "properties": {"tenantId": TENANT, "sku": {"family": "A", "name": "standard"},
                       "enableRbacAuthorization": True, "enablePurgeProtection": True, "enableSoftDelete": True,
                       "softDeleteRetentionInDays": 90, "publicNetworkAccess": "Disabled",
                       "networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"}},
    }
    return [Resource("azure-native:network:ApplicationGateway", f"{cell.name}-gateway", gateway),
            Resource("azure-native:network:WebApplicationFirewallPolicy", f"{cell.name}-waf", waf_policy),
            Resource("azure-native:compute:VirtualMachineScaleSet", f"{cell.name}-fleet", scale_set),
            Resource("azure-native:keyvault:Vault", f"{cell.name}-vault", vault)]


def stack_of(name: str) -> list[Resource]:
    """Everything a policy sees for environment `name`: B's recorded components plus A's hand-written ones."""
    env = load(name)
    resources = as_resources(datatier_plan(name))
    for cell in env.cells.values():
        resources += engineer_a_resources(env, cell)
    return resources
