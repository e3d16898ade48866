"""Availability tests: workspace-based Application Insights, standard web tests from 5+ locations on 3+ continents."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from infra import environment
from infra.mocks import Plan, evaluate
from infra.observability.availability import Availability, AvailabilityArgs
from infra.observability.locations import HOME_CONTINENT, TEST_LOCATIONS, continent_of, pick_locations
from infra.residency import RESIDENCIES
from tests.plans import ENVIRONMENTS, of_cell


@pytest.fixture(scope="module")
def plans(plan_of: Callable[[str], Plan]) -> dict[str, tuple[environment.Environment, Plan]]:
    return {name: (environment.load(name), plan_of(name)) for name in ENVIRONMENTS}


def test_location_table_names_every_continent_and_no_id_twice() -> None:
    ids = [location.id for location in TEST_LOCATIONS]
    assert len(ids) == len(set(ids)) == 16
    assert {location.continent for location in TEST_LOCATIONS} == {
        "North America", "South America", "Europe", "Asia", "Oceania"}
    assert continent_of("us-va-ash-azr") == "North America"
    assert continent_of("emea-nl-ams-azr") == "Europe"
    assert continent_of("apac-sg-sin-azr") == "Asia"
    # Azure's id says Sydney "emea": the table must go by where the probes run.
    assert continent_of("emea-au-syd-edge") == "Oceania"
    with pytest.raises(ValueError, match="unknown availability test location 'mars-1'"):
        continent_of("mars-1")


@pytest.mark.parametrize("residency", sorted(RESIDENCIES))
@pytest.mark.parametrize("count", [5, 6, 9, 16])
def test_picked_locations_are_distinct_span_three_continents_and_start_at_home(residency: str, count: int) -> None:
    picked = pick_locations(residency, count)
    assert len(picked) == len(set(picked)) == count
    assert len({continent_of(p) for p in picked}) >= 3, picked
    assert continent_of(picked[0]) == HOME_CONTINENT[residency], "the customers' own continent probes first"


def test_more_locations_than_azure_offers_is_refused() -> None:
    with pytest.raises(ValueError, match="availability_locations: 17 is out of range; Azure offers 16"):
        pick_locations("us", 17)


def test_each_cell_has_workspace_based_app_insights_in_its_primary_region(plans) -> None:
    for name, (env, plan) in plans.items():
        for cell in env.cells.values():
            components = of_cell(plan, cell.name, "azure-native:applicationinsights:Component")
            assert len(components) == 1, f"{name}/{cell.name}"
            component = components[0].inputs
            assert component["ingestionMode"] == "LogAnalytics", "classic Application Insights is retired"
            assert component["workspaceResourceId"].endswith(f"/workspaces/law-slotstack-{name}-{cell.name}")
            assert component["location"] == cell.primary_region


def test_standard_web_tests_on_healthz_and_booking_page(plans) -> None:
    for name, (env, plan) in plans.items():
        for cell in env.cells.values():
            component = of_cell(plan, cell.name, "azure-native:applicationinsights:Component")[0]
            tests = {t.inputs["request"]["requestUrl"]: t
                     for t in of_cell(plan, cell.name, "azure-native:applicationinsights:WebTest")}
            assert set(tests) == {f"https://{cell.hostname}/healthz",
                                  f"https://{cell.hostname}/demo-{cell.name}"}, f"{name}/{cell.name}"
            for url, test in tests.items():
                web = test.inputs
                where = f"{name}/{cell.name} web test {url}"
                assert web["kind"] == web["webTestKind"] == "standard", f"{where}: must be a standard test"
                assert web["retryEnabled"] is True, f"{where}: retries must be on"
                assert web["validationRules"]["sSLCheck"] is True, f"{where}: TLS check off"
                assert web["validationRules"]["sSLCertRemainingLifetimeCheck"] >= 14, f"{where}: cert lifetime"
                assert web["validationRules"]["expectedHttpStatusCode"] == 200
                locations = [loc["location"] for loc in web["locations"]]
                assert len(locations) == env.alerts.availability_locations >= 5, where
                assert len({continent_of(loc) for loc in locations}) >= 3, f"{where}: {locations}"
                assert locations == pick_locations(cell.residency, env.alerts.availability_locations)
                assert web["location"] == cell.primary_region
                hidden = [k for k in web["tags"] if k.startswith("hidden-link:")]
                assert len(hidden) == 1, f"{where}: no hidden-link tag"
                assert web["tags"][hidden[0]] == "Resource", f"{where}: hidden-link tag value"
                assert hidden[0].endswith(f"/components/{component.name}"), f"{where}: linked to another component"
                assert web["tags"]["cell"] == cell.name
                assert web["syntheticMonitorId"] == web["webTestName"]
            booking = tests[f"https://{cell.hostname}/demo-{cell.name}"].inputs["validationRules"]
            assert booking["contentValidation"] == {"contentMatch": "Consultation", "ignoreCase": False,
                                                    "passIfTextFound": True}, "the page must show the demo service"
            assert "contentValidation" not in tests[f"https://{cell.hostname}/healthz"].inputs["validationRules"]


def test_the_number_of_locations_follows_the_environment(changed_prod: tuple[environment.Environment, Plan]) -> None:
    env, plan = changed_prod
    tests = plan.of_type("azure-native:applicationinsights:WebTest")
    assert len(tests) == 2 * len(env.cells)
    for test in tests:
        assert len(test.inputs["locations"]) == env.alerts.availability_locations == 7, test.name


def test_too_few_continents_is_refused() -> None:
    european = [*[loc.id for loc in TEST_LOCATIONS if loc.continent == "Europe"][:4], "us-va-ash-azr"]
    args = AvailabilityArgs("rg", "westeurope", "/ws", "appi", "eu.book.example.com", european, {}, "/demo-eu")
    with pytest.raises(ValueError, match="on >= 3 continents; got 5 on"):
        evaluate("dev", lambda: Availability("a", args))


def test_a_relative_booking_path_is_refused() -> None:
    args = AvailabilityArgs("rg", "eastus2", "/ws", "appi", "us.book.example.com", pick_locations("us", 5), {},
                            booking_path="demo-us")
    with pytest.raises(ValueError, match="must start with '/'"):
        evaluate("dev", lambda: Availability("a", args))
