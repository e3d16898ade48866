"""Every alert of a cell as data: what it watches, its threshold, severity and channel.

The alert components turn these specs into Azure resources and `describe_alerts` prints them for
`slotstack plan`, so what on-call reads and what Azure evaluates cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.environment import Alerts, Cell
from infra.failover import failover_plan

PAGE = "page"
"""Sev0/1: SMS and email to every receiver."""
NOTIFY = "notify"
"""Sev2-4: email to every receiver."""

# A 5xx ratio over a handful of requests is noise (1 of 2 is 50%): below this volume it is not judged.
MIN_REQUESTS_FOR_RATIO = 20

GATEWAY_5XX_QUERY = f"""AzureDiagnostics
| where ResourceProvider == "MICROSOFT.NETWORK" and Category == "ApplicationGatewayAccessLog"
| summarize total = count(), failed = countif(toint(httpStatus_d) >= 500)
| where total >= {MIN_REQUESTS_FOR_RATIO}
| extend failed_percent = 100.0 * failed / total"""

WAF_BLOCKED_QUERY = """AzureDiagnostics
| where ResourceProvider == "MICROSOFT.NETWORK" and Category == "ApplicationGatewayFirewallLog"
| where action_s == "Blocked"
| summarize blocked = count()"""


# Azure metric alerts accept only these windows (minutes); a configured duration rounds up to one.
METRIC_WINDOWS = (1, 5, 15, 30, 60, 360, 720, 1440)


def metric_window(minutes: int) -> int:
    """The shortest window Azure accepts that covers `minutes`."""
    for window in METRIC_WINDOWS:
        if window >= minutes:
            return window
    raise ValueError(f"{minutes} minutes is longer than the longest metric alert window (1440)")


def channel_for(severity: int) -> str:
    """Severity decides the channel: Sev0/1 page (SMS + email), everything else is email only."""
    if not 0 <= severity <= 4:
        raise ValueError(f"alert severity {severity} is not an Azure severity (allowed: 0-4)")
    return PAGE if severity <= 1 else NOTIFY


@dataclass(frozen=True)
class AlertSpec:
    """One alert rule of a cell."""

    key: str
    """Stable short name; resource names and on-call.md headings use it."""
    title: str
    severity: int
    target: str
    """What it watches: healthz-test, booking-test, gateway, database, replica, workspace or fleet."""
    kind: str
    """availability, metric or log."""
    signal: str
    """The metric name, or the log query's measure column."""
    operator: str
    threshold: float
    aggregation: str
    window_minutes: int
    frequency_minutes: int
    condition: str
    """The rule in words, for `slotstack plan` and the runbook."""
    query: str = ""
    """The KQL of a log alert (kind log)."""

    @property
    def channel(self) -> str:
        return channel_for(self.severity)


def _metric(key: str, title: str, severity: int, target: str, metric: str, operator: str, threshold: float,
            aggregation: str, window: int, frequency: int, condition: str) -> AlertSpec:
    return AlertSpec(key, title, severity, target, "metric", metric, operator, threshold, aggregation,
                     window, frequency, condition)


def cell_alert_specs(cell: Cell, alerts: Alerts) -> list[AlertSpec]:
    """The alerts of `cell` with the environment's thresholds, in the order on-call.md lists them."""
    locations = alerts.availability_locations
    unhealthy = metric_window(alerts.unhealthy_minutes)
    failed = locations - 2
    specs = [
        AlertSpec("availability-healthz", f"{cell.hostname}/healthz unreachable", 0, "healthz-test",
                  "availability", "failedLocationCount", "GreaterThanOrEqual", failed, "Count", 5, 1,
                  f"/healthz failed from >= {failed} of {locations} locations"),
        AlertSpec("availability-booking", "demo booking page unreachable", 1, "booking-test",
                  "availability", "failedLocationCount", "GreaterThanOrEqual", failed, "Count", 5, 1,
                  f"booking page failed from >= {failed} of {locations} locations"),
        AlertSpec("gateway-5xx-ratio", "gateway 5xx ratio high", 1, "workspace", "log", "failed_percent",
                  "GreaterThan", alerts.gateway_5xx_percent, "Maximum", 5, 5,
                  f"5xx > {alerts.gateway_5xx_percent:g}% of gateway requests in 5 min "
                  f"(>= {MIN_REQUESTS_FOR_RATIO} requests)", GATEWAY_5XX_QUERY),
        _metric("gateway-unhealthy-hosts", "gateway has unhealthy backends", 2, "gateway", "UnhealthyHostCount",
                "GreaterThan", 0, "Minimum", unhealthy, 1,
                f"unhealthy backend hosts > 0 for {unhealthy} min"),
        AlertSpec("waf-blocked-spike", "WAF blocking a spike of requests", 3, "workspace", "log", "blocked",
                  "GreaterThan", alerts.waf_blocked_per_5m, "Total", 5, 5,
                  f"WAF blocked > {alerts.waf_blocked_per_5m} requests in 5 min", WAF_BLOCKED_QUERY),
        _metric("db-cpu", "PostgreSQL CPU high", 2, "database", "cpu_percent", "GreaterThan",
                alerts.cpu_percent, "Average", 15, 5, f"database CPU > {alerts.cpu_percent}% for 15 min"),
        _metric("db-storage", "PostgreSQL storage filling up", 2, "database", "storage_percent", "GreaterThan",
                alerts.storage_percent, "Maximum", 15, 5, f"database storage > {alerts.storage_percent}%"),
        _metric("db-failed-connections", "PostgreSQL failed connections", 2, "database", "connections_failed",
                "GreaterThan", alerts.failed_connections_per_5m, "Total", 5, 5,
                f"failed connections > {alerts.failed_connections_per_5m} in 5 min"),
    ]
    if cell.database.replica:
        plan = failover_plan(cell)
        specs.append(_metric(
            "replica-lag", "read replica lagging", 2, "replica", "physical_replication_delay_in_seconds",
            "GreaterThan", alerts.replica_lag_seconds, "Maximum", 5, 1,
            f"replica in {plan.replica_region} > {alerts.replica_lag_seconds} s behind"))
    specs.append(_metric("fleet-cpu", "fleet CPU high", 2, "fleet", "Percentage CPU", "GreaterThan",
                         alerts.cpu_percent, "Average", 15, 5,
                         f"serving fleet CPU > {alerts.cpu_percent}% for 15 min"))
    return specs
