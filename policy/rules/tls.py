"""TLS 1.2 or newer wherever clients or services connect: gateway, storage, PostgreSQL, CloudFront."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policy.rules.common import dig

NAME = "tls-minimum-1-2"
DESCRIPTION = ("Application Gateway SSL policy, storage accounts, PostgreSQL server parameters and CloudFront "
               "distributions accept TLS 1.2 or newer only, and never serve plain HTTP.")
GATEWAY_POLICIES = ("AppGwSslPolicy20220101", "AppGwSslPolicy20220101S")
GATEWAY_PROTOCOLS = ("TLSv1_2", "TLSv1_3")
STORAGE_VERSIONS = ("TLS1_2", "TLS1_3")
PG_VERSIONS = ("TLSv1.2", "TLSv1.3")
CLOUDFRONT_VERSIONS = ("TLSv1.2_2018", "TLSv1.2_2019", "TLSv1.2_2021", "TLSv1.2_2025", "TLSv1.3_2025")


def _gateway(props: Mapping[str, Any]) -> list[str]:
    policy = dig(props, "sslPolicy") or {}
    kind, name = policy.get("policyType"), policy.get("policyName")
    if kind == "Predefined" and name in GATEWAY_POLICIES:
        return []
    if kind in ("Custom", "CustomV2") and policy.get("minProtocolVersion") in GATEWAY_PROTOCOLS:
        return []
    shown = f"{kind} {name or policy.get('minProtocolVersion')}" if policy else "the service default (TLS 1.0)"
    return [f"sslPolicy is {shown}: clients could negotiate TLS below 1.2; use policyType Predefined with "
            f"policyName {GATEWAY_POLICIES[-1]}"]


def _storage(props: Mapping[str, Any]) -> list[str]:
    problems = []
    if props.get("minimumTlsVersion") not in STORAGE_VERSIONS:
        problems.append(f"minimumTlsVersion is {props.get('minimumTlsVersion')!r}: set it to TLS1_2")
    if props.get("enableHttpsTrafficOnly") is False:
        problems.append("enableHttpsTrafficOnly is false: plain HTTP reaches the account; set it to true")
    return problems


def _pg_parameter(props: Mapping[str, Any]) -> list[str]:
    name, value = props.get("configurationName"), str(props.get("value", ""))
    if name == "ssl_min_protocol_version" and value not in PG_VERSIONS:
        return [f"ssl_min_protocol_version is {value!r}: set it to TLSv1.2"]
    if name == "require_secure_transport" and value.lower() != "on":
        return [f"require_secure_transport is {value!r}: unencrypted connections would be accepted; set it to on"]
    return []


def _cloudfront(props: Mapping[str, Any]) -> list[str]:
    problems = []
    behaviors = [dig(props, "defaultCacheBehavior") or {}, *(props.get("orderedCacheBehaviors") or [])]
    for behavior in behaviors:
        policy = behavior.get("viewerProtocolPolicy") if isinstance(behavior, Mapping) else None
        if policy not in ("redirect-to-https", "https-only"):
            problems.append(f"viewerProtocolPolicy is {policy!r}: images would be served over plain HTTP; "
                            "use redirect-to-https")
    viewer = dig(props, "viewerCertificate") or {}
    # The *.cloudfront.net certificate's security policy is fixed by AWS; only custom ones can be set.
    if viewer.get("acmCertificateArn") or viewer.get("iamCertificateId"):
        version = viewer.get("minimumProtocolVersion")
        if version not in CLOUDFRONT_VERSIONS:
            problems.append(f"viewerCertificate.minimumProtocolVersion is {version!r}: set it to TLSv1.2_2021")
    return problems


CHECKS = {
    "azure-native:network:ApplicationGateway": _gateway,
    "azure-native:storage:StorageAccount": _storage,
    "azure-native:dbforpostgresql:Configuration": _pg_parameter,
    "aws:cloudfront/distribution:Distribution": _cloudfront,
}


def check(type_: str, props: Mapping[str, Any]) -> list[str]:
    """Violations of this policy by one resource (empty when compliant or not applicable)."""
    rule = CHECKS.get(type_)
    return rule(props) if rule else []
