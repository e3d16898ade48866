"""``POST /alertmanager``: Alertmanager's webhook (payload version 4) turned into SMS to whoever is on call.

Alertmanager already groups, deduplicates, silences and retries; so this endpoint sends synchronously and
answers 502 when a provider refused, which makes Alertmanager retry the whole group later.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from uptime.config import Config
from uptime.core import Core
from uptime.notice import Failure, Notice
from uptime.notify import Notifier, NotifyError
from uptime.server import HttpError, PostHandler

log = logging.getLogger("uptime.alertmanager")


def _time(value: Any, field: str) -> float | None:
    if not isinstance(value, str):
        raise HttpError(400, f"{field} must be an RFC 3339 time string, got {value!r}")
    if value.startswith("0001-01-01"):
        return None  # Alertmanager's zero time: not ended yet
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise HttpError(400, f"{field} {value!r} is not an RFC 3339 time") from exc


def parse(body: bytes, config: Config) -> Notice:
    """Validate a version-4 payload and summarise it as one notice for its cell."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise HttpError(400, f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("version") != "4":
        raise HttpError(400, "expected an Alertmanager webhook payload with \"version\": \"4\"")
    status = data.get("status")
    if status not in ("firing", "resolved"):
        raise HttpError(400, f"status {status!r} is not 'firing' or 'resolved'")
    alerts = data.get("alerts")
    if not isinstance(alerts, list) or not alerts or not all(isinstance(a, dict) for a in alerts):
        raise HttpError(400, "alerts must be a non-empty list of alert objects")
    labels = {**(data.get("commonLabels") or {}), **(data.get("groupLabels") or {})}
    cell = str(labels.get("cell") or "all")
    firing = [a for a in alerts if a.get("status") == "firing"]
    shown = firing or alerts
    starts = [t for i, a in enumerate(shown) if (t := _time(a.get("startsAt"), f"alerts[{i}].startsAt"))]
    ends = [t for i, a in enumerate(alerts) if (t := _time(a.get("endsAt", "0001-01-01"), f"alerts[{i}].endsAt"))]
    targets = {str((a.get("labels") or {}).get("target") or (a.get("labels") or {}).get("instance") or "?")
               for a in shown}
    total = len(config.cell_targets(cell)) or len(targets)
    failures = tuple(
        Failure(str((a.get("labels") or {}).get("target", "?")), str((a.get("labels") or {}).get("instance", "")),
                str((a.get("labels") or {}).get("alertname", "alert")),
                str((a.get("annotations") or {}).get("summary", "")))
        for a in shown)
    resolved = status == "resolved"
    return Notice(
        incident_id=0, cell=cell, event="recovery" if resolved else "alertmanager", resolved=resolved,
        down=len(targets), total=max(total, len(targets)), since=min(starts) if starts else 0.0,
        failures=failures, resolved_at=max(ends) if resolved and ends else None,
        status_url=f"{config.monitor.public_url}/status/", runbook_url=config.monitor.runbook_url,
        product=config.monitor.product,
    )


def handler(config: Config, notifiers: Mapping[str, Notifier], core: Core) -> PostHandler:
    """The endpoint: SMS through the SMS channels of the first escalation step, to the on-call person."""
    from uptime.paging import Pager  # recipients() resolves the on-call rotation

    def handle(body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        notice = parse(body, config)
        steps = config.escalation.steps
        if not steps:
            raise HttpError(409, "no escalation steps are configured, so nobody can be paged; add escalation.steps")
        sms = tuple(c for c in steps[0].channels if config.channels[c].kind == "sms")
        recipients = Pager(core, notifiers, b"").recipients(steps[0].notify, sms, core.clock.now())
        if not recipients:
            raise HttpError(409, "the first escalation step has no SMS channel with a reachable person")
        errors = []
        for channel, recipient in recipients:
            try:
                notifiers[channel].send(notice, recipient)
            except NotifyError as exc:
                errors.append(str(exc))
                if core.metrics:
                    core.metrics.notifications.labels(channel, "failure").inc()
                continue
            if core.metrics:
                core.metrics.notifications.labels(channel, "success").inc()
        if errors:
            log.warning("alertmanager notification failed: %s", "; ".join(errors))
            return 502, {"error": "; ".join(errors), "sent": len(recipients) - len(errors)}
        return 200, {"sent": len(recipients), "cell": notice.cell, "status": "resolved" if notice.resolved else
                     "firing"}

    return handle
