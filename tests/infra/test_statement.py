"""The residency statement of each committed environment, from the program's own plan."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable

import pytest

from infra.environment import load
from infra.mocks import Plan
from infra.statement import assess, render, summary
from tests.plans import ENVIRONMENTS


@pytest.fixture(scope="module")
def plan_copy(plan_of: Callable[[str], Plan]) -> Callable[[str], Plan]:
    """A committed environment's plan that a test may change (the shared one is read-only)."""
    def copy_of(name: str) -> Plan:
        plan = plan_of(name)
        return dataclasses.replace(plan, resources=copy.deepcopy(plan.resources),
                                   providers=copy.deepcopy(plan.providers), outputs={})
    return copy_of


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def planned(request: pytest.FixtureRequest, plan_of: Callable[[str], Plan]) -> tuple[str, Plan]:
    return request.param, plan_of(request.param)


def test_every_cell_passes_and_lists_each_copy_of_data(planned: tuple[str, Plan]) -> None:
    name, plan = planned
    env = load(name)
    found = assess(env, plan)
    assert found.ok, f"{name}: {summary(env, plan)}"
    assert [c.name for c in found.cells] == list(env.cells)
    for cell in found.cells:
        spec = env.cells[cell.name]
        regions = {(p.resource.split("-", 1)[1], p.region) for p in cell.data}
        assert ("pg-server", spec.primary_region) in regions
        assert ("backup-account", spec.primary_region) in regions
        assert ("images-bucket", spec.aws_region) in regions
        assert (("pg-replica", spec.secondary_region) in regions) == spec.database.replica
        # GZRS always has its copy in the pair; PostgreSQL only with geo-redundant backup.
        assert ("backup-account", spec.secondary_region) in regions
        geo_pg = [p for p in cell.data if p.holds.startswith("geo-redundant copy of") and "pg-server" in p.resource]
        assert bool(geo_pg) == spec.database.geo_redundant_backup


def test_prod_page_answers_in_which_countries_data_is_stored(plan_of: Callable[[str], Plan]) -> None:
    page = render(load("prod"), plan_of("prod"))
    assert "**Overall verdict: PASS**" in page
    assert "## Cell `eu`: European Union" in page
    assert "Countries where customer data is stored or processed: Germany, Ireland, Netherlands." in page
    assert "Countries where customer data is stored or processed: Australia." in page
    assert "| `eu-pg-replica` | tenant database (bookings, customers) | northeurope | Ireland | inside |" in page
    assert "| `au-images-bucket` | tenant images | ap-southeast-2 | Australia | inside |" in page
    # Exempt global resources are listed with their reason.
    assert ("| `us-images-certificate` | `aws:acm/certificate:Certificate` | public TLS certificate of the image "
            "domain; CloudFront only accepts certificates from us-east-1 |") in page


def test_edge_caching_is_disclosed_only_where_there_is_a_distribution(plan_of: Callable[[str], Plan]) -> None:
    page = render(load("prod"), plan_of("prod"))
    eu = page.split("## Cell `eu`")[1].split("## Cell `au`")[0]
    au = page.split("## Cell `au`")[1]
    assert "cached by CloudFront" not in eu, "eu has strict image residency: no CloudFront"
    assert "cached by CloudFront (PriceClass_All) at edges in every country with a CloudFront edge, worldwide" in au


def test_page_is_deterministic(plan_copy: Callable[[str], Plan]) -> None:
    """The page is committed: the same plan renders the same bytes whatever the registration order."""
    plan = plan_copy("staging")
    shuffled = plan_copy("staging")
    shuffled.resources.reverse()
    assert render(load("staging"), plan) == render(load("staging"), shuffled)


def test_a_bucket_in_the_wrong_region_fails_the_cell(plan_copy: Callable[[str], Plan]) -> None:
    env, plan = load("prod"), plan_copy("prod")
    provider = plan.providers["au-images-aws"]
    provider.inputs["region"] = "us-west-2"
    found = assess(env, plan)
    au = next(c for c in found.cells if c.name == "au")
    assert not found.ok
    assert [p.problem for p in au.violations] == [
        "us-west-2 (United States) is outside residency au (Australia); allowed: ap-southeast-2, ap-southeast-4"]
    page = render(env, plan)
    assert "**Overall verdict: FAIL**" in page
    assert f"Verdict: **FAIL: 1 of {len(au.data)} placements are outside Australia**" in page
    assert "## Cell `us`: United States\n\nVerdict: **PASS" in page


def test_data_of_no_cell_is_reported(plan_copy: Callable[[str], Plan]) -> None:
    env, plan = load("dev"), plan_copy("dev")
    account = plan.named("us-backup-account")
    account.inputs["tags"] = {**account.inputs["tags"], "cell": "zz"}
    found = assess(env, plan)
    assert not found.ok
    assert found.orphans[0].resource == "us-backup-account"
    assert "## Data-bearing resources of no cell" in render(env, plan)


def test_summary_is_plain_text_per_cell(plan_of: Callable[[str], Plan]) -> None:
    env, plan = load("staging"), plan_of("staging")
    text = summary(env, plan)
    lines = text.splitlines()
    assert lines[0] == "residency of staging: PASS"
    eu = next(c for c in assess(env, plan).cells if c.name == "eu")
    assert len(eu.data) > 6, "gateways, fleets, vault, workspace, databases, storage and images all hold data"
    assert f"cell eu (eu): PASS: all {len(eu.data)} placements of customer data are inside European Union" in lines
    assert any(line.split()[:2] == ["eu-central-1", "Germany"] for line in lines)
