"""The policy pack as the Pulumi CLI runs it: `python policy/__main__.py` constructs the PolicyPack and
serves the analyzer over gRPC on 127.0.0.1; we talk to it like the engine does."""

from __future__ import annotations

import select
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from infra.mocks import Plan
from policy.pack import ADVISORY_RULES, RESOURCE_RULES, STACK_RULES
from policy.rules.common import Resource
from tests.plans import as_resources

ROOT = Path(__file__).resolve().parents[2]
# The Pulumi CLI runs the pack in policy/venv, built from policy/requirements.txt (pulumi and
# pulumi-policy and their dependencies): make the SDKs and app libraries fail here as they would there.
NOT_IN_PACK_VENV = ("pulumi_azure_native", "pulumi_aws", "pulumi_random", "psycopg", "boto3")
BOOT = ("import runpy, sys\n"
        f"for name in {NOT_IN_PACK_VENV!r}: sys.modules[name] = None\n"
        "runpy.run_path(sys.argv[1], run_name='__main__')\n")


@pytest.fixture(scope="module")
def analyzer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    # Started from an unrelated directory, as the CLI may: the pack must find infra/ by itself.
    cwd = tmp_path_factory.mktemp("policy-cwd")
    process = subprocess.Popen([sys.executable, "-c", BOOT, str(ROOT / "policy" / "__main__.py")], cwd=cwd,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        # pulumi-policy prints the port once it serves; never wait on a silent process forever.
        ready, _, _ = select.select([process.stdout], [], [], 60)
        line = process.stdout.readline() if ready else ""
        if not line.strip().isdigit():
            process.kill()
            _, err = process.communicate(timeout=10)
            pytest.fail(f"the policy pack did not start: stdout {line!r}, stderr:\n{err}")
        channel = grpc.insecure_channel(f"127.0.0.1:{int(line)}")
        grpc.channel_ready_future(channel).result(timeout=30)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture(scope="module")
def prod(plan_of: Callable[[str], Plan]) -> list[Resource]:
    """The program's planned prod resources, as the pack sees them."""
    return as_resources(plan_of("prod"))


def _struct(props: Any) -> struct_pb2.Struct:
    value = struct_pb2.Struct()
    value.update(dict(props))
    return value


def test_pack_is_constructed_with_every_policy_mandatory(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
    assert info.name == "slotstack"
    names = {p.name for p in info.policies}
    assert names == {rule.NAME for rule in (*RESOURCE_RULES, *STACK_RULES, *ADVISORY_RULES)}
    advisory = {rule.NAME for rule in ADVISORY_RULES}
    assert all(p.enforcementLevel == analyzer_pb2.MANDATORY for p in info.policies if p.name not in advisory), \
        "every policy but the reminders is mandatory"
    assert all(p.enforcementLevel == analyzer_pb2.ADVISORY for p in info.policies if p.name in advisory)
    assert all(p.description for p in info.policies)


def test_resource_violation_is_reported_by_the_served_pack(analyzer: analyzer_pb2_grpc.AnalyzerStub,
                                                          prod: list[Resource]) -> None:
    waf = next(r for r in prod if r.type == "azure-native:network:WebApplicationFirewallPolicy")
    props = {**waf.props, "policySettings": {**waf.props["policySettings"], "mode": "Detection"}}
    request = analyzer_pb2.AnalyzeRequest(type=waf.type, name=waf.name, properties=_struct(props),
                                          urn=f"urn:pulumi:prod::slotstack::{waf.type}::{waf.name}")
    response = analyzer.Analyze(request, timeout=30)
    messages = [(d.policyName, d.message) for d in response.diagnostics]
    assert len(messages) == 1, messages
    assert messages[0][0] == "waf-prevention-with-managed-rules"
    assert "Detection only logs attacks; set mode to Prevention" in messages[0][1]
    assert response.diagnostics[0].enforcementLevel == analyzer_pb2.MANDATORY


def test_stack_violation_uses_the_providers_region(analyzer: analyzer_pb2_grpc.AnalyzerStub,
                                                   prod: list[Resource]) -> None:
    """A bucket whose explicit provider is in London breaks the eu cell's residency, through the real pack."""
    bucket = next(r for r in prod if r.name == "eu-images-bucket")
    provider = analyzer_pb2.AnalyzerProviderResource(
        type="pulumi:providers:aws", name="eu-images-aws", urn="urn:pulumi:prod::slotstack::pulumi:providers:aws::x",
        properties=_struct({"region": "eu-west-2"}))
    resource = analyzer_pb2.AnalyzerResource(type=bucket.type, name=bucket.name, properties=_struct(bucket.props),
                                             urn="urn:pulumi:prod::slotstack::aws:s3/bucket:Bucket::eu-images-bucket",
                                             provider=provider)
    response = analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=[resource]), timeout=30)
    by_policy = {d.policyName: d.message for d in response.diagnostics}
    assert "eu-west-2 (United Kingdom) is outside residency eu" in by_policy["residency-data-in-geography"]
    # The lone bucket also lacks its public access block: the stack rule sees that too.
    assert "has no complete public access block" in by_policy["s3-public-access-block"]
