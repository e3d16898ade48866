"""Failover: `failover_plan` and Traffic Manager before and after `active_region: secondary`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from infra import environment, naming
from infra.cell import fleet_sizes
from infra.environment import Environment
from infra.failover import failover_plan
from infra.mocks import Plan, evaluate
from infra.network.traffic_manager import TrafficManager, TrafficManagerArgs
from infra.observability.cell_observability import by_region
from infra.observability.describe import describe_failover
from tests.infra.cells import cell_resources
from tests.plans import by_id, failed_over, of_cell

TM = "azure-native:trafficmanager:Profile"


@pytest.fixture(scope="module")
def prod() -> Environment:
    return environment.load("prod")


@pytest.fixture(scope="module")
def before(plan_of: Callable[[str], Plan]) -> Plan:
    return plan_of("prod")


@pytest.fixture(scope="module")
def after(changed_prod: tuple[Environment, Plan]) -> Plan:
    """prod with eu and au failed over (us stays)."""
    return changed_prod[1]


def _profile(plan: Plan, cell: str) -> dict[str, Any]:
    [profile] = of_cell(plan, cell, TM)
    return profile.inputs


def _gateway_fqdns(plan: Plan, cell: environment.Cell) -> dict[str, str]:
    """Region -> the public host name of that region's gateway, followed from the gateway to its address."""
    resources, fqdns = by_id(plan), {}
    for region, gateway in cell_resources(plan, cell).gateways.items():
        [frontend] = [f for f in gateway.inputs["frontendIPConfigurations"] if "publicIPAddress" in f]
        address = resources[frontend["publicIPAddress"]["id"]]
        fqdns[region] = f"{address.inputs['dnsSettings']['domainNameLabel']}.{region}.cloudapp.azure.com"
    return fqdns


def _priorities(plan: Plan, cell: str) -> dict[str, float]:
    return {e["endpointLocation"]: e["priority"] for e in _profile(plan, cell)["endpoints"]}


def test_plan_before_failover_serves_from_the_primary(prod: Environment) -> None:
    plan = failover_plan(prod.cells["eu"])
    assert (plan.serving_region, plan.standby_region) == ("westeurope", "northeurope")
    assert (plan.serving_fleet.region, plan.serving_fleet.min, plan.serving_fleet.max) == ("westeurope", 3, 12)
    assert (plan.standby_fleet.region, plan.standby_fleet.min, plan.standby_fleet.max) == ("northeurope", 1, 12)
    assert not plan.replica_promoted
    assert plan.database_writer_region == "westeurope"
    assert plan.replica_region == "northeurope"
    assert plan.priorities == {"westeurope": 1, "northeurope": 2}


def test_plan_after_failover_promotes_the_replica_and_scales_the_standby_to_primary_capacity(prod) -> None:
    cell = dataclasses.replace(prod.cells["eu"], active_region="secondary")
    plan = failover_plan(cell)
    assert (plan.serving_region, plan.standby_region) == ("northeurope", "westeurope")
    assert plan.fleet_in("northeurope").min == prod.cells["eu"].fleet.min == 3
    assert plan.fleet_in("northeurope").max == prod.cells["eu"].fleet.max == 12
    assert plan.fleet_in("westeurope").min == prod.cells["eu"].fleet.standby == 1
    assert plan.replica_promoted
    assert plan.database_writer_region == "northeurope"
    assert plan.replica_region == "westeurope", "fail back rebuilds the replica in the old primary region"
    assert plan.priorities == {"northeurope": 1, "westeurope": 2}
    with pytest.raises(ValueError, match="'uksouth' is neither its serving region northeurope"):
        plan.fleet_in("uksouth")


def test_failover_without_a_replica_is_refused() -> None:
    dev = environment.load("dev")
    with pytest.raises(ValueError, match=r"'secondary' needs database\.replica: true"):
        failover_plan(dataclasses.replace(dev.cells["us"], active_region="secondary"))


def test_traffic_manager_profile_is_priority_routed_with_https_healthz_probes(before: Plan, prod) -> None:
    for cell in prod.cells.values():
        profile, where = _profile(before, cell.name), f"prod/{cell.name} Traffic Manager"
        assert profile["location"] == "global", where
        assert profile["trafficRoutingMethod"] == "Priority", where
        relative = f"slotstack-prod-{cell.name}-{naming.suffix('prod', cell.name)}"
        assert profile["dnsConfig"] == {"relativeName": relative, "ttl": 30}, where
        monitor = profile["monitorConfig"]
        assert (monitor["protocol"], monitor["port"], monitor["path"]) == ("HTTPS", 443, "/healthz"), where
        assert monitor["customHeaders"] == [{"name": "Host", "value": cell.hostname}], where
        assert {e["endpointLocation"]: e["target"] for e in profile["endpoints"]} == _gateway_fqdns(before, cell), where
        assert all(e["endpointStatus"] == "Enabled" for e in profile["endpoints"]), where
        # A failover changes the profile while the primary region's resource groups cannot be written.
        assert profile["resourceGroupName"] == f"rg-slotstack-prod-{cell.name}-{cell.secondary_region}", where


def test_traffic_manager_priorities_flip_for_the_failed_over_cells_only(before: Plan, after: Plan) -> None:
    assert _priorities(before, "eu") == {"westeurope": 1, "northeurope": 2}
    assert _priorities(after, "eu") == {"northeurope": 1, "westeurope": 2}
    assert _priorities(after, "au") == {"australiasoutheast": 1, "australiaeast": 2}
    assert _priorities(after, "us") == _priorities(before, "us") == {"eastus2": 1, "centralus": 2}, "us must not move"


def test_after_failover_the_alerts_watch_the_promoted_database_and_the_scaled_fleet(prod, after: Plan) -> None:
    eu = cell_resources(after, prod.cells["eu"])
    alerts = of_cell(after, "eu", "azure-native:monitor:MetricAlert")
    rules = {r.name.removeprefix("eu-obs-alerts-"): r.inputs for r in alerts}
    assert rules["db-cpu"]["scopes"] == [eu.databases["northeurope"].id], "CPU of the promoted writer"
    assert rules["fleet-cpu"]["scopes"] == [eu.scale_sets["northeurope"].id]
    assert rules["gateway-unhealthy-hosts"]["scopes"] == [eu.gateways["northeurope"].id]
    assert rules["replica-lag"]["scopes"] == [eu.databases["westeurope"].id], "the rebuilt replica"


def test_dev_has_only_the_primary_endpoint(plan_of: Callable[[str], Plan]) -> None:
    assert _priorities(plan_of("dev"), "us") == {"eastus2": 1}


def test_a_gateway_outside_the_cell_is_refused(prod) -> None:
    cell = prod.cells["eu"]
    args = TrafficManagerArgs(cell, "rg", "tm", "tm-eu", {"westeurope": "a.example.com", "uksouth": "b.example.com"},
                              {})
    with pytest.raises(ValueError, match=r"regions \['uksouth'\] outside the cell"):
        evaluate("prod", lambda: TrafficManager("eu-tm", args))


def test_no_gateway_in_the_serving_region_is_refused(prod) -> None:
    cell = dataclasses.replace(prod.cells["eu"], active_region="secondary")
    args = TrafficManagerArgs(cell, "rg", "tm", "tm-eu", {"westeurope": "a.example.com"}, {})
    with pytest.raises(ValueError, match="no gateway FQDN for the serving region northeurope"):
        evaluate("prod", lambda: TrafficManager("eu-tm", args))


def test_ids_keyed_by_region_role_are_rekeyed_by_region(prod) -> None:
    cell = prod.cells["au"]
    assert by_region(cell, {"primary": "a", "secondary": "b"}) == {"australiaeast": "a", "australiasoutheast": "b"}
    with pytest.raises(ValueError, match=r"region roles \['tertiary'\] are not primary or secondary"):
        by_region(cell, {"tertiary": "c"})


def test_plan_listing_shows_the_failover_state_of_each_cell(prod) -> None:
    env = failed_over(prod, "au")
    rows = {row["cell"]: row for row in describe_failover(env)}
    assert rows["au"]["serving_region"] == "australiasoutheast"
    assert rows["au"]["replica_promoted"] is True
    assert rows["au"]["fleets"] == {"australiasoutheast": {"min": 3, "max": 8}, "australiaeast": {"min": 1, "max": 8}}
    assert rows["au"]["traffic_manager_priorities"] == {"australiasoutheast": 1, "australiaeast": 2}
    assert rows["us"]["serving_region"] == "eastus2"
    assert rows["us"]["replica_promoted"] is False


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_the_fleet_sizes_follow_the_same_switch(name: str) -> None:
    # The Cell sizes the scale sets; they must agree with the plan Traffic Manager follows.
    env = environment.load(name)
    for spec in env.cells.values():
        states = ["primary", "secondary"] if spec.database.replica else ["primary"]
        for active in states:
            cell = dataclasses.replace(spec, active_region=active)
            plan = failover_plan(cell)
            roles = {"primary": cell.primary_region, "secondary": cell.secondary_region}
            expected = {role: (plan.fleet_in(region).min, plan.fleet_in(region).max)
                        for role, region in roles.items() if plan.fleet_in(region).min > 0}
            assert fleet_sizes(cell) == expected, f"{name}/{cell.name} active_region={active}"
