"""What `slotstack plan` shows of alerting: every cell's alerts, who each one reaches, and its failover state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from infra.environment import Environment, Receiver
from infra.failover import failover_plan
from infra.observability.catalog import PAGE, cell_alert_specs


def receivers_of(channel: str, receivers: Sequence[Receiver]) -> list[dict[str, Any]]:
    """Who a channel reaches and how: everyone by email, those with a phone also by SMS on `page`."""
    return [{"name": r.name, "email": r.email, "sms": channel == PAGE and r.phone is not None}
            for r in receivers]


def describe_alerts(env: Environment) -> list[dict[str, Any]]:
    """One row per alert of every cell: cell, alert, title, severity, condition, channel, receivers.

    Built from the same specs as the Azure rules, so the plan shows what will be deployed. Phone numbers
    are never listed (they may be secrets); `sms: true` says the person gets an SMS.
    """
    rows: list[dict[str, Any]] = []
    for cell in env.cells.values():
        for spec in cell_alert_specs(cell, env.alerts):
            rows.append({
                "cell": cell.name,
                "alert": spec.key,
                "title": spec.title,
                "severity": spec.severity,
                "kind": spec.kind,
                "condition": spec.condition,
                "channel": spec.channel,
                "receivers": receivers_of(spec.channel, env.oncall.receivers),
            })
    return rows


def format_alerts(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as text lines for the plan: `us  Sev0 availability-healthz  ... -> Ada (sms+email), ...`."""
    lines = []
    for row in rows:
        who = ", ".join(f"{r['name']} ({'sms+email' if r['sms'] else 'email'})" for r in row["receivers"])
        lines.append(f"{row['cell']:<4} Sev{row['severity']} {row['alert']:<24} {row['condition']}  -> {who}")
    return "\n".join(lines)


def describe_failover(env: Environment) -> list[dict[str, Any]]:
    """One row per cell: which region serves, fleet sizes per region, replica state, Traffic Manager order."""
    rows: list[dict[str, Any]] = []
    for cell in env.cells.values():
        plan = failover_plan(cell)
        rows.append({
            "cell": cell.name,
            "active_region": plan.active_region,
            "serving_region": plan.serving_region,
            "fleets": {f.region: {"min": f.min, "max": f.max}
                       for f in (plan.serving_fleet, plan.standby_fleet)},
            "replica_promoted": plan.replica_promoted,
            "database_writer_region": plan.database_writer_region,
            "replica_region": plan.replica_region,
            "traffic_manager_priorities": dict(plan.priorities),
        })
    return rows
