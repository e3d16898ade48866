"""The monitor's deployment on AWS, under the mock engine: sites, access, install, config."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import environment
from infra.mocks import Plan, Recorded, evaluate, prefix_list_id
from infra.uptime_aws.deployment import UptimeDeployment, UptimeDeploymentArgs

# AWS's managed prefix list of CloudFront's origin-facing servers (the only ones that may reach the core).
CLOUDFRONT_ORIGIN_FACING = "com.amazonaws.global.cloudfront.origin-facing"
TAGS = {"environment": "prod", "cell": "global", "residency": "global",
        "data-classification": "operational", "managed-by": "pulumi"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dist") / "uptime-0.1.0-py3-none-any.whl"
    path.write_bytes(b"not really a wheel, but bytes with a digest")
    return path


@pytest.fixture(scope="module")
def plan(wheel: Path) -> Plan:
    env = environment.load("prod")

    def program() -> dict[str, Any]:
        deployment = UptimeDeployment("uptime", UptimeDeploymentArgs(env=env, wheel_path=wheel, tags=TAGS))
        captured: dict[str, Any] = {}
        deployment.config_yaml.apply(lambda text: captured.setdefault("config", text))
        return captured

    return evaluate("prod", program)


def _instances(plan: Plan) -> list[Recorded]:
    return plan.of_type("aws:ec2/instance:Instance")


def test_core_and_agents_run_in_the_configured_regions_on_two_continents(plan: Plan) -> None:
    regions = sorted(plan.aws_region_of(vm) or "?" for vm in _instances(plan))
    assert regions == ["ap-southeast-2", "eu-west-1", "us-east-2"]


def test_instances_are_hardened(plan: Plan) -> None:
    for vm in _instances(plan):
        assert vm.inputs["metadataOptions"]["httpTokens"] == "required", f"{vm.name}: IMDSv2 must be required"
        assert vm.inputs["rootBlockDevice"]["encrypted"] is True, f"{vm.name}: root volume must be encrypted"
        assert vm.inputs["associatePublicIpAddress"] is False, f"{vm.name}: only the Elastic IP is public"
        assert vm.inputs["tags"] == TAGS


def test_core_admits_only_the_agents_and_cloudfront(plan: Plan) -> None:
    eips = {plan.aws_region_of(e): e for e in plan.of_type("aws:ec2/eip:Eip")}
    rules = [r for r in plan.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
             if plan.aws_region_of(r) == "us-east-2"]
    core_sg = next(sg for sg in plan.of_type("aws:ec2/securityGroup:SecurityGroup")
                   if sg.name == "uptime-core-us-east-2-sg")
    core_rules = [r for r in rules if r.inputs["securityGroupId"] == core_sg.id]
    assert len(core_rules) == 3
    cidrs = sorted(r.inputs["cidrIpv4"] for r in core_rules if "cidrIpv4" in r.inputs)
    # Each agent's own Elastic IP, and not the core's.
    assert cidrs == sorted(f"{eips[region].outputs['publicIp']}/32" for region in ("eu-west-1", "ap-southeast-2"))
    # CloudFront reaches the core only through the internal load balancer of its VPC origin.
    [from_lb] = [r for r in core_rules if "referencedSecurityGroupId" in r.inputs]
    assert from_lb.inputs["referencedSecurityGroupId"] == "uptime-ack-alb-sg-id"
    assert not [r for r in core_rules if "prefixListId" in r.inputs], "no path from CloudFront over the internet"
    for rule in core_rules:
        assert (rule.inputs["fromPort"], rule.inputs["toPort"]) == (8470, 8470)
    [lb_rule] = [r for r in rules if r.inputs["securityGroupId"] == "uptime-ack-alb-sg-id"]
    # The id is the mock's answer to the lookup, one per list name: this checks which list was looked up.
    assert lb_rule.inputs["prefixListId"] == prefix_list_id(CLOUDFRONT_ORIGIN_FACING), (
        "the load balancer must admit only CloudFront's origin-facing addresses")
    for sg in plan.of_type("aws:ec2/securityGroup:SecurityGroup"):
        assert not sg.inputs.get("ingress"), f"{sg.name}: no inline ingress; rules above are the only way in"


def test_ack_links_reach_the_core_over_a_vpc_origin_not_the_internet(plan: Plan) -> None:
    (cdn,) = plan.of_type("aws:cloudfront/distribution:Distribution")
    [core] = [o for o in cdn.inputs["origins"] if o["originId"] == "core"]
    assert "customOriginConfig" not in core, "a custom origin would cross the internet in clear text"
    (origin,) = plan.of_type("aws:cloudfront/vpcOrigin:VpcOrigin")
    assert core["vpcOriginConfig"]["vpcOriginId"] == origin.id
    (lb,) = plan.of_type("aws:lb/loadBalancer:LoadBalancer")
    assert lb.inputs["internal"] is True
    assert origin.inputs["vpcOriginEndpointConfig"]["arn"] == lb.outputs["arn"]
    assert core["domainName"] == lb.outputs["dnsName"]
    (attachment,) = plan.of_type("aws:lb/targetGroupAttachment:TargetGroupAttachment")
    core_vm = next(vm for vm in _instances(plan) if plan.aws_region_of(vm) == "us-east-2")
    assert attachment.inputs["targetId"] == core_vm.id


def _cloud_config(vm: Recorded) -> dict[str, Any]:
    text = vm.inputs["userData"]
    if not text.startswith("#cloud-config"):
        text = base64.b64decode(text).decode()
    assert text.startswith("#cloud-config\n")
    return yaml.safe_load(text)


def test_cloud_init_verifies_the_wheel_digest_and_holds_no_secret(plan: Plan, wheel: Path) -> None:
    import hashlib

    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    objects = {plan.aws_region_of(o): o for o in plan.of_type("aws:s3/bucketObjectv2:BucketObjectv2")}
    for vm in _instances(plan):
        document = _cloud_config(vm)
        install = " ".join(" ".join(step) for step in document["runcmd"])
        assert f"{digest}  /tmp/uptime.whl" in install
        assert "sha256sum -c" in install
        assert objects[plan.aws_region_of(vm)].inputs["key"] == f"releases/uptime-{digest}.whl"
        text = yaml.safe_dump(document)
        assert "mock-password" not in text, f"{vm.name}: a generated secret leaked into user data"
        assert "+1555" not in text, f"{vm.name}: on-call phones must not be in user data"
        unit = next(f for f in document["write_files"] if f["path"].endswith("uptime.service"))["content"]
        expected = "uptime run" if plan.aws_region_of(vm) == "us-east-2" else "uptime agent"
        assert expected in unit


def test_release_buckets_are_readable_only_from_their_own_vpc(plan: Plan) -> None:
    policies = [p for p in plan.of_type("aws:s3/bucketPolicy:BucketPolicy") if "releases" in p.name]
    assert len(policies) == 3
    for policy in policies:
        statements = json.loads(policy.inputs["policy"])["Statement"]
        allow = next(s for s in statements if s["Effect"] == "Allow")
        assert allow["Condition"]["StringEquals"]["aws:SourceVpce"].endswith("-id")
        assert any(s["Effect"] == "Deny" and s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
                   for s in statements)
    for block in plan.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"):
        assert all(block.inputs[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                              "restrictPublicBuckets")), block.name


def test_status_page_is_served_by_cloudfront_with_oac(plan: Plan) -> None:
    (cdn,) = plan.of_type("aws:cloudfront/distribution:Distribution")
    assert cdn.inputs["defaultCacheBehavior"]["viewerProtocolPolicy"] == "redirect-to-https"
    assert cdn.inputs["viewerCertificate"]["minimumProtocolVersion"] == "TLSv1.2_2021"
    assert cdn.inputs["aliases"] == ["status.book.example.com"]
    (ack,) = cdn.inputs["orderedCacheBehaviors"]
    assert ack["pathPattern"] == "/ack/*"
    assert ack["viewerProtocolPolicy"] == "https-only"
    (oac,) = plan.of_type("aws:cloudfront/originAccessControl:OriginAccessControl")
    assert (oac.inputs["signingBehavior"], oac.inputs["signingProtocol"]) == ("always", "sigv4")


def test_generated_config_probes_every_cell_and_pages_every_receiver(plan: Plan) -> None:
    config = yaml.safe_load(plan.outputs["config"])
    env = environment.load("prod")
    names = {t["name"] for t in config["targets"]}
    for cell in env.cells.values():
        assert f"{cell.name}-healthz" in names
        url = next(t["url"] for t in config["targets"] if t["name"] == f"{cell.name}-healthz")
        assert url == f"https://{cell.hostname}/healthz"
    emails = sorted(p["email"] for p in config["people"].values())
    assert emails == sorted(r.email for r in env.oncall.receivers)
    assert config["thresholds"]["quorum"] == 2
    assert config["monitor"]["locations"] == ["us-east-2", "eu-west-1", "ap-southeast-2"]


def test_secrets_go_to_parameter_store_as_secure_strings(plan: Plan) -> None:
    params = plan.of_type("aws:ssm/parameter:Parameter")
    assert params
    assert {p.inputs["type"] for p in params} == {"SecureString"}
    names = {p.inputs["name"] for p in params}
    assert {"/slotstack/prod/uptime/UPTIME_AGENT_KEY", "/slotstack/prod/uptime/UPTIME_ACK_SECRET",
            "/slotstack/prod/uptime-config"} <= names


def test_agents_admit_only_each_other_on_the_peer_port(plan: Plan) -> None:
    eips = {plan.aws_region_of(e): e.outputs["publicIp"] for e in plan.of_type("aws:ec2/eip:Eip")}
    peer_rules = [r for r in plan.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
                  if plan.aws_region_of(r) != "us-east-2"]
    admitted = sorted((plan.aws_region_of(r), r.inputs["cidrIpv4"], r.inputs["fromPort"]) for r in peer_rules)
    assert admitted == sorted([("eu-west-1", f"{eips['ap-southeast-2']}/32", 8471),
                               ("ap-southeast-2", f"{eips['eu-west-1']}/32", 8471)])
    for vm in _instances(plan):
        if plan.aws_region_of(vm) == "eu-west-1":
            unit = next(f for f in _cloud_config(vm)["write_files"] if f["path"].endswith("uptime.service"))
            assert f"--peer http://{eips['ap-southeast-2']}:8471" in unit["content"]
            assert f"--core http://{eips['us-east-2']}:8470" in unit["content"]


def test_generated_config_is_accepted_by_the_monitor(plan: Plan) -> None:
    from uptime import config as uptime_config

    parsed = uptime_config.parse(yaml.safe_load(plan.outputs["config"]), "generated")
    assert {t.cell for t in parsed.targets} == {"us", "eu", "au"}
    assert parsed.thresholds.quorum == 2
