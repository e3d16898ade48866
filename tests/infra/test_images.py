"""Images on AWS for every committed environment, planned under the mock engine with stand-in ids."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.environment import load
from infra.mocks import Plan, Recorded, evaluate
from infra.residency import RESIDENCIES
from infra.storage.images import CACHING_OPTIMIZED, SECURITY_HEADERS, web_identity_provider
from tests.infra.datatier import (
    ENVIRONMENTS,
    OIDC_AUDIENCE,
    OIDC_ISSUER,
    OIDC_PROVIDER_ARN,
    datatier_plan,
    images,
    principal_of,
)

PARTS = (images,)
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def planned(request: pytest.FixtureRequest) -> tuple[str, Plan]:
    return request.param, datatier_plan(request.param, PARTS)


def _of(plan: Plan, type_: str, cell: str) -> list[Recorded]:
    return [r for r in plan.of_type(type_) if r.name.startswith(f"{cell}-images-")]


def _one(plan: Plan, type_: str, cell: str) -> Recorded:
    found = _of(plan, type_, cell)
    assert len(found) == 1, f"{cell}: expected one {type_}, found {[r.name for r in found]}"
    return found[0]


def _policy(plan: Plan, cell: str) -> dict[str, Any]:
    return json.loads(_one(plan, "aws:s3/bucketPolicy:BucketPolicy", cell).inputs["policy"])


def test_every_aws_resource_uses_the_cells_explicit_provider(planned: tuple[str, Plan]) -> None:
    name, plan = planned
    for cell in load(name).cells.values():
        provider = plan.providers[f"{cell.name}-images-aws"]
        assert provider.inputs["region"] == cell.aws_region
        assert cell.aws_region in RESIDENCIES[cell.residency].aws_regions
        # Provider inputs reach the engine JSON-encoded.
        assert json.loads(provider.inputs["defaultTags"])["tags"]["cell"] == cell.name, (
            f"{name}/{cell.name}: the provider must carry the cell tags as default tags")
        for resource in plan.resources:
            if resource.type.startswith("aws:") and resource.name.startswith(f"{cell.name}-images-"):
                region = plan.aws_region_of(resource)
                expected = "us-east-1" if resource.type.startswith("aws:acm/") else cell.aws_region
                assert region == expected, f"{name} {resource.name}: planned in {region}, expected {expected}"
                if "tags" in resource.inputs:
                    assert resource.tags["cell"] == cell.name, f"{name} {resource.name}: missing cell tags"


def test_bucket_is_private_owner_enforced_encrypted_and_versioned(planned: tuple[str, Plan]) -> None:
    name, plan = planned
    for cell in load(name).cells.values():
        block = _one(plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", cell.name).inputs
        for key in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
            assert block[key] is True, f"{name}/{cell.name}: public access block {key} is not on"
        ownership = _one(plan, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", cell.name).inputs
        assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
        sse = _one(plan, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                   cell.name).inputs
        assert sse["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] in ("AES256", "aws:kms")
        versioning = _one(plan, "aws:s3/bucketVersioning:BucketVersioning", cell.name).inputs
        assert versioning["versioningConfiguration"] == {"status": "Enabled"}
        lifecycle = _one(plan, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", cell.name)
        assert lifecycle.inputs["rules"][0]["noncurrentVersionExpiration"] == {"noncurrentDays": 30}


def test_bucket_policy_denies_plain_http(planned: tuple[str, Plan]) -> None:
    name, plan = planned
    for cell in load(name).cells.values():
        deny = [s for s in _policy(plan, cell.name)["Statement"] if s["Sid"] == "DenyInsecureTransport"]
        assert len(deny) == 1, f"{name}/{cell.name}: no TLS-only statement"
        assert deny[0]["Effect"] == "Deny"
        assert deny[0]["Principal"] == "*"
        assert deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_cloudfront_with_oac_https_managed_policies_and_price_class(planned: tuple[str, Plan]) -> None:
    name, plan = planned
    for cell in load(name).cells.values():
        if cell.images.strict_residency:
            continue
        where = f"{name}/{cell.name}"
        cdn = _one(plan, DISTRIBUTION, cell.name).inputs
        oac = _one(plan, "aws:cloudfront/originAccessControl:OriginAccessControl", cell.name).inputs
        assert (oac["signingBehavior"], oac["signingProtocol"], oac["originAccessControlOriginType"]) == (
            "always", "sigv4", "s3"), f"{where}: OAC must sign always with sigv4"
        assert cdn["origins"][0]["originAccessControlId"] == f"{cell.name}-images-oac-id"
        behavior = cdn["defaultCacheBehavior"]
        assert behavior["viewerProtocolPolicy"] == "redirect-to-https", f"{where}: plain HTTP served"
        assert behavior["cachePolicyId"] == CACHING_OPTIMIZED
        assert behavior["responseHeadersPolicyId"] == SECURITY_HEADERS
        assert cdn["httpVersion"] == "http2and3"
        assert cdn["priceClass"] == RESIDENCIES[cell.residency].cloudfront_price_class
        oac_statement = [s for s in _policy(plan, cell.name)["Statement"] if s["Sid"] == "AllowCloudFrontOAC"]
        assert oac_statement[0]["Principal"] == {"Service": "cloudfront.amazonaws.com"}
        assert oac_statement[0]["Condition"]["StringEquals"]["AWS:SourceArn"].endswith(f"{cell.name}-images-cdn")


def test_au_edges_need_price_class_all() -> None:
    cdn = _one(datatier_plan("prod", PARTS), DISTRIBUTION, "au").inputs
    assert cdn["priceClass"] == "PriceClass_All", "Australian edges are only in PriceClass_All"


def test_custom_domain_gets_a_us_east_1_certificate_with_tls12_2021() -> None:
    plan = datatier_plan("prod", PARTS)
    cert = _one(plan, "aws:acm/certificate:Certificate", "us")
    assert cert.inputs["domainName"] == "images.us.book.example.com"
    assert cert.inputs["validationMethod"] == "DNS"
    assert plan.aws_region_of(cert) == "us-east-1", "CloudFront only accepts certificates from us-east-1"
    viewer = _one(plan, DISTRIBUTION, "us").inputs["viewerCertificate"]
    assert viewer["minimumProtocolVersion"] == "TLSv1.2_2021"
    assert viewer["sslSupportMethod"] == "sni-only"
    assert _one(plan, DISTRIBUTION, "us").inputs["aliases"] == ["images.us.book.example.com"]
    assert not _of(plan, "aws:acm/certificate:Certificate", "au"), "au has no image domain: no certificate"


def test_strict_residency_has_no_cloudfront_and_admits_only_the_role(planned: tuple[str, Plan]) -> None:
    name, plan = planned
    for cell in load(name).cells.values():
        if not cell.images.strict_residency:
            continue
        assert not _of(plan, DISTRIBUTION, cell.name), f"{name}/{cell.name}: CloudFront despite strict residency"
        assert not _of(plan, "aws:cloudfront/originAccessControl:OriginAccessControl", cell.name)
        statements = {s["Sid"]: s for s in _policy(plan, cell.name)["Statement"]}
        assert "AllowCloudFrontOAC" not in statements
        role_arn = statements["AllowServiceRole"]["Principal"]["AWS"]
        assert statements["DenyEveryoneButServiceRole"]["Condition"] == {
            "StringNotEquals": {"aws:PrincipalArn": role_arn}}


def test_strict_residency_cells_exist_in_staging_and_prod() -> None:
    """The committed environments exercise both modes (so the tests above check something)."""
    assert load("prod").cells["eu"].images.strict_residency
    assert not load("prod").cells["us"].images.strict_residency


def test_role_is_assumable_only_by_the_cells_managed_identity(planned: tuple[str, Plan]) -> None:
    name, plan = planned
    issuer = OIDC_ISSUER.removeprefix("https://")
    for cell in load(name).cells.values():
        role = _one(plan, "aws:iam/role:Role", cell.name).inputs
        trust = json.loads(role["assumeRolePolicy"])["Statement"]
        assert len(trust) == 1
        assert trust[0]["Principal"] == {"Federated": OIDC_PROVIDER_ARN}
        assert trust[0]["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert trust[0]["Condition"]["StringEquals"] == {f"{issuer}:aud": OIDC_AUDIENCE,
                                                         f"{issuer}:sub": principal_of(cell)}


def test_role_access_is_limited_to_the_cells_bucket(planned: tuple[str, Plan]) -> None:
    name, plan = planned
    for cell in load(name).cells.values():
        policy = json.loads(_one(plan, "aws:iam/rolePolicy:RolePolicy", cell.name).inputs["policy"])
        bucket = f"{cell.name}-images-bucket"
        for statement in policy["Statement"]:
            resources = [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
            assert all(r.rstrip("/*").endswith(bucket) for r in resources), f"{name} {resources}: beyond the bucket"
        actions = {a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str)
                                                            else s["Action"])}
        assert actions == {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"}


def test_web_identity_provider_trusts_the_entra_issuer_for_the_audience() -> None:
    plan = evaluate("prod", lambda: web_identity_provider("entra", OIDC_ISSUER, OIDC_AUDIENCE, {"cell": "all"})
                    and None)
    provider = plan.named("entra").inputs
    assert provider["url"] == OIDC_ISSUER
    assert provider["clientIdLists"] == [OIDC_AUDIENCE]
