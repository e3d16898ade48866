"""The uptime monitor's configuration, generated from an environment's cells and on-call receivers.

What the monitor probes follows the environment: adding a cell to Pulumi.prod.yaml adds its checks.
Secrets are referenced by environment-variable name (the monitor's `*_env` keys) and come from SSM.
"""

from __future__ import annotations

import re
from typing import Any

import pulumi
import yaml

from infra.environment import Environment
from infra.secrets import reveal

PORT = 8470


def _person_id(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def targets(env: Environment) -> list[dict[str, Any]]:
    """Two checks per cell: liveness through the whole edge, and readiness (database and schema)."""
    checks: list[dict[str, Any]] = []
    for cell in env.cells.values():
        base = f"https://{cell.hostname}"
        checks.append({"name": f"{cell.name}-healthz", "cell": cell.name, "url": f"{base}/healthz",
                       "latency_budget": "2s"})
        checks.append({"name": f"{cell.name}-readyz", "cell": cell.name, "url": f"{base}/readyz",
                       "latency_budget": "3s"})
    return checks


def document(env: Environment, *, public_url: pulumi.Input[str], locations: list[str],
             sns_region: str) -> pulumi.Output[str]:
    """The YAML config of the core and the agents (phones stay secret Outputs until rendered)."""
    people: dict[str, Any] = {}
    for receiver in env.oncall.receivers:
        person: dict[str, Any] = {"email": receiver.email}
        if receiver.phone is not None:
            person["phone"] = reveal(receiver.phone)
        people[_person_id(receiver.name)] = person
    steps = [{"after": f"{step.after_minutes}m", "notify": [_person_id(n) for n in step.notify],
              "channels": ["sms", "email"]} for step in env.oncall.escalation]
    config: dict[str, Any] = {
        "monitor": {
            "listen": f"0.0.0.0:{PORT}",
            "public_url": public_url,
            "database": "/var/lib/uptime/uptime.db",
            "status_dir": "/var/lib/uptime/status",
            "runbook_url": "https://github.com/slotstack/slotstack/blob/main/docs/runbooks/on-call.md",
            "ack_secret_env": "UPTIME_ACK_SECRET",
            "agent_key_env": "UPTIME_AGENT_KEY",
            "locations": locations,
        },
        "thresholds": {"down_after": 2, "up_after": 2, "quorum": env.monitor.quorum},
        "defaults": {"interval": "30s", "timeout": "10s", "cert_warn_days": 21, "cert_critical_days": 7},
        "targets": targets(env),
        "channels": {
            # SNS from the core's own role: no SMS credential to leak or rotate.
            "sms": {"type": "sns", "region": sns_region},
            "email": {"type": "email", "host": f"email-smtp.{sns_region}.amazonaws.com", "port": 587,
                      "starttls": True, "username_env": "SMTP_USERNAME", "password_env": "SMTP_PASSWORD",
                      "from": f"slotstack uptime <uptime@{_mail_domain(env)}>"},
        },
        "people": people,
        "escalation": {"steps": steps, "reminder_every": f"{env.oncall.repeat_minutes}m"},
    }
    return pulumi.Output.from_input(config).apply(lambda c: yaml.safe_dump(c, sort_keys=False))


def _mail_domain(env: Environment) -> str:
    first = next(iter(env.cells.values()))
    return first.hostname.split(".", 1)[1]
