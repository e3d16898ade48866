"""Custom CloudFront domains converge in one `pulumi up`: each alias has a validated us-east-1 certificate
whose DNS validation record the program writes, and an alias record pointing at the distribution."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import cli, environment, mocks
from infra.storage.cdn_domain import CLOUDFRONT_ZONE_ID

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
RECORD = "aws:route53/record:Record"
VALIDATION = "aws:acm/certificateValidation:CertificateValidation"


def _by_id(plan: mocks.Plan) -> dict[str, mocks.Recorded]:
    return {r.id: r for r in plan.resources}


def test_every_alias_has_a_validated_acm_certificate_and_records(plan_of: Callable[[str], mocks.Plan]) -> None:
    plan = plan_of("prod")
    aliased = [d for d in plan.of_type(DISTRIBUTION) if d.inputs.get("aliases")]
    assert {a for d in aliased for a in d.inputs["aliases"]} == {"images.us.book.example.com",
                                                                 "status.book.example.com"}
    validations = {v.inputs["certificateArn"]: v for v in plan.of_type(VALIDATION)}
    records = plan.of_type(RECORD)
    for distribution in aliased:
        [domain] = distribution.inputs["aliases"]
        viewer = distribution.inputs["viewerCertificate"]
        assert "cloudfrontDefaultCertificate" not in viewer, f"{distribution.name}: an alias on the default certificate"
        assert viewer["sslSupportMethod"] == "sni-only"
        assert viewer["minimumProtocolVersion"] == "TLSv1.2_2021"
        certificates = [c for c in plan.of_type("aws:acm/certificate:Certificate")
                        if c.inputs["domainName"] == domain]
        assert len(certificates) == 1
        assert plan.aws_region_of(certificates[0]) == "us-east-1", "CloudFront takes certificates from us-east-1 only"
        validation = validations[certificates[0].outputs["arn"]]
        [fqdn] = validation.inputs["validationRecordFqdns"]
        [record] = [r for r in records if r.outputs.get("fqdn") == fqdn]
        assert record.inputs["type"] == "CNAME"
        assert record.inputs["records"] == ["_fedcba9876543210.acm-validations.aws."]
        aliases = [r for r in records if r.inputs["name"] == domain]
        assert sorted(r.inputs["type"] for r in aliases) == ["A", "AAAA"]
        for alias in aliases:
            assert alias.inputs["aliases"][0]["zoneId"] == CLOUDFRONT_ZONE_ID
            assert alias.inputs["zoneId"] == "Z0MOCKZONE", "written into the hosted zone the environment names"


def test_validate_refuses_a_custom_domain_without_its_route53_zone(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    source = environment.ENVIRONMENTS_DIR / "Pulumi.prod.yaml"
    document: dict[str, Any] = yaml.safe_load(source.read_text(encoding="utf-8"))
    del document["config"]["slotstack:monitor"]["status_dns_zone"]
    document["config"]["slotstack:cells"]["us"]["images"]["dns_zone"] = "other.example.org"
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    assert cli.main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "monitor.status_dns_zone: is required with status_domain 'status.book.example.com'" in out
    assert "cells.us.images.dns_zone: 'other.example.org' does not hold domain 'images.us.book.example.com'" in out
