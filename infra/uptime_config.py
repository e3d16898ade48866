"""The uptime monitor's configuration, rendered from an environment: what it probes and whom it pages.

One renderer for every place the monitor runs: the AWS deployment (infra/uptime_aws/config.py) and the
local stack (infra/local/lifecycle/monitor_config.py) pass only what differs between them (where the
cells answer, the monitor's own section, channels and probe pace). Targets, people and escalation come
from here alone, so a local drill rehearses exactly the checks and the escalation the real monitor runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from infra.environment import Cell, Environment
from infra.schema import Secret

# Every step pages by SMS and email: an SMS alone can be missed, an email alone is too slow to wake anyone.
PAGE_CHANNELS = ("sms", "email")
DOWN_AFTER = 2
UP_AFTER = 2


@dataclass(frozen=True)
class Site:
    """What differs between the places the monitor runs; the rest of the document is the environment's."""

    monitor: Mapping[str, Any]
    """The `monitor:` section (listen address, public URL, files, secrets by variable name)."""
    channels: Mapping[str, Any]
    """The `sms` and `email` channels every escalation step uses."""
    base_url: Callable[[Cell], str]
    """Where a cell answers, without a trailing slash (its public https URL, or a local port)."""
    defaults: Mapping[str, Any]
    """Probe interval, timeout and certificate thresholds."""
    quorum: int
    """How many vantage points must agree before a target is down."""
    phone: Callable[[str | Secret], Any]
    """How a receiver's phone is written: as is, revealed as a secret Output, or None to leave it out."""
    group_wait: str | None = None
    """How long to gather failures of one cell into one incident (the monitor's default when None)."""


def person_id(name: str) -> str:
    """The monitor's id of a receiver: its name in lower-case words joined by dashes."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "oncall"


def targets(env: Environment, base_url: Callable[[Cell], str]) -> list[dict[str, Any]]:
    """Two checks per cell: liveness through the whole edge, and readiness (database and schema)."""
    checks: list[dict[str, Any]] = []
    for cell in env.cells.values():
        base = base_url(cell)
        checks.append({"name": f"{cell.name}-healthz", "cell": cell.name, "url": f"{base}/healthz",
                       "body_contains": "ok", "latency_budget": "2s"})
        checks.append({"name": f"{cell.name}-readyz", "cell": cell.name, "url": f"{base}/readyz",
                       "json": {"path": "status", "equals": "ready"}, "latency_budget": "3s"})
    return checks


def people(env: Environment, phone: Callable[[str | Secret], Any]) -> dict[str, dict[str, Any]]:
    """Every on-call receiver by `person_id`: email always, phone when `phone` renders one."""
    rendered: dict[str, dict[str, Any]] = {}
    for receiver in env.oncall.receivers:
        person: dict[str, Any] = {"email": receiver.email}
        number = phone(receiver.phone) if receiver.phone is not None else None
        if number is not None:
            person["phone"] = number
        rendered[person_id(receiver.name)] = person
    return rendered


def escalation(env: Environment) -> dict[str, Any]:
    """The environment's escalation steps, each paging its receivers on every channel until acknowledged."""
    steps = [{"after": f"{step.after_minutes}m", "notify": [person_id(name) for name in step.notify],
              "channels": list(PAGE_CHANNELS)} for step in env.oncall.escalation]
    return {"steps": steps, "reminder_every": f"{env.oncall.repeat_minutes}m"}


def document(env: Environment, site: Site) -> dict[str, Any]:
    """The whole config document, as `uptime run --config` reads it."""
    thresholds: dict[str, Any] = {"down_after": DOWN_AFTER, "up_after": UP_AFTER, "quorum": site.quorum}
    if site.group_wait is not None:
        thresholds["group_wait"] = site.group_wait
    return {
        "monitor": dict(site.monitor),
        "thresholds": thresholds,
        "defaults": dict(site.defaults),
        "targets": targets(env, site.base_url),
        "channels": dict(site.channels),
        "people": people(env, site.phone),
        "escalation": escalation(env),
    }
