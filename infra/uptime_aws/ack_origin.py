"""The core as CloudFront's origin for acknowledgement links, over a private connection, not the internet.

A custom origin reached over the internet needs a publicly trusted certificate on the core for TLS,
which an instance addressed by its Elastic IP cannot have; with `http-only` the ack tokens crossed the
internet in clear text between CloudFront and the core. A CloudFront VPC origin instead reaches an
internal Application Load Balancer in the core's VPC over AWS's network
(https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-vpc-origins.html);
the load balancer forwards to the core's private address, inside the VPC.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
from pulumi_aws import cloudfront, ec2, lb, vpc

ORIGIN_PORT = 80


@dataclass
class AckOriginArgs:
    """Inputs of the core's private origin."""

    vpc: ec2.Vpc
    """The core's VPC (a /24 whose first half is the public subnet)."""
    vpc_index: int
    """The site's index: its VPC is 10.(200+index).0.0/24."""
    core_security_group_id: pulumi.Input[str]
    """The core instance's security group."""
    cloudfront_prefix_list_id: pulumi.Input[str]
    """com.amazonaws.global.cloudfront.origin-facing: where VPC-origin traffic comes from."""
    service_port: int
    """The core's port."""
    tags: dict[str, str]


class AckOrigin(pulumi.ComponentResource):
    """Two private subnets, an internal ALB in front of the core, and the CloudFront VPC origin for it.

    Attributes: `load_balancer`, `vpc_origin`, `target_group`.
    """

    def __init__(self, name: str, args: AckOriginArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slotstack:uptime:AckOrigin", name, None, opts)
        on = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self))
        self._on = on
        zones = aws.get_availability_zones_output(state="available",
                                                  opts=pulumi.InvokeOptions(parent=self, provider=on.provider))
        # An ALB needs subnets in two zones; the second half of the VPC's /24 has room for two /26.
        subnets = [ec2.Subnet(f"{name}-private-{i}", vpc_id=args.vpc.id,
                                  cidr_block=f"10.{200 + args.vpc_index}.0.{128 + 64 * i}/26",
                                  availability_zone=zones.names[i], map_public_ip_on_launch=False,
                                  tags=args.tags, opts=on) for i in range(2)]
        lb_group = ec2.SecurityGroup(f"{name}-alb-sg", vpc_id=args.vpc.id, description="ack origin (internal)",
                                         tags=args.tags, opts=on)
        vpc.SecurityGroupIngressRule(
            f"{name}-alb-from-cloudfront", security_group_id=lb_group.id, ip_protocol="tcp",
            from_port=ORIGIN_PORT, to_port=ORIGIN_PORT, prefix_list_id=args.cloudfront_prefix_list_id,
            description="CloudFront VPC origin", tags=args.tags, opts=on)
        vpc.SecurityGroupEgressRule(
            f"{name}-alb-to-core", security_group_id=lb_group.id, ip_protocol="tcp",
            from_port=args.service_port, to_port=args.service_port,
            referenced_security_group_id=args.core_security_group_id, description="the core", tags=args.tags,
            opts=on)
        vpc.SecurityGroupIngressRule(
            f"{name}-core-from-alb", security_group_id=args.core_security_group_id, ip_protocol="tcp",
            from_port=args.service_port, to_port=args.service_port, referenced_security_group_id=lb_group.id,
            description="acknowledgement links from CloudFront through the internal ALB", tags=args.tags, opts=on)
        self.load_balancer = lb.LoadBalancer(
            f"{name}-alb", internal=True, load_balancer_type="application", subnets=[s.id for s in subnets],
            security_groups=[lb_group.id], drop_invalid_header_fields=True, tags=args.tags, opts=on)
        self.target_group = lb.TargetGroup(
            f"{name}-tg", port=args.service_port, protocol="HTTP", target_type="instance", vpc_id=args.vpc.id,
            # Any answer of the core's HTTP server counts as alive; an ack link needs the core, not a page.
            health_check={"path": "/", "matcher": "200-499", "interval": 30}, tags=args.tags, opts=on)
        lb.Listener(f"{name}-listener", load_balancer_arn=self.load_balancer.arn, port=ORIGIN_PORT,
                        protocol="HTTP", default_actions=[{"type": "forward",
                                                           "target_group_arn": self.target_group.arn}],
                        tags=args.tags, opts=on)
        self.vpc_origin = cloudfront.VpcOrigin(
            f"{name}-vpc-origin",
            vpc_origin_endpoint_config={
                "name": name, "arn": self.load_balancer.arn, "http_port": ORIGIN_PORT, "https_port": 443,
                # Plain HTTP, but on AWS's private network between CloudFront and the VPC, never the internet.
                "origin_protocol_policy": "http-only",
                "origin_ssl_protocols": {"items": ["TLSv1.2"], "quantity": 1},
            },
            tags=args.tags, opts=on)
        self.register_outputs({"vpc_origin_id": self.vpc_origin.id})

    def attach(self, name: str, instance: ec2.Instance) -> None:
        """Put the core's instance behind the load balancer."""
        lb.TargetGroupAttachment(name, target_group_arn=self.target_group.arn, target_id=instance.id,
                                     opts=self._on)
