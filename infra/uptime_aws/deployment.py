"""The monitor on AWS: a core and probe agents on other continents, and the public status page."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_random as random
from pulumi_aws import cloudfront, ec2, s3, ssm, vpc

from infra.environment import Environment
from infra.storage.cdn_domain import cdn_domain
from infra.uptime_aws import cloud_init, config
from infra.uptime_aws.ack_origin import AckOrigin, AckOriginArgs
from infra.uptime_aws.site import SERVICE_PORT, MonitorSite, MonitorSiteArgs, wheel_digest

# Agents ask each other before their dead man's switch pages, so that only one of them does.
PEER_PORT = 8471

CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"


@dataclass
class UptimeDeploymentArgs:
    """Inputs of the monitor deployment."""

    env: Environment
    """The environment whose cells are probed and whose on-call receivers are paged."""
    wheel_path: Path
    """The `uptime` wheel installed on every site."""
    tags: dict[str, str]
    """Tags for every resource."""


class UptimeDeployment(pulumi.ComponentResource):
    """Core + agents + status page; the core admits only the agents and CloudFront's origin range."""

    def __init__(self, name: str, args: UptimeDeploymentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slotstack:uptime:UptimeDeployment", name, None, opts)
        env = args.env
        child = pulumi.ResourceOptions(parent=self)
        prefix = f"/slotstack/{env.name}/uptime/"
        config_parameter = f"/slotstack/{env.name}/uptime-config"

        core_region = env.monitor.core_region
        core_provider = aws.Provider(f"{name}-core-aws", region=core_region, default_tags={"tags": args.tags},
                                     opts=child)
        on_core = pulumi.ResourceOptions(parent=self, provider=core_provider)
        status = s3.Bucket(f"{name}-status", force_destroy=True, tags=args.tags, opts=on_core)
        s3.BucketPublicAccessBlock(f"{name}-status-private", bucket=status.id, block_public_acls=True,
                                       block_public_policy=True, ignore_public_acls=True,
                                       restrict_public_buckets=True, opts=on_core)
        s3.BucketOwnershipControls(f"{name}-status-owner", bucket=status.id,
                                       rule={"object_ownership": "BucketOwnerEnforced"}, opts=on_core)

        digest = wheel_digest(args.wheel_path)
        self.sites: dict[str, MonitorSite] = {}
        regions = [core_region, *env.monitor.agent_regions]
        for index, region in enumerate(regions):
            role = "core" if index == 0 else "agent"
            extra: list[dict[str, object]] = []
            if role == "core":
                extra = [
                    {"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"],
                     "Resource": status.arn.apply(lambda arn: f"{arn}/*")},
                    {"Effect": "Allow", "Action": "sns:Publish", "Resource": "*",
                     "Condition": {"Null": {"sns:Protocol": "true"}}},  # direct SMS only, no topics
                ]
            self.sites[region] = MonitorSite(
                f"{name}-{role}-{region}",
                MonitorSiteArgs(region=region, index=index, wheel_path=args.wheel_path, wheel_sha256=digest,
                                tags=args.tags,
                                ssm_prefix=prefix, config_parameter=config_parameter,
                                instance_type=env.monitor.instance_type,
                                extra_policy_statements=extra),
                opts=child)
        core = self.sites[core_region]
        agents = [self.sites[r] for r in env.monitor.agent_regions]

        # The core's port admits the agents (result ingest) and CloudFront (ack links), nobody else.
        for site in agents:
            vpc.SecurityGroupIngressRule(
                f"{name}-core-from-{site.region}", security_group_id=core.security_group.id,
                ip_protocol="tcp", from_port=SERVICE_PORT, to_port=SERVICE_PORT,
                cidr_ipv4=site.eip.public_ip.apply(lambda ip: f"{ip}/32"),
                description=f"probe agent in {site.region}", tags=args.tags, opts=on_core)
        for site in agents:
            for other in agents:
                if other is site:
                    continue
                vpc.SecurityGroupIngressRule(
                    f"{name}-peer-{site.region}-from-{other.region}", security_group_id=site.security_group.id,
                    ip_protocol="tcp", from_port=PEER_PORT, to_port=PEER_PORT,
                    cidr_ipv4=other.eip.public_ip.apply(lambda ip: f"{ip}/32"),
                    description=f"peer agent in {other.region} (dead man's switch)", tags=args.tags,
                    opts=pulumi.ResourceOptions(parent=self, provider=site.provider))
        cloudfront_range = ec2.get_managed_prefix_list_output(
            name="com.amazonaws.global.cloudfront.origin-facing", opts=pulumi.InvokeOptions(provider=core_provider))
        # Ack links reach the core from CloudFront over a VPC origin (AWS's network), not the internet.
        ack_origin = AckOrigin(f"{name}-ack", AckOriginArgs(
            vpc=core.vpc, vpc_index=core.index, core_security_group_id=core.security_group.id,
            cloudfront_prefix_list_id=cloudfront_range.id, service_port=SERVICE_PORT, tags=args.tags),
            opts=pulumi.ResourceOptions(parent=self, provider=core_provider))

        oac = cloudfront.OriginAccessControl(
            f"{name}-status-oac", origin_access_control_origin_type="s3", signing_behavior="always",
            signing_protocol="sigv4", description="status page bucket", opts=on_core)
        # With a status domain: its own validated certificate (an alias on the default certificate is refused).
        custom = (cdn_domain(f"{name}-status", domain=env.monitor.status_domain, zone=env.monitor.status_dns_zone,
                             tags=args.tags, parent=self)
                  if env.monitor.status_domain and env.monitor.status_dns_zone else None)
        self.distribution = cloudfront.Distribution(
            f"{name}-status-cdn", enabled=True, is_ipv6_enabled=True, http_version="http2and3",
            default_root_object="index.html", price_class="PriceClass_100", comment="slotstack status page",
            aliases=[env.monitor.status_domain] if env.monitor.status_domain else None,
            origins=[
                {"origin_id": "status", "domain_name": status.bucket_regional_domain_name,
                 "origin_access_control_id": oac.id},
                {"origin_id": "core", "domain_name": ack_origin.load_balancer.dns_name,
                 "vpc_origin_config": {"vpc_origin_id": ack_origin.vpc_origin.id}},
            ],
            default_cache_behavior={"target_origin_id": "status", "viewer_protocol_policy": "redirect-to-https",
                                    "allowed_methods": ["GET", "HEAD"], "cached_methods": ["GET", "HEAD"],
                                    "cache_policy_id": CACHING_OPTIMIZED,
                                    "response_headers_policy_id": SECURITY_HEADERS, "compress": True},
            ordered_cache_behaviors=[{
                "path_pattern": "/ack/*", "target_origin_id": "core", "viewer_protocol_policy": "https-only",
                "allowed_methods": ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"],
                "cached_methods": ["GET", "HEAD"], "cache_policy_id": CACHING_DISABLED,
                "origin_request_policy_id": ALL_VIEWER_EXCEPT_HOST, "compress": False}],
            restrictions={"geo_restriction": {"restriction_type": "none"}},
            viewer_certificate=(custom.viewer_certificate() if custom else
                                {"cloudfront_default_certificate": True, "minimum_protocol_version": "TLSv1.2_2021"}),
            tags=args.tags, opts=on_core)
        if custom is not None:
            custom.alias(f"{name}-status-domain", self.distribution, parent=self)
        s3.BucketPolicy(
            f"{name}-status-policy", bucket=status.id,
            policy=pulumi.Output.all(status.arn, self.distribution.arn).apply(lambda v: json.dumps({
                "Version": "2012-10-17", "Statement": [
                    {"Sid": "CloudFrontReadsStatusPage", "Effect": "Allow",
                     "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
                     "Resource": f"{v[0]}/*", "Condition": {"StringEquals": {"AWS:SourceArn": v[1]}}},
                    {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                     "Resource": [v[0], f"{v[0]}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                ]})),
            opts=on_core)

        public_url = (pulumi.Output.from_input(f"https://{env.monitor.status_domain}")
                      if env.monitor.status_domain else self.distribution.domain_name.apply(lambda d: f"https://{d}"))
        self.config_yaml = config.document(env, public_url=public_url, locations=regions, sns_region=core_region)

        agent_key = random.RandomPassword(f"{name}-agent-key", length=48, special=False, opts=child)
        ack_secret = random.RandomPassword(f"{name}-ack-secret", length=48, special=False, opts=child)
        for region, site in self.sites.items():
            on_site = pulumi.ResourceOptions(parent=self, provider=site.provider)
            # The config names on-call phones: keep it secret in state as well as in SSM.
            ssm.Parameter(f"{name}-{region}-config", name=config_parameter, type="SecureString",
                              tier="Advanced", value=self.config_yaml, tags=args.tags,
                              opts=pulumi.ResourceOptions.merge(
                                  on_site, pulumi.ResourceOptions(additional_secret_outputs=["value"])))
            ssm.Parameter(f"{name}-{region}-agent-key", name=f"{prefix}UPTIME_AGENT_KEY", type="SecureString",
                              value=agent_key.result, tags=args.tags, opts=on_site)
            if site is core:
                ssm.Parameter(f"{name}-{region}-ack-secret", name=f"{prefix}UPTIME_ACK_SECRET",
                                  type="SecureString", value=ack_secret.result, tags=args.tags, opts=on_site)
            command: pulumi.Input[str]
            if site is core:
                command = "/opt/uptime/bin/uptime run --config /etc/uptime/uptime.yaml"
            else:
                peers = [pulumi.Output.concat(" --peer http://", other.eip.public_ip, f":{PEER_PORT}")
                         for other in agents if other is not site]
                command = pulumi.Output.concat(
                    "/opt/uptime/bin/uptime agent --config /etc/uptime/uptime.yaml ",
                    f"--location {region} --listen 0.0.0.0:{PEER_PORT} --core http://", core.eip.public_ip,
                    f":{SERVICE_PORT}", *peers)
            instance = site.launch(f"{name}-{region}", pulumi.Output.all(site.wheel_url, command).apply(
                _user_data(site, "core" if site is core else f"agent {region}", prefix, config_parameter)))
            if site is core:
                ack_origin.attach(f"{name}-ack-core", instance)

        self.status_url = public_url
        self.core_ip = core.eip.public_ip
        self.register_outputs({"status_url": public_url, "core_ip": core.eip.public_ip})


def _user_data(site: MonitorSite, role: str, prefix: str, config_parameter: str) -> Callable[[list[str]], str]:
    def render(values: list[str]) -> str:
        wheel_url, command = values
        return cloud_init.render(role=role, wheel_url=wheel_url, wheel_sha256=site.wheel_sha256, command=command,
                                ssm_prefix=prefix, config_parameter=config_parameter, region=site.region)
    return render
