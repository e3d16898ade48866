"""Every validator of the policy pack: passes on realistic inputs, fails with the right message on a mutation.

Realistic inputs are the program's own resources as the mock engine recorded them for each committed
environment (the session's shared plans), so a guardrail and the program cannot drift apart.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from infra.mocks import Plan
from policy.pack import RESOURCE_RULES, STACK_RULES
from policy.rules import (
    encryption_at_host,
    ha,
    keyvault,
    postgres_backup,
    postgres_tls,
    public_access,
    residency,
    s3_public_access,
    tls,
    vm_auth,
    waf,
)
from policy.rules.common import Resource
from tests.plans import ENVIRONMENTS, as_resources


@pytest.fixture(scope="module")
def stacks(plan_of: Callable[[str], Plan]) -> dict[str, list[Resource]]:
    """What the policy pack sees of each committed environment: the program's own planned resources."""
    return {name: as_resources(plan_of(name)) for name in ENVIRONMENTS}


@pytest.mark.parametrize("name", ENVIRONMENTS)
@pytest.mark.parametrize("rule", RESOURCE_RULES, ids=lambda r: r.NAME)
def test_resource_rule_passes_on_the_programs_resources(stacks: dict[str, list[Resource]], name: str,
                                                        rule: Any) -> None:
    found = [f"{r.name}: {m}" for r in stacks[name] for m in rule.check(r.type, r.props)]
    assert not found, f"{name}: {rule.NAME} rejects the program's own resources: {found}"


@pytest.mark.parametrize("name", ENVIRONMENTS)
@pytest.mark.parametrize("rule", STACK_RULES, ids=lambda r: r.NAME)
def test_stack_rule_passes_on_the_programs_resources(stacks: dict[str, list[Resource]], name: str,
                                                     rule: Any) -> None:
    assert rule.check_stack(stacks[name]) == [], f"{name}: {rule.NAME} rejects the program's own stack"


def test_every_rule_applies_to_something(stacks: dict[str, list[Resource]]) -> None:
    """A validator that never sees its resource type would pass vacuously: each must see its targets."""
    types = {r.type for r in stacks["prod"]}
    targets = {waf: waf.GATEWAY, tls: "azure-native:storage:StorageAccount", keyvault: keyvault.VAULT,
               public_access: "azure-native:dbforpostgresql:Server", postgres_backup: postgres_backup.SERVER,
               ha: "azure-native:compute:VirtualMachineScaleSet", vm_auth: vm_auth.SCALE_SET,
               encryption_at_host: "azure-native:compute:VirtualMachineScaleSet", postgres_tls: postgres_tls.SERVER,
               s3_public_access: s3_public_access.BLOCK}
    for rule, type_ in targets.items():
        assert type_ in types, f"{rule.NAME}: prod has no {type_} to validate"


def _first(stack: list[Resource], type_: str, where: Callable[[Resource], bool] = lambda r: True) -> Resource:
    return next(r for r in stack if r.type == type_ and where(r))


def _mutated(resource: Resource, path: str, value: Any) -> Resource:
    props = copy.deepcopy(dict(resource.props))
    target = props
    steps = path.split(".")
    for step in steps[:-1]:
        target = target.setdefault(step, {})
    if value is _DELETE:
        target.pop(steps[-1], None)
    else:
        target[steps[-1]] = value
    return dataclasses.replace(resource, props=props)


class _Delete:
    """Marks a property to remove; a stable repr keeps test ids identical across xdist workers."""

    def __repr__(self) -> str:
        return "<deleted>"


_DELETE = _Delete()
PG = "azure-native:dbforpostgresql:Server"
PRIMARY: Callable[[Resource], bool] = lambda r: r.props.get("createMode") == "Create"  # noqa: E731

# (rule, type, which resource, path, new value, expected words in the message)
MUTATIONS: list[tuple[Any, str, Callable[[Resource], bool], str, Any, str]] = [
    (waf, waf.WAF_POLICY, lambda r: True, "policySettings.mode", "Detection",
     "policySettings.mode is 'Detection': Detection only logs attacks; set mode to Prevention"),
    (waf, waf.WAF_POLICY, lambda r: True, "policySettings.state", "Disabled", "set state Enabled"),
    (waf, waf.WAF_POLICY, lambda r: True, "policySettings.requestBodyCheck", False, "request-body inspection"),
    (waf, waf.WAF_POLICY, lambda r: True, "managedRules.managedRuleSets",
     [{"ruleSetType": "Microsoft_DefaultRuleSet", "ruleSetVersion": "2.1"}],
     "Microsoft_BotManagerRuleSet is missing"),
    (waf, waf.WAF_POLICY, lambda r: True, "managedRules.managedRuleSets",
     [{"ruleSetType": "Microsoft_DefaultRuleSet", "ruleSetVersion": "1.0"},
      {"ruleSetType": "Microsoft_BotManagerRuleSet", "ruleSetVersion": "1.1"}], "version '1.0' is older than 2.1"),
    (waf, waf.GATEWAY, lambda r: True, "firewallPolicy", _DELETE, "no WAF policy is attached"),
    (waf, waf.GATEWAY, lambda r: True, "sku", {"name": "Standard_v2", "tier": "Standard_v2"},
     "sku.tier is 'Standard_v2'"),
    (tls, waf.GATEWAY, lambda r: True, "sslPolicy",
     {"policyType": "Predefined", "policyName": "AppGwSslPolicy20150501"}, "clients could negotiate TLS below 1.2"),
    (tls, waf.GATEWAY, lambda r: True, "sslPolicy", _DELETE, "the service default (TLS 1.0)"),
    (tls, "azure-native:storage:StorageAccount", lambda r: True, "minimumTlsVersion", "TLS1_0",
     "minimumTlsVersion is 'TLS1_0': set it to TLS1_2"),
    (tls, "azure-native:storage:StorageAccount", lambda r: True, "enableHttpsTrafficOnly", False,
     "plain HTTP reaches the account"),
    (tls, "azure-native:dbforpostgresql:Configuration", lambda r: r.props["configurationName"] ==
     "ssl_min_protocol_version", "value", "TLSv1", "ssl_min_protocol_version is 'TLSv1': set it to TLSv1.2"),
    (tls, "azure-native:dbforpostgresql:Configuration", lambda r: r.props["configurationName"] ==
     "require_secure_transport", "value", "off", "unencrypted connections would be accepted"),
    (tls, "aws:cloudfront/distribution:Distribution", lambda r: r.name == "us-images-cdn",
     "viewerCertificate.minimumProtocolVersion", "TLSv1", "minimumProtocolVersion is 'TLSv1'"),
    (tls, "aws:cloudfront/distribution:Distribution", lambda r: True,
     "defaultCacheBehavior.viewerProtocolPolicy", "allow-all", "served over plain HTTP"),
    (public_access, PG, lambda r: True, "network.publicNetworkAccess", "Enabled",
     "the database would be reachable from the Internet"),
    (public_access, "azure-native:keyvault:Vault", lambda r: True, "properties.publicNetworkAccess", "Enabled",
     "secrets would be reachable from the Internet"),
    (public_access, "azure-native:storage:StorageAccount", lambda r: True, "publicNetworkAccess", "Enabled",
     "the account would be reachable from the Internet"),
    (public_access, "azure-native:storage:StorageAccount", lambda r: True, "allowBlobPublicAccess", True,
     "anonymous-readable"),
    (public_access, "azure-native:storage:BlobContainer", lambda r: True, "publicAccess", "Blob",
     "anyone could read the container"),
    (postgres_backup, PG, PRIMARY, "backup.backupRetentionDays", 7,
     "backup.backupRetentionDays is 7: a restore must reach back at least 30 days"),
    (postgres_backup, PG, PRIMARY, "backup.geoRedundantBackup", "Disabled", "set it to Enabled"),
    (ha, PG, PRIMARY, "highAvailability", {"mode": "Disabled"},
     "highAvailability.mode is 'Disabled': a zone outage would stop the database"),
    (ha, "azure-native:compute:VirtualMachineScaleSet", lambda r: True, "zones", ["1"], "spread over zones"),
    (ha, waf.GATEWAY, lambda r: True, "zones", _DELETE, "zones is []"),
    (keyvault, keyvault.VAULT, lambda r: True, "properties.enablePurgeProtection", False,
     "enablePurgeProtection is not true"),
    (keyvault, keyvault.VAULT, lambda r: True, "properties.enableRbacAuthorization", False,
     "access policies bypass Azure RBAC"),
    (keyvault, keyvault.VAULT, lambda r: True, "properties.softDeleteRetentionInDays", 7,
     "softDeleteRetentionInDays is 7"),
    (vm_auth, vm_auth.SCALE_SET, lambda r: True,
     "virtualMachineProfile.osProfile.linuxConfiguration.disablePasswordAuthentication", False,
     "disablePasswordAuthentication is not true"),
    (vm_auth, vm_auth.SCALE_SET, lambda r: True, "virtualMachineProfile.osProfile.adminPassword", "hunter2",
     "adminPassword is set"),
    (encryption_at_host, "azure-native:compute:VirtualMachineScaleSet", lambda r: True,
     "virtualMachineProfile.securityProfile.encryptionAtHost", False, "encryptionAtHost is not true"),
]


@pytest.mark.parametrize(("rule", "type_", "where", "path", "value", "expected"), MUTATIONS,
                         ids=[f"{m[0].NAME}:{m[3]}={m[4]!r}"[:90] for m in MUTATIONS])
def test_resource_rule_fails_on_a_mutated_copy(stacks: dict[str, list[Resource]], rule: Any, type_: str,
                                               where: Callable[[Resource], bool], path: str, value: Any,
                                               expected: str) -> None:
    original = _first(stacks["prod"], type_, where)
    assert rule.check(original.type, original.props) == [], f"{rule.NAME}: the original must pass"
    mutated = _mutated(original, path, value)
    messages = rule.check(mutated.type, mutated.props)
    assert any(expected in m for m in messages), f"{rule.NAME} on {path}={value!r}: got {messages}"


def test_backup_retention_is_not_enforced_on_dev_but_is_on_untagged(stacks: dict[str, list[Resource]]) -> None:
    dev = _first(stacks["dev"], PG, PRIMARY)
    assert dev.props["backup"]["backupRetentionDays"] == 7
    assert postgres_backup.check(dev.type, dev.props) == [], "dev is exempt (synthetic tenants)"
    untagged = _mutated(dev, "tags", {})
    assert postgres_backup.check(untagged.type, untagged.props), "a missing environment tag must not exempt"


def test_ha_applies_to_prod_only(stacks: dict[str, list[Resource]]) -> None:
    staging = _first(stacks["staging"], PG, PRIMARY)
    assert staging.props["highAvailability"]["mode"] == "Disabled"
    assert ha.check(staging.type, staging.props) == []
    as_prod = _mutated(staging, "tags.environment", "prod")
    assert ha.check(as_prod.type, as_prod.props)


def _findings(rule: Any, stack: list[Resource]) -> list[str]:
    return [f"{f.resource}: {f.message}" for f in rule.check_stack(stack)]


def _replace(stack: list[Resource], name: str, change: Callable[[Resource], Resource]) -> list[Resource]:
    return [change(r) if r.name == name else r for r in stack]


def test_residency_rejects_a_bucket_in_the_wrong_region(stacks: dict[str, list[Resource]]) -> None:
    stack = _replace(stacks["prod"], "eu-images-bucket", lambda r: dataclasses.replace(r, aws_region="eu-west-2"))
    assert _findings(residency, stack) == [
        "eu-images-bucket: tenant images: eu-west-2 (United Kingdom) is outside residency eu (European Union); "
        "allowed: eu-central-1, eu-west-1, eu-west-3, eu-north-1"]


def test_residency_rejects_a_bucket_on_the_default_provider(stacks: dict[str, list[Resource]]) -> None:
    stack = _replace(stacks["prod"], "au-images-bucket", lambda r: dataclasses.replace(r, aws_region=None))
    found = _findings(residency, stack)
    assert len(found) == 1
    assert "uses the default AWS provider; give it the cell's explicit provider" in found[0]


def test_residency_rejects_a_replica_outside_the_geography(stacks: dict[str, list[Resource]]) -> None:
    stack = _replace(stacks["prod"], "eu-pg-replica", lambda r: _mutated(r, "location", "uksouth"))
    found = _findings(residency, stack)
    assert found == ["eu-pg-replica: tenant database (bookings, customers): uksouth (United Kingdom) is outside "
                     "residency eu (European Union); allowed: westeurope, northeurope, germanywestcentral, "
                     "germanynorth, francecentral, francesouth, swedencentral, swedensouth"]


def test_residency_rejects_an_untagged_data_resource(stacks: dict[str, list[Resource]]) -> None:
    stack = _replace(stacks["prod"], "us-backup-account", lambda r: _mutated(r, "tags", {}))
    assert _findings(residency, stack) == [
        "us-backup-account: blob storage (database backups, exports, app releases): no valid residency tag "
        "(None): tag it with its cell's residency (us, eu, au)"]


def test_residency_follows_the_geo_backup_to_the_pair(stacks: dict[str, list[Resource]]) -> None:
    """A server moved to a region whose pair is unknown in its geography fails for its geo copy too."""
    stack = _replace(stacks["prod"], "us-pg-server", lambda r: _mutated(r, "location", "westus3"))
    found = _findings(residency, stack)
    assert any("westus3 (United States) is outside residency us" in f for f in found), found


def test_residency_does_not_judge_exempt_global_resources(stacks: dict[str, list[Resource]]) -> None:
    cdn = _first(stacks["prod"], "aws:cloudfront/distribution:Distribution")
    stack = _replace(stacks["prod"], cdn.name, lambda r: dataclasses.replace(r, aws_region="us-east-1"))
    assert _findings(residency, stack) == []


def test_postgres_tls_requires_the_parameters_on_every_server(stacks: dict[str, list[Resource]]) -> None:
    replica = _first(stacks["staging"], PG, lambda r: r.name == "eu-pg-replica").props["serverName"]
    stack = [r for r in stacks["staging"] if not (r.type == postgres_tls.CONFIGURATION
                                                  and r.props["serverName"] == replica
                                                  and r.props["configurationName"] == "ssl_min_protocol_version")]
    assert _findings(postgres_tls, stack) == [
        f"eu-pg-replica: server {replica} does not set ssl_min_protocol_version: it would "
        "accept connections without TLS 1.2; add a dbforpostgresql.Configuration for each"]


def test_s3_public_access_block_must_be_complete(stacks: dict[str, list[Resource]]) -> None:
    stack = _replace(stacks["prod"], "us-images-public-access-block",
                     lambda r: _mutated(r, "restrictPublicBuckets", False))
    found = _findings(s3_public_access, stack)
    assert found[0] == ("us-images-public-access-block: restrictPublicBuckets not true: the bucket could be made "
                        "public by an ACL or a policy; set all four flags to true")
    bucket = _first(stacks["prod"], "aws:s3/bucket:Bucket", lambda r: r.name == "us-images-bucket").props["bucket"]
    assert found[1].startswith(f"us-images-bucket: bucket {bucket} has no complete public access")


def test_s3_bucket_without_a_block_fails(stacks: dict[str, list[Resource]]) -> None:
    stack = [r for r in stacks["dev"] if r.name != "us-images-public-access-block"]
    bucket = _first(stack, "aws:s3/bucket:Bucket", lambda r: r.name == "us-images-bucket").props["bucket"]
    assert _findings(s3_public_access, stack) == [
        f"us-images-bucket: bucket {bucket} has no complete public access block: add an "
        "aws.s3.BucketPublicAccessBlock with all four flags true"]
