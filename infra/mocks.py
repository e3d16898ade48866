"""Run the Pulumi program offline with Pulumi's mock engine and record every resource.

Used by the tests and by `slotstack plan`: no Pulumi CLI, no plugins, no cloud credentials. The
mock engine hands back each resource's inputs as its outputs plus a plausible ARM/AWS id, so the
whole program evaluates and every declared resource can be inspected.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs, Mocks
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
TENANT = "11111111-1111-1111-1111-111111111111"
ACCOUNT = "123456789012"


@dataclass
class Recorded:
    """One resource as the program declared it."""

    type: str
    name: str
    inputs: dict[str, Any]
    provider: str | None
    id: str
    urn: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    """What the mock engine handed back (inputs plus computed values such as ids and addresses)."""

    @property
    def location(self) -> str | None:
        """The Azure location of a resource, if it has one ("global" counts)."""
        value = self.inputs.get("location")
        return value if isinstance(value, str) else None

    @property
    def tags(self) -> dict[str, str]:
        value = self.inputs.get("tags")
        return value if isinstance(value, dict) else {}


@dataclass
class Plan:
    """Everything the program declared, in declaration order."""

    stack: str
    resources: list[Recorded] = field(default_factory=list)
    providers: dict[str, Recorded] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def of_type(self, type_: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> Recorded:
        for resource in self.resources:
            if resource.name == name:
                return resource
        raise KeyError(f"no resource named {name!r}; names: {[r.name for r in self.resources]}")

    def aws_region_of(self, resource: Recorded) -> str | None:
        """The region of the explicit AWS provider a resource uses (None for the default provider)."""
        if not resource.provider:
            return None
        # A provider reference is "<provider urn>::<provider id>"; the urn ends with "::<name>".
        urn = resource.provider.rsplit("::", 1)[0]
        provider = self.providers.get(urn.rsplit("::", 1)[-1])
        region = provider.inputs.get("region") if provider else None
        return region if isinstance(region, str) else None


def _arm_id(args: MockResourceArgs, name: str) -> str:
    """A plausible Azure Resource Manager id, so that ids compose like real ones."""
    _, module, kind = [*args.typ.split(":"), "", ""][:3]
    group = args.inputs.get("resourceGroupName", "rg")
    return (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/"
            f"Microsoft.{module.capitalize()}/{kind[0].lower() + kind[1:] if kind else 'resource'}s/{name}")


class RecordingMocks(Mocks):
    """Mocks that echo inputs as outputs and remember every resource."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self._lock = threading.Lock()

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        outputs: dict[str, Any] = dict(args.inputs)
        typ = args.typ
        name = args.name
        if typ.startswith("azure-native:"):
            physical = _azure_name(args)
            outputs.setdefault("name", physical)
            resource_id = _arm_id(args, physical)
            outputs.setdefault("id", resource_id)
            if typ == "azure-native:keyvault:Vault":
                outputs["properties"] = {**dict(args.inputs.get("properties") or {}),
                                         "vaultUri": f"https://{physical}.vault.azure.net/"}
            if typ == "azure-native:managedidentity:UserAssignedIdentity":
                outputs.update(principalId=f"principal-{name}", clientId=f"client-{name}", tenantId=TENANT)
            if typ == "azure-native:storage:StorageAccount":
                outputs["primaryEndpoints"] = {"blob": f"https://{physical}.blob.core.windows.net/"}
            if typ == "azure-native:dbforpostgresql:Server":
                outputs["fullyQualifiedDomainName"] = f"{physical}.postgres.database.azure.com"
            if typ == "azure-native:network:PublicIPAddress":
                outputs.setdefault("ipAddress", "203.0.113.10")
            identity = outputs.get("identity")
            if isinstance(identity, dict) and isinstance(identity.get("userAssignedIdentities"), list):
                # Inputs list the identity ids; ARM answers with a map of id -> {principalId, clientId}.
                outputs["identity"] = {**identity, "userAssignedIdentities": {
                    i: {} for i in identity["userAssignedIdentities"] if isinstance(i, str)}}
        elif typ.startswith("aws:"):
            resource_id = f"{name}-id"
            outputs.setdefault("arn", f"arn:aws:{typ.split(':')[1].split('/')[0]}::{ACCOUNT}:{name}")
            if typ == "aws:s3/bucket:Bucket" or typ.startswith("aws:s3/bucketV2"):
                bucket = args.inputs.get("bucket") or name
                outputs.setdefault("bucket", bucket)
                outputs.setdefault("bucketRegionalDomainName", f"{bucket}.s3.amazonaws.com")
                resource_id = bucket
            if typ == "aws:ec2/eip:Eip":
                ip = f"198.51.100.{len(self.plan.resources) % 250 + 1}"
                outputs.setdefault("publicIp", ip)
                outputs.setdefault("publicDns", f"ec2-{ip.replace('.', '-')}.compute.amazonaws.com")
            if typ == "aws:cloudfront/distribution:Distribution":
                outputs.setdefault("domainName", f"{name}.cloudfront.net")
            if typ == "aws:acm/certificate:Certificate":
                domain = args.inputs.get("domainName", name)
                outputs.setdefault("domainValidationOptions", [{
                    "domainName": domain, "resourceRecordName": f"_0123456789abcdef.{domain}.",
                    "resourceRecordType": "CNAME", "resourceRecordValue": "_fedcba9876543210.acm-validations.aws."}])
            if typ == "aws:lb/loadBalancer:LoadBalancer":
                outputs.setdefault("dnsName", f"internal-{name}.elb.amazonaws.com")
            if typ == "aws:route53/record:Record":
                outputs.setdefault("fqdn", str(args.inputs.get("name", name)).rstrip("."))
        elif typ == "random:index/randomPassword:RandomPassword":
            resource_id = f"{name}-id"
            outputs["result"] = "mock-password-not-a-secret-0123456789"
        else:
            resource_id = f"{name}-id"
        record = Recorded(type=typ, name=name, inputs=dict(args.inputs), provider=args.provider, id=resource_id,
                          outputs=outputs)
        with self._lock:
            if typ.startswith("pulumi:providers:"):
                self.plan.providers[name] = record
            else:
                self.plan.resources.append(record)
        return resource_id, outputs

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        function = args.token  # a function token like "package:module:function", not a credential
        self.plan.calls.append(function)
        if function == "azure-native:authorization:getClientConfig":
            return {"clientId": "client", "objectId": "object", "subscriptionId": SUBSCRIPTION,
                    "tenantId": TENANT}, []
        if function == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/mock", "userId": "mock"}, []
        if function == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {"id": "zones", "names": ["zone-a", "zone-b", "zone-c"], "zoneIds": ["z1", "z2", "z3"]}, []
        if function == "aws:route53/getZone:getZone":
            zone = str(args.args.get("name", ""))
            return {"id": "Z0MOCKZONE", "zoneId": "Z0MOCKZONE", "name": zone, "privateZone": False,
                    "nameServers": [], "arn": "arn:aws:route53:::hostedzone/Z0MOCKZONE"}, []
        if function == "aws:ec2/getManagedPrefixList:getManagedPrefixList":
            name = str(args.args.get("name", ""))
            list_id = prefix_list_id(name)
            return {"id": list_id, "name": name, "entries": [], "addressFamily": "IPv4",
                    "arn": f"arn:aws:ec2:us-east-1:{ACCOUNT}:prefix-list/{list_id}", "maxEntries": 60,
                    "ownerId": "AWS", "tags": {}, "version": 1}, []
        # An empty list of check failures: the engine iterates it (None raises TypeError).
        return {}, []


def prefix_list_id(name: str) -> str:
    """The id the mock engine gives the managed prefix list `name`: one per name, so that a test can tell
    which list a rule admits (a constant id would say nothing about the lookup that produced it)."""
    return "pl-" + hashlib.sha256(name.encode()).hexdigest()[:8]


def _azure_name(args: MockResourceArgs) -> str:
    """The physical name Azure would get: the explicit *Name input if the program set one."""
    for key, value in args.inputs.items():
        named = key.endswith("Name") and key != "resourceGroupName" and isinstance(value, str) and value
        if named and key[: -len("Name")].lower() in args.typ.split(":")[-1].lower():
            return str(value)
    if args.typ == "azure-native:resources:ResourceGroup" and args.inputs.get("resourceGroupName"):
        return str(args.inputs["resourceGroupName"])
    return args.name


def _without_aliases(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    """Drop type aliases before registration: planning only.

    Every azure-native resource carries ~60 aliases (one per past API version), and the SDK turns each
    into Outputs the mock engine must settle; that made a prod plan take ~20 s. Aliases only matter
    when migrating state that was created under an old type token, which a mock plan never has.
    """
    if not args.opts or not args.opts.aliases:
        return None
    opts = copy.copy(args.opts)
    opts.aliases = None
    return pulumi.ResourceTransformationResult(args.props, opts)


def evaluate(stack: str, program: Callable[[], Any], project: str = "slotstack") -> Plan:
    """Run `program` under the mock engine as stack `stack` and return what it declared."""
    plan = Plan(stack=stack)
    mocks = RecordingMocks(plan)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False)
    pulumi.runtime.settings.SETTINGS.rpc_manager.clear()
    pulumi.runtime.settings.SETTINGS.outputs.clear()

    def body() -> None:
        pulumi.runtime.register_stack_transformation(_without_aliases)
        result = program()
        if isinstance(result, dict):
            plan.outputs = result  # the same dict: Output callbacks may still fill it in

    _sync_await(run_pulumi_func(body))
    return plan
