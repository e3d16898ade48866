"""A cell's alert rules: metric alerts, availability alerts and log alerts, each to one action group.

The 5xx ratio is a log alert over the gateway's access log, not a metric alert: Azure metric
alerts cannot divide one metric by another, and a static count of `FailedRequests` or a dynamic
threshold on `ResponseStatus` would not honour `alerts.gateway_5xx_percent`, a ratio. The access
log gives the exact ratio, at the price of ~5 minutes of ingestion delay; the availability tests
(metric alerts, 1-minute frequency) remain the fast signal for a cell that is down.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypedDict

import pulumi
from pulumi_azure_native import monitor

from infra.environment import Alerts, Cell
from infra.failover import failover_plan
from infra.observability.catalog import AlertSpec, cell_alert_specs

# Metric alerts are evaluated by Azure Monitor's global service; the rule stores no customer data.
METRIC_ALERT_LOCATION = "global"
NAMESPACES = {
    "gateway": "Microsoft.Network/applicationGateways",
    "database": "Microsoft.DBforPostgreSQL/flexibleServers",
    "replica": "Microsoft.DBforPostgreSQL/flexibleServers",
    "fleet": "Microsoft.Compute/virtualMachineScaleSets",
}
SINGLE_RESOURCE = "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria"
WEBTEST_CRITERIA = "Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria"


@dataclass
class CellAlertsArgs:
    """Inputs of `CellAlerts`."""

    cell: Cell
    """The cell (its `active_region` decides which region's resources are watched)."""
    alerts: Alerts
    """`env.alerts`: the thresholds."""
    resource_group_name: pulumi.Input[str]
    """Resource group of the rules: the secondary region's, so that a failover can change them."""
    rule_prefix: str
    """Prefix of the rule names, e.g. `alert-slotstack-prod-us`."""
    action_group_ids: Mapping[str, pulumi.Input[str]]
    """`OnCallActionGroups.ids`: channel (page, notify) -> action group id."""
    workspace_id: pulumi.Input[str]
    """The cell's Log Analytics workspace (scope of the log alerts)."""
    component_id: pulumi.Input[str]
    """The cell's Application Insights."""
    web_test_ids: Mapping[str, pulumi.Input[str]]
    """`Availability.web_test_ids`: healthz, booking -> web test id."""
    gateway_ids: Mapping[str, pulumi.Input[str]]
    """Region -> Application Gateway id; the serving region's is watched."""
    postgres_server_ids: Mapping[str, pulumi.Input[str]]
    """Region -> PostgreSQL Flexible Server id (primary region: the server, secondary: the replica)."""
    scale_set_ids: Mapping[str, pulumi.Input[str]]
    """Region -> VM Scale Set id; the serving region's is watched."""
    tags: Mapping[str, str]
    """The cell tags."""


def _pick(ids: Mapping[str, pulumi.Input[str]], region: str, what: str, cell: str) -> pulumi.Input[str]:
    try:
        return ids[region]
    except KeyError:
        raise ValueError(f"cell {cell}: no {what} id for region {region!r} (given: {', '.join(ids) or 'none'}); "
                         f"the alerts watch the {what} of the region the failover plan names") from None


class _Common(TypedDict):
    """The inputs every rule shares; typed so that mypy checks them against each rule's SDK signature."""

    rule_name: str
    resource_group_name: pulumi.Input[str]
    description: str
    severity: int
    enabled: bool
    auto_mitigate: bool
    evaluation_frequency: str
    window_size: str
    tags: dict[str, str]


class CellAlerts(pulumi.ComponentResource):
    """Every alert of `cell_alert_specs(cell, alerts)`, wired to the resources it watches."""

    rule_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: CellAlertsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slotstack:observability:CellAlerts", name, None, opts)
        cell = args.cell
        plan = failover_plan(cell)
        scopes: dict[str, pulumi.Input[str]] = {
            "gateway": _pick(args.gateway_ids, plan.serving_region, "gateway", cell.name),
            "database": _pick(args.postgres_server_ids, plan.database_writer_region, "PostgreSQL server", cell.name),
            "fleet": _pick(args.scale_set_ids, plan.serving_region, "scale set", cell.name),
        }
        if plan.replica_region is not None:
            scopes["replica"] = _pick(args.postgres_server_ids, plan.replica_region, "PostgreSQL replica", cell.name)
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        self.rule_ids = {}
        for spec in cell_alert_specs(cell, args.alerts):
            if spec.kind == "availability":
                rule = self._availability(name, spec)
            elif spec.kind == "log":
                rule = self._log(name, spec)
            else:
                rule = self._metric(name, spec, scopes[spec.target])
            self.rule_ids[spec.key] = rule
        self.register_outputs({"rule_ids": self.rule_ids})

    def _common(self, spec: AlertSpec) -> _Common:
        return {
            "rule_name": f"{self._args.rule_prefix}-{spec.key}",
            "resource_group_name": self._args.resource_group_name,
            "description": f"{spec.title}: {spec.condition} (docs/runbooks/on-call.md#{spec.key})",
            "severity": spec.severity,
            "enabled": True,
            "auto_mitigate": True,
            "evaluation_frequency": f"PT{spec.frequency_minutes}M",
            "window_size": f"PT{spec.window_minutes}M",
            "tags": dict(self._args.tags),
        }

    def _group(self, spec: AlertSpec) -> pulumi.Input[str]:
        return self._args.action_group_ids[spec.channel]

    def _availability(self, name: str, spec: AlertSpec) -> pulumi.Output[str]:
        test_id = self._args.web_test_ids[spec.target.removesuffix("-test")]
        return monitor.MetricAlert(
            f"{name}-{spec.key}",
            location=METRIC_ALERT_LOCATION,
            scopes=[test_id, self._args.component_id],
            # Typed Args, not dicts: `criteria` is a union, and the SDK only renames the keys of a dict
            # (all_of -> allOf) when it knows which member of the union it is.
            criteria=monitor.WebtestLocationAvailabilityCriteriaArgs(
                odata_type=WEBTEST_CRITERIA, web_test_id=test_id, component_id=self._args.component_id,
                failed_location_count=spec.threshold),
            actions=[{"action_group_id": self._group(spec)}],
            opts=self._child,
            **self._common(spec),
        ).id

    def _metric(self, name: str, spec: AlertSpec, scope: pulumi.Input[str]) -> pulumi.Output[str]:
        return monitor.MetricAlert(
            f"{name}-{spec.key}",
            location=METRIC_ALERT_LOCATION,
            scopes=[scope],
            target_resource_type=NAMESPACES[spec.target],
            criteria=monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
                odata_type=SINGLE_RESOURCE,
                all_of=[monitor.MetricCriteriaArgs(
                    criterion_type="StaticThresholdCriterion",
                    name=spec.key,
                    metric_name=spec.signal,
                    metric_namespace=NAMESPACES[spec.target],
                    operator=spec.operator,
                    threshold=spec.threshold,
                    time_aggregation=spec.aggregation,
                )]),
            actions=[{"action_group_id": self._group(spec)}],
            opts=self._child,
            **self._common(spec),
        ).id

    def _log(self, name: str, spec: AlertSpec) -> pulumi.Output[str]:
        return monitor.ScheduledQueryRule(
            f"{name}-{spec.key}",
            location=self._args.cell.primary_region,
            kind="LogAlert",
            display_name=spec.title,
            scopes=[self._args.workspace_id],
            criteria={"all_of": [{
                "query": spec.query,
                "time_aggregation": spec.aggregation,
                "metric_measure_column": spec.signal,
                "operator": spec.operator,
                "threshold": spec.threshold,
                "failing_periods": {"number_of_evaluation_periods": 1, "min_failing_periods_to_alert": 1},
            }]},
            actions={"action_groups": [self._group(spec)]},
            opts=self._child,
            **self._common(spec),
        ).id
