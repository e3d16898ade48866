"""`slotstack plan` tells the deployer what needs attention before anything is created."""

from __future__ import annotations

from infra import checklist, environment


def test_staging_lists_the_restricted_region_vcpus_per_family_and_region_and_dns() -> None:
    doc = checklist.attention(environment.load("staging"))
    assert len(doc["restricted_regions"]) == 1
    assert doc["restricted_regions"][0].startswith("cells.eu.secondary_region: 'germanynorth' is an access-restricted")
    vcpus = {(v["family"], v["region"]): (v["at_minimum"], v["at_maximum"]) for v in doc["vcpus"]}
    # Standard_D2s_v5 has 2 vCPUs: us serves 2..4 in eastus2, the standby 1..4 in centralus.
    assert vcpus[("standardDSv5Family", "eastus2")] == (4, 8)
    assert vcpus[("standardDSv5Family", "centralus")] == (2, 8)
    assert vcpus[("standardDSv5Family", "germanynorth")] == (2, 8)
    assert any(d.startswith("us.staging.book.example.com CNAME") for d in doc["dns_records"])


def test_prod_needs_its_route53_zone_and_the_cell_host_names_only() -> None:
    doc = checklist.attention(environment.load("prod"))
    assert doc["restricted_regions"] == []
    assert doc["route53_zones"] == ["book.example.com"], "ACM validation and alias records are written there"
    assert [r.split(" ", 1)[0] for r in doc["dns_records"]] == [
        "us.book.example.com", "eu.book.example.com", "au.book.example.com"]
    lines = checklist.render(doc)
    assert lines[0] == "needs attention before `pulumi up`:"
    assert "  restricted regions: none" in lines


def test_dev_b2s_counts_against_the_bs_family() -> None:
    doc = checklist.attention(environment.load("dev"))
    assert doc["vcpus"] == [{"family": "standardBSFamily", "region": "eastus2", "at_minimum": 2, "at_maximum": 4}]
    assert doc["accelerated_networking"] == {"us": False}
