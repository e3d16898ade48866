"""A custom domain on a CloudFront distribution: its ACM certificate, validated and aliased in one `pulumi up`.

CloudFront takes an alias only with a valid ACM certificate from us-east-1
(https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cnames-and-https-requirements.html),
and ACM issues one only after its DNS validation record exists
(https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html). Both records go into the
Route 53 hosted zone the environment names, so nothing waits on a hand step (without them
CertificateValidation times out after ~75 minutes).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
from pulumi_aws import acm, cloudfront, route53

from infra.errors import SlotstackError

# CloudFront's fixed hosted zone id for alias records
# (https://docs.aws.amazon.com/Route53/latest/APIReference/API_AliasTarget.html).
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"
MIN_TLS = "TLSv1.2_2021"


@dataclass
class CdnDomain:
    """The validated certificate of one custom domain, and what the alias record needs."""

    domain: str
    zone_id: pulumi.Output[str]
    certificate_arn: pulumi.Output[str]
    provider: aws.Provider
    """The us-east-1 provider (ACM for CloudFront lives there; Route 53 is global)."""

    def viewer_certificate(self) -> cloudfront.DistributionViewerCertificateArgsDict:
        """The distribution's viewer_certificate for this domain."""
        return {"acm_certificate_arn": self.certificate_arn, "ssl_support_method": "sni-only",
                "minimum_protocol_version": MIN_TLS}

    def alias(self, name: str, distribution: cloudfront.Distribution, parent: pulumi.Resource) -> None:
        """Point the domain at `distribution` (A and AAAA alias records)."""
        for record_type in ("A", "AAAA"):
            route53.Record(
                f"{name}-alias-{record_type.lower()}", zone_id=self.zone_id, name=self.domain, type=record_type,
                aliases=[{"name": distribution.domain_name, "zone_id": CLOUDFRONT_ZONE_ID,
                          "evaluate_target_health": False}],
                opts=pulumi.ResourceOptions(parent=parent, provider=self.provider))


def cdn_domain(name: str, *, domain: str, zone: str, tags: dict[str, str], parent: pulumi.Resource) -> CdnDomain:
    """Request the certificate of `domain` in us-east-1, write its validation record into Route 53 zone `zone`
    and wait for it to be issued."""
    provider = aws.Provider(f"{name}-aws-us-east-1", region="us-east-1",
                            default_tags=aws.ProviderDefaultTagsArgs(tags=tags),
                            opts=pulumi.ResourceOptions(parent=parent))
    at_global = pulumi.ResourceOptions(parent=parent, provider=provider)
    hosted = route53.get_zone_output(name=zone, private_zone=False, opts=pulumi.InvokeOptions(provider=provider))
    cert = acm.Certificate(f"{name}-certificate", domain_name=domain, validation_method="DNS",
                               key_algorithm="EC_prime256v1", tags=tags, opts=at_global)
    # One domain, no SANs: exactly one validation record.
    option = cert.domain_validation_options.apply(lambda options: options[0])
    record = route53.Record(
        f"{name}-certificate-validation-record", zone_id=hosted.zone_id,
        name=option.apply(lambda o: o.resource_record_name), type=option.apply(lambda o: o.resource_record_type),
        records=[option.apply(_record_value)], ttl=300, allow_overwrite=True, opts=at_global)
    validated = acm.CertificateValidation(f"{name}-certificate-validation", certificate_arn=cert.arn,
                                              validation_record_fqdns=[record.fqdn], opts=at_global)
    return CdnDomain(domain=domain, zone_id=hosted.zone_id, certificate_arn=validated.certificate_arn,
                     provider=provider)


def _record_value(option: acm.outputs.CertificateDomainValidationOption) -> str:
    """The CNAME value ACM asks for; ACM always returns one for DNS validation, so its absence is a bug."""
    if option.resource_record_value is None:
        raise SlotstackError(f"ACM returned no validation record for {option.domain_name}; "
                             "re-run `pulumi up` (ACM fills it in once the certificate request is processed)")
    return option.resource_record_value
