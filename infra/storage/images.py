"""Tenant images of a cell on AWS: a private S3 bucket in the cell's AWS region, served through CloudFront.

The bucket is reachable only by the cell's CloudFront distribution (Origin Access Control) and by
an IAM role the service assumes with its Azure managed identity token (web-identity federation), so
no long-lived AWS key exists anywhere. With `images.strict_residency` there is no distribution at
all, because CloudFront caches at edges worldwide: the service hands out presigned URLs of the
regional bucket instead, and the bucket admits only the role.

Limitation: a distribution without `images.domain` uses the *.cloudfront.net certificate, whose
security policy AWS fixes at TLSv1; TLSv1.2_2021 applies only with a custom domain.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi import Input, Output, ResourceOptions
from pulumi_aws import cloudfront, iam, s3

from infra.environment import Cell
from infra.residency import RESIDENCIES
from infra.storage.cdn_domain import CdnDomain, cdn_domain

# `pulumi_aws.s3` warns on import about its own deprecated *V2 aliases, which this module does not
# use; importing it here, once and narrowly filtered, keeps that noise out of every caller (and
# keeps pytest's `filterwarnings = error` meaningful for warnings about our own code).
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"aws\.s3/.* has been deprecated in favor of",
                            category=DeprecationWarning)
    import pulumi_aws.s3

# AWS-managed policies (ids are fixed by AWS): cache by URL with compression, and the standard
# security headers (HSTS, nosniff, frame options, referrer policy, XSS protection).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"
MIN_TLS = "TLSv1.2_2021"
NONCURRENT_DAYS = 30
OBJECT_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]


@dataclass
class ImagesArgs:
    """Inputs of a cell's image store."""

    cell: Cell
    """The environment's cell: AWS region, residency, images.domain and images.strict_residency."""
    bucket_name: str
    """Globally unique bucket name; also the base of the IAM role name."""
    tags: dict[str, str]
    """The cell tags; set on every resource and as the providers' default tags."""
    oidc_provider_arn: Input[str]
    """ARN of the account's IAM OIDC provider for the Entra tenant (see `web_identity_provider`)."""
    oidc_issuer_url: Input[str]
    """Issuer of the managed identity's tokens, e.g. https://login.microsoftonline.com/<tenant>/v2.0."""
    oidc_audience: str
    """Audience the service requests its token for, e.g. api://AzureADTokenExchange."""
    identity_principal_id: Input[str]
    """Object (principal) id of the cell's managed identity: the token's `sub` claim."""


def bucket_policy(bucket_arn: str, role_arn: str, distribution_arn: str | None) -> str:
    """The bucket policy: TLS only; CloudFront (if any) reads via OAC; otherwise only the role touches data."""
    objects = f"{bucket_arn}/*"
    statements: list[dict[str, Any]] = [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [bucket_arn, objects], "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }, {
        "Sid": "AllowServiceRole", "Effect": "Allow", "Principal": {"AWS": role_arn},
        "Action": OBJECT_ACTIONS, "Resource": objects,
    }]
    if distribution_arn is not None:
        statements.append({
            "Sid": "AllowCloudFrontOAC", "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject", "Resource": objects,
            "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
        })
    else:
        # Strict residency: nothing but the service role reads or writes images.
        statements.append({
            "Sid": "DenyEveryoneButServiceRole", "Effect": "Deny", "Principal": "*",
            "Action": OBJECT_ACTIONS, "Resource": objects,
            "Condition": {"StringNotEquals": {"aws:PrincipalArn": role_arn}},
        })
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def trust_policy(provider_arn: str, issuer_url: str, audience: str, subject: str) -> str:
    """Who may assume the role: only tokens of this managed identity, for this audience, from this issuer."""
    issuer = issuer_url.removeprefix("https://")
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider_arn}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{issuer}:aud": audience, f"{issuer}:sub": subject}},
    }]}, sort_keys=True)


def access_policy(bucket_arn: str) -> str:
    """Least privilege for the service: objects of this bucket only, no bucket configuration."""
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": OBJECT_ACTIONS, "Resource": f"{bucket_arn}/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn},
    ]}, sort_keys=True)


def web_identity_provider(name: str, issuer_url: pulumi.Input[str], audience: str, tags: dict[str, str],
                          opts: ResourceOptions | None = None) -> iam.OpenIdConnectProvider:
    """The account's IAM OIDC provider for the Entra tenant: IAM is global, so one per stack, not per cell."""
    return iam.OpenIdConnectProvider(name, url=issuer_url, client_id_lists=[audience], tags=tags, opts=opts)


class Images(pulumi.ComponentResource):
    """A cell's image bucket, its CloudFront distribution (unless strict residency) and the service role."""

    bucket: s3.Bucket
    distribution: cloudfront.Distribution | None
    role: iam.Role

    def __init__(self, name: str, args: ImagesArgs, opts: ResourceOptions | None = None) -> None:
        super().__init__("slotstack:storage:Images", name, None, opts)
        cell = args.cell
        defaults = aws.ProviderDefaultTagsArgs(tags=args.tags)
        self.provider = aws.Provider(f"{name}-aws", region=cell.aws_region, default_tags=defaults,
                                     opts=ResourceOptions(parent=self))
        on = ResourceOptions(parent=self, provider=self.provider)

        self.bucket = s3.Bucket(f"{name}-bucket", bucket=args.bucket_name, force_destroy=False,
                                    tags=args.tags, opts=on)
        # Bucket settings name the bucket literally (known at preview, unlike its id) so the policy
        # pack can match them to it; depends_on keeps the ordering.
        on_bucket = ResourceOptions(parent=self, provider=self.provider, depends_on=[self.bucket])
        bucket = args.bucket_name
        block = s3.BucketPublicAccessBlock(
            f"{name}-public-access-block", bucket=bucket, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=on_bucket)
        s3.BucketOwnershipControls(f"{name}-ownership", bucket=bucket,
                                       rule={"object_ownership": "BucketOwnerEnforced"}, opts=on_bucket)
        s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption", bucket=bucket,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"},
                    "bucket_key_enabled": True}], opts=on_bucket)
        versioning = s3.BucketVersioning(f"{name}-versioning", bucket=bucket,
                                             versioning_configuration={"status": "Enabled"}, opts=on_bucket)
        s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle", bucket=bucket,
            rules=[{"id": "expire-noncurrent", "status": "Enabled", "filter": {"prefix": ""},
                    "noncurrent_version_expiration": {"noncurrent_days": NONCURRENT_DAYS},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 7}}],
            opts=ResourceOptions(parent=self, provider=self.provider, depends_on=[self.bucket, versioning]))

        self.role = iam.Role(
            f"{name}-role", name=f"{args.bucket_name}-service"[:64], tags=args.tags, max_session_duration=3600,
            description=f"slotstack cell {cell.name}: image access for the cell's managed identity",
            assume_role_policy=Output.all(
                args.oidc_provider_arn, args.identity_principal_id, args.oidc_issuer_url,
            ).apply(lambda v: trust_policy(v[0], v[2], args.oidc_audience, v[1])),
            opts=on)
        iam.RolePolicy(f"{name}-role-access", role=self.role.name, name="images-objects",
                           policy=self.bucket.arn.apply(access_policy), opts=on)

        self.distribution = None if cell.images.strict_residency else self._distribution(name, args, on)
        distribution_arn: Input[str | None] = self.distribution.arn if self.distribution else None
        s3.BucketPolicy(
            f"{name}-policy", bucket=bucket,
            policy=Output.all(self.bucket.arn, self.role.arn, distribution_arn).apply(
                lambda v: bucket_policy(v[0], v[1], v[2])),
            # The public access block must exist first, or the policy briefly stands without it.
            opts=ResourceOptions(parent=self, provider=self.provider, depends_on=[self.bucket, block]))

        outputs: dict[str, Any] = {"bucket": self.bucket.bucket, "role_arn": self.role.arn,
                                   "region": cell.aws_region}
        if self.distribution is not None:
            outputs["cdn_domain"] = self.distribution.domain_name
        self.register_outputs(outputs)

    def _distribution(self, name: str, args: ImagesArgs, on: ResourceOptions) -> cloudfront.Distribution:
        cell = args.cell
        oac = cloudfront.OriginAccessControl(
            f"{name}-oac", name=f"{args.bucket_name}-oac"[:64], origin_access_control_origin_type="s3",
            signing_behavior="always", signing_protocol="sigv4", opts=on)
        certificate: cloudfront.DistributionViewerCertificateArgsDict = {"cloudfront_default_certificate": True}
        aliases: list[str] = []
        custom: CdnDomain | None = None
        if cell.images.domain and cell.images.dns_zone:
            custom = cdn_domain(name, domain=cell.images.domain, zone=cell.images.dns_zone, tags=args.tags,
                                parent=self)
            certificate = custom.viewer_certificate()
            aliases = [cell.images.domain]
        origin = "images-bucket"
        distribution = cloudfront.Distribution(
            f"{name}-cdn", enabled=True, is_ipv6_enabled=True, http_version="http2and3",
            comment=f"slotstack {cell.name} images", aliases=aliases, tags=args.tags,
            price_class=RESIDENCIES[cell.residency].cloudfront_price_class,
            origins=[{"domain_name": self.bucket.bucket_regional_domain_name, "origin_id": origin,
                      "origin_access_control_id": oac.id}],
            default_cache_behavior={
                "target_origin_id": origin, "viewer_protocol_policy": "redirect-to-https",
                "allowed_methods": ["GET", "HEAD", "OPTIONS"], "cached_methods": ["GET", "HEAD"],
                "cache_policy_id": CACHING_OPTIMIZED, "response_headers_policy_id": SECURITY_HEADERS,
                "compress": True},
            restrictions={"geo_restriction": {"restriction_type": "none"}},
            viewer_certificate=certificate, opts=on)
        if custom is not None:
            custom.alias(f"{name}-domain", distribution, parent=self)
        return distribution
