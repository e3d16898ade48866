"""One monitor site: a small instance in its own VPC in one AWS region (core or probe agent)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws
from pulumi_aws import ec2, iam, s3

from infra.provider import permissions

UBUNTU_ARM64 = "resolve:ssm:/aws/service/canonical/ubuntu/server/24.04/stable/current/arm64/hvm/ebs-gp3/ami-id"
SERVICE_PORT = 8470


@dataclass
class MonitorSiteArgs:
    """Inputs of one monitor site."""

    region: str
    """AWS region of the site."""
    index: int
    """Position among the sites; picks a VPC range that no other site uses."""
    wheel_path: Path
    """The `uptime` wheel to install."""
    wheel_sha256: str
    """Hex sha256 of the wheel (read once by the deployment for every site)."""
    tags: dict[str, str]
    """Tags for every resource (also the provider's default tags)."""
    ssm_prefix: str
    """Parameter Store path whose SecureStrings become the service's environment."""
    config_parameter: str
    """The SecureString the instance reads its uptime.yaml from."""
    instance_type: str = "t4g.small"
    """EC2 instance type (arm64: the AMI is Ubuntu 24.04 arm64)."""
    extra_policy_statements: list[dict[str, object]] = field(default_factory=list)
    """More IAM statements for the instance role (the core writes the status page)."""


def wheel_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class MonitorSite(pulumi.ComponentResource):
    """VPC, public subnet, security group, Elastic IP, release bucket and the instance of one site."""

    def __init__(self, name: str, args: MonitorSiteArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slotstack:uptime:MonitorSite", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.region = args.region
        self.provider = aws.Provider(f"{name}-aws", region=args.region,
                                     default_tags={"tags": args.tags}, opts=child)
        on = pulumi.ResourceOptions(parent=self, provider=self.provider)

        vpc = ec2.Vpc(f"{name}-vpc", cidr_block=f"10.{200 + args.index}.0.0/24",
                          enable_dns_hostnames=True, enable_dns_support=True, tags=args.tags, opts=on)
        subnet = ec2.Subnet(f"{name}-public", vpc_id=vpc.id, cidr_block=f"10.{200 + args.index}.0.0/25",
                                map_public_ip_on_launch=False, tags=args.tags, opts=on)
        igw = ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=args.tags, opts=on)
        routes = ec2.RouteTable(f"{name}-routes", vpc_id=vpc.id, tags=args.tags,
                                    routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}], opts=on)
        ec2.RouteTableAssociation(f"{name}-routes-public", subnet_id=subnet.id, route_table_id=routes.id,
                                      opts=on)
        s3_endpoint = ec2.VpcEndpoint(f"{name}-s3", vpc_id=vpc.id, service_name=f"com.amazonaws.{args.region}.s3",
                                          vpc_endpoint_type="Gateway", route_table_ids=[routes.id],
                                          tags=args.tags, opts=on)

        # Probes go out to every cell (HTTPS), mail and SMS providers; nothing comes in unless a rule
        # below (added by the deployment) admits it.
        self.security_group = ec2.SecurityGroup(
            f"{name}-sg", vpc_id=vpc.id, description="slotstack uptime monitor", tags=args.tags,
            egress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"],
                     "description": "probes and notifications"}],
            opts=on)
        self.eip = ec2.Eip(f"{name}-ip", domain="vpc", tags=args.tags, opts=on)

        # The wheel sits in a private bucket of the site's own region; instances fetch it through the
        # gateway endpoint, so no credentials and no public object are needed.
        digest = args.wheel_sha256
        self.release_bucket = s3.Bucket(f"{name}-releases", force_destroy=True, tags=args.tags, opts=on)
        s3.BucketPublicAccessBlock(f"{name}-releases-private", bucket=self.release_bucket.id,
                                       block_public_acls=True, block_public_policy=True,
                                       ignore_public_acls=True, restrict_public_buckets=True, opts=on)
        s3.BucketOwnershipControls(f"{name}-releases-owner", bucket=self.release_bucket.id,
                                       rule={"object_ownership": "BucketOwnerEnforced"}, opts=on)
        s3.BucketServerSideEncryptionConfiguration(
            f"{name}-releases-sse", bucket=self.release_bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}], opts=on)
        self.wheel_key = f"releases/uptime-{digest}.whl"
        self.wheel_sha256 = digest
        s3.BucketObjectv2(f"{name}-wheel", bucket=self.release_bucket.id, key=self.wheel_key,
                              source=pulumi.FileAsset(str(args.wheel_path)), checksum_algorithm="SHA256",
                              tags=args.tags, opts=on)
        s3.BucketPolicy(
            f"{name}-releases-policy", bucket=self.release_bucket.id,
            policy=pulumi.Output.all(self.release_bucket.arn, s3_endpoint.id).apply(
                lambda v: json.dumps({"Version": "2012-10-17", "Statement": [
                    {"Sid": "ReadReleasesFromOwnVpcOnly", "Effect": "Allow", "Principal": "*",
                     "Action": "s3:GetObject", "Resource": f"{v[0]}/releases/*",
                     "Condition": {"StringEquals": {"aws:SourceVpce": v[1]}}},
                    {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                     "Resource": [v[0], f"{v[0]}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                ]})),
            opts=on)
        self.wheel_url = self.release_bucket.bucket.apply(
            lambda b: f"https://{b}.s3.{args.region}.amazonaws.com/{self.wheel_key}")

        role = iam.Role(
            f"{name}-role", tags=args.tags,
            assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
            opts=on)
        # Exactly what the instance reads (infra/provider/permissions.py): its config parameter and the
        # parameters under its prefix, in its own region, plus Session Manager's channel. Not
        # AmazonSSMManagedInstanceCore: that grants ssm:GetParameter(s) on every parameter of the account,
        # so a prod monitor could read dev's and staging's secrets.
        parameter = f"arn:aws:ssm:{args.region}:*:parameter"
        path = args.ssm_prefix.rstrip("/")
        statements: list[dict[str, object]] = [
            {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": f"{parameter}{args.config_parameter}"},
            {"Effect": "Allow", "Action": "ssm:GetParametersByPath",
             "Resource": [f"{parameter}{path}", f"{parameter}{path}/*"]},
            {"Effect": "Allow", "Action": permissions.session_manager_actions(), "Resource": "*"},
            *args.extra_policy_statements,
        ]
        iam.RolePolicy(f"{name}-access", role=role.id,
                           policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": statements}),
                           opts=on)
        self.profile = iam.InstanceProfile(f"{name}-profile", role=role.name, tags=args.tags, opts=on)
        self.subnet = subnet
        self.vpc = vpc
        self.index = args.index
        self.role = role
        self._on = on
        self._args = args
        self.register_outputs({"eip": self.eip.public_ip, "wheel_url": self.wheel_url})

    def launch(self, name: str, user_data: pulumi.Input[str]) -> ec2.Instance:
        """Start the site's instance with its cloud-init and attach the Elastic IP."""
        instance = ec2.Instance(
            f"{name}-vm", ami=UBUNTU_ARM64, instance_type=self._args.instance_type, subnet_id=self.subnet.id,
            vpc_security_group_ids=[self.security_group.id], iam_instance_profile=self.profile.name,
            associate_public_ip_address=False, user_data=user_data, user_data_replace_on_change=True,
            metadata_options={"http_tokens": "required", "http_endpoint": "enabled"},
            root_block_device={"encrypted": True, "volume_size": 16, "volume_type": "gp3"},
            monitoring=True, tags=self._args.tags, opts=self._on)
        ec2.EipAssociation(f"{name}-ip-attach", instance_id=instance.id, allocation_id=self.eip.id,
                               opts=self._on)
        return instance
