"""Each alert's criteria, threshold, severity and action group, per cell, from the environment's thresholds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from infra import environment
from infra.environment import Cell, Environment
from infra.mocks import Plan
from tests.infra.cells import cell_resources
from tests.plans import ENVIRONMENTS, of_cell

METRIC = "azure-native:monitor:MetricAlert"
LOG = "azure-native:monitor:ScheduledQueryRule"
PG = "Microsoft.DBforPostgreSQL/flexibleServers"
AGW = "Microsoft.Network/applicationGateways"
VMSS = "Microsoft.Compute/virtualMachineScaleSets"


@pytest.fixture(scope="module")
def plans(plan_of: Callable[[str], Plan]) -> dict[str, tuple[Environment, Plan]]:
    return {name: (environment.load(name), plan_of(name)) for name in ENVIRONMENTS}


def _rules(plan: Plan, cell: str) -> dict[str, dict[str, Any]]:
    prefix = f"{cell}-obs-alerts-"
    return {r.name.removeprefix(prefix): r.inputs for r in [*of_cell(plan, cell, METRIC), *of_cell(plan, cell, LOG)]
            if r.name.startswith(prefix)}


def _groups(plan: Plan) -> dict[str, str]:
    """Action group id -> channel."""
    return {r.id: r.name.removeprefix("oncall-") for r in plan.of_type("azure-native:monitor:ActionGroup")}


Expected = tuple[int, str, str, str, str, float, str, str]


def expected_metric_alerts(env: Environment, plan: Plan, cell: Cell) -> dict[str, Expected]:
    """key -> (severity, scope id, namespace, metric, aggregation, threshold, operator, window)."""
    of, a = cell_resources(plan, cell), env.alerts
    p, s = cell.primary_region, cell.secondary_region
    gateway, database, fleet = of.gateways[p].id, of.databases[p].id, of.scale_sets[p].id
    table: dict[str, Expected] = {
        "gateway-unhealthy-hosts": (2, gateway, AGW, "UnhealthyHostCount", "Minimum", 0, "GreaterThan", "PT5M"),
        "db-cpu": (2, database, PG, "cpu_percent", "Average", a.cpu_percent, "GreaterThan", "PT15M"),
        "db-storage": (2, database, PG, "storage_percent", "Maximum", a.storage_percent, "GreaterThan", "PT15M"),
        "db-failed-connections": (2, database, PG, "connections_failed", "Total", a.failed_connections_per_5m,
                                  "GreaterThan", "PT5M"),
        "fleet-cpu": (2, fleet, VMSS, "Percentage CPU", "Average", a.cpu_percent, "GreaterThan", "PT15M"),
    }
    if cell.database.replica:
        table["replica-lag"] = (2, of.databases[s].id, PG, "physical_replication_delay_in_seconds", "Maximum",
                                a.replica_lag_seconds, "GreaterThan", "PT5M")
    return table


def test_every_cell_has_the_documented_alerts_and_no_others(plans) -> None:
    common = {"availability-healthz", "availability-booking", "gateway-5xx-ratio", "gateway-unhealthy-hosts",
              "waf-blocked-spike", "db-cpu", "db-storage", "db-failed-connections", "fleet-cpu"}
    for name, (env, plan) in plans.items():
        for cell in env.cells.values():
            expected = common | ({"replica-lag"} if cell.database.replica else set())
            assert set(_rules(plan, cell.name)) == expected, f"{name}/{cell.name}"


def test_metric_alerts_watch_the_right_resource_with_the_environment_threshold(plans) -> None:
    for name, (env, plan) in plans.items():
        groups = _groups(plan)
        for cell in env.cells.values():
            rules = _rules(plan, cell.name)
            for key, (sev, scope, namespace, metric, agg, threshold, op, window) in \
                    expected_metric_alerts(env, plan, cell).items():
                rule, where = rules[key], f"{name}/{cell.name} alert {key}"
                assert rule["location"] == "global"
                assert rule["resourceGroupName"] == cell_resources(plan, cell).resource_groups[cell.secondary_region], (
                    f"{where}: a failover re-points the rules, so they live in the secondary region's group")
                assert rule["scopes"] == [scope], f"{where}: watches {rule['scopes']}"
                assert rule["severity"] == sev, where
                assert rule["windowSize"] == window, where
                assert rule["targetResourceType"] == namespace, where
                criteria = rule["criteria"]
                assert criteria["odataType"] == "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria"
                [criterion] = criteria["allOf"]
                assert criterion == {"criterionType": "StaticThresholdCriterion", "name": key, "metricName": metric,
                                     "metricNamespace": namespace, "operator": op, "threshold": threshold,
                                     "timeAggregation": agg}, where
                assert [a["actionGroupId"] for a in rule["actions"]] == [
                    gid for gid, channel in groups.items() if channel == "notify"], f"{where}: Sev2 is email only"


def test_availability_alerts_fire_when_locations_minus_two_fail_and_page(plans) -> None:
    for name, (env, plan) in plans.items():
        groups = _groups(plan)
        for cell in env.cells.values():
            rules = _rules(plan, cell.name)
            tests = {t.name.rsplit("-", 1)[-1]: t for t in of_cell(plan, cell.name,
                                                                     "azure-native:applicationinsights:WebTest")}
            component = of_cell(plan, cell.name, "azure-native:applicationinsights:Component")[0]
            for key, severity in (("healthz", 0), ("booking", 1)):
                rule, where = rules[f"availability-{key}"], f"{name}/{cell.name} availability-{key}"
                criteria = rule["criteria"]
                assert criteria["odataType"] == "Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria"
                assert criteria["failedLocationCount"] == env.alerts.availability_locations - 2, where
                assert criteria["webTestId"].endswith(f"/webTests/{tests[key].inputs['webTestName']}"), where
                assert criteria["componentId"].endswith(f"/components/{component.name}"), where
                assert rule["scopes"] == [criteria["webTestId"], criteria["componentId"]], where
                assert rule["severity"] == severity, where
                assert [groups[a["actionGroupId"]] for a in rule["actions"]] == ["page"], f"{where}: must page"


def test_log_alerts_query_the_cell_workspace(plans) -> None:
    for name, (env, plan) in plans.items():
        groups = _groups(plan)
        for cell in env.cells.values():
            rules = _rules(plan, cell.name)
            for key, threshold, severity, channel, column, category in (
                    ("gateway-5xx-ratio", env.alerts.gateway_5xx_percent, 1, "page", "failed_percent",
                     "ApplicationGatewayAccessLog"),
                    ("waf-blocked-spike", env.alerts.waf_blocked_per_5m, 3, "notify", "blocked",
                     "ApplicationGatewayFirewallLog")):
                rule, where = rules[key], f"{name}/{cell.name} {key}"
                assert rule["kind"] == "LogAlert", where
                assert rule["location"] == cell.primary_region, where
                assert len(rule["scopes"]) == 1
                assert rule["scopes"][0].endswith(f"/workspaces/law-slotstack-{name}-{cell.name}"), where
                [criterion] = rule["criteria"]["allOf"]
                assert criterion["threshold"] == threshold, where
                assert criterion["operator"] == "GreaterThan", where
                assert criterion["metricMeasureColumn"] == column
                assert f'Category == "{category}"' in criterion["query"]
                assert column in criterion["query"], f"{where}: the query must produce the measured column"
                assert rule["severity"] == severity, where
                assert [groups[g] for g in rule["actions"]["actionGroups"]] == [channel], where


def test_severity_decides_the_channel(plans) -> None:
    for name, (env, plan) in plans.items():
        groups = _groups(plan)
        for cell in env.cells.values():
            for key, rule in _rules(plan, cell.name).items():
                actions = rule["actions"]
                ids = actions["actionGroups"] if isinstance(actions, dict) else [a["actionGroupId"] for a in actions]
                expected = "page" if rule["severity"] <= 1 else "notify"
                assert [groups[i] for i in ids] == [expected], f"{name}/{cell.name} {key}: Sev{rule['severity']}"


def test_thresholds_follow_the_environment(changed_prod: tuple[Environment, Plan]) -> None:
    env, plan = changed_prod
    assert env.alerts.cpu_percent == 65, "changed_prod changes every threshold"
    rules = _rules(plan, "au")
    assert rules["db-cpu"]["criteria"]["allOf"][0]["threshold"] == 65
    assert rules["fleet-cpu"]["criteria"]["allOf"][0]["threshold"] == 65
    assert rules["db-storage"]["criteria"]["allOf"][0]["threshold"] == 70
    assert rules["replica-lag"]["criteria"]["allOf"][0]["threshold"] == 120
    assert rules["db-failed-connections"]["criteria"]["allOf"][0]["threshold"] == 7
    assert rules["gateway-5xx-ratio"]["criteria"]["allOf"][0]["threshold"] == 0.5
    assert rules["waf-blocked-spike"]["criteria"]["allOf"][0]["threshold"] == 999
    assert rules["availability-healthz"]["criteria"]["failedLocationCount"] == 5
    # Azure has no 7-minute window: "unhealthy for 7 minutes" rounds up to the 15-minute window.
    assert rules["gateway-unhealthy-hosts"]["windowSize"] == "PT15M"
