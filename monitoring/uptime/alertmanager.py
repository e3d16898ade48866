"""``POST /alertmanager``: Alertmanager's webhook (payload version 4) turned into SMS to whoever is on call.

The endpoint sends SMS, so it is authenticated: Alertmanager's ``http_config.authorization`` bearer token,
whose value the monitor reads from the variable named by ``monitor.alertmanager_token_env``; without it
set the endpoint is closed. Alertmanager groups and retries; the monitor adds what it alone knows: its own
silences and maintenance windows, de-duplication by alert fingerprint (a repeat or a retried group that
was already delivered is not sent again) and an acknowledgement link per alert group. A provider refusal
answers 502, which makes Alertmanager retry the group later.
"""

from __future__ import annotations

import dataclasses
import functools
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from uptime import tokens
from uptime.config import Config
from uptime.core import Core, UptimeError
from uptime.notice import Failure, Notice
from uptime.notify import Notifier, NotifyError
from uptime.server import HttpError, MonitorServer

SCOPE = "am"  # acknowledgement links of alert groups: /ack/am<id>.<mac>

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


@dataclass(frozen=True)
class Delivery:
    """One webhook call: the notice to send, Alertmanager's group key, and the alerts it is about."""

    notice: Notice
    group_key: str
    keys: frozenset[str]  # fingerprint@startsAt: a re-fired alert (new startsAt) is news again
    severity: str = "page"


def parse(body: bytes, config: Config) -> Delivery:

    """Validate a version-4 payload and summarise it as one notice for its cell."""
    # (the notice, the group key, and fingerprint@startsAt of every alert the notice is about)
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
    keys = frozenset(f"{a.get('fingerprint') or json.dumps(a.get('labels'), sort_keys=True)}@{a.get('startsAt')}"
                     for a in shown)
    notice = Notice(
        incident_id=0, cell=cell, event="recovery" if resolved else "alertmanager", resolved=resolved,
        down=len(targets), total=max(total, len(targets)), since=min(starts) if starts else 0.0,
        failures=failures, resolved_at=max(ends) if resolved and ends else None,
        status_url=f"{config.monitor.public_url}/status/", runbook_url=config.monitor.runbook_url,
        product=config.monitor.product,
    )
    return Delivery(notice, str(data.get("groupKey") or cell), keys, str(labels.get("severity") or "page"))


class Receiver:
    """The endpoint and the acknowledgement of its alert groups; :meth:`install` mounts both on a server."""

    def __init__(self, config: Config, notifiers: Mapping[str, Notifier], core: Core, ack_secret: bytes,
                 environ: Mapping[str, str]) -> None:
        self.config = config
        self.notifiers = notifiers
        self.core = core
        self.ack_secret = ack_secret
        self.token = environ.get(config.monitor.alertmanager_token_env, "")

    def install(self, server: MonitorServer) -> None:
        """Serve ``POST /alertmanager`` (escalation step 0) and ``/alertmanager/step-N`` (step N), and
        acknowledge alert groups through ``/ack/am<id>...`` links."""
        server.posts["/alertmanager"] = functools.partial(self.handle, step=0)
        for index in range(1, len(self.config.escalation.steps)):
            server.posts[f"/alertmanager/step-{index}"] = functools.partial(self.handle, step=index)
        server.acks[SCOPE] = self.ack

    def _authorize(self, headers: dict[str, str]) -> None:
        var = self.config.monitor.alertmanager_token_env
        if not self.token:
            raise HttpError(403, f"the /alertmanager endpoint is closed: {var} is not set on the monitor; set it "
                                 "and give Alertmanager the same token (http_config.authorization)")
        scheme, _, given = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token.encode()):
            raise HttpError(401, "missing or wrong bearer token; set http_config.authorization.credentials(_file) "
                                 f"in alertmanager.yml to the value of {var}")

    def handle(self, body: bytes, headers: dict[str, str], step: int = 0) -> tuple[int, dict[str, Any]]:
        """Authenticate, parse, then tell escalation step ``step`` unless silenced, in a window, acknowledged
        (steps after the first) or already told."""
        self._authorize(headers)
        delivery = parse(body, self.config)
        notice = delivery.notice
        now = self.core.clock.now()
        with self.core.store.tx() as conn:
            group = conn.execute("SELECT * FROM alert_groups WHERE group_key = ? ORDER BY id DESC LIMIT 1",
                                 (delivery.group_key,)).fetchone()
        is_open = group is not None and group["resolved_at"] is None
        told: dict[str, list[str]] = json.loads(group["told"]) if is_open and group else {}
        reminder = False
        recovered: list[int] = json.loads(group["recovered"]) if is_open and group else []
        reply: dict[str, Any] = {"sent": 0, "cell": notice.cell, "status": "resolved" if notice.resolved else
                                 "firing"}
        if notice.resolved:
            if str(step) not in told or step in recovered:
                # This step was never told about the group (or already heard it recovered): nothing to say.
                return 200, {**reply, "duplicate": group is not None}
        else:
            why = self.core.suppressed(notice.cell, now)
            if why:
                return 200, {**reply, "suppressed": why}
            if step > 0 and is_open and group and group["acked_at"] is not None:
                # An acknowledgement stops escalation, as it does for the monitor's own incidents.
                return 200, {**reply, "acknowledged_by": group["acked_by"]}
            if delivery.keys <= set(told.get(str(step), [])):
                if not self._reminder_due(group, step, now):
                    return 200, {**reply, "duplicate": True}  # Alertmanager's retry of what was sent
                reminder = True
            if not is_open:
                with self.core.store.tx() as conn:
                    cur = conn.execute("INSERT INTO alert_groups (group_key, cell, opened_at) VALUES (?, ?, ?)",
                                       (delivery.group_key, notice.cell, now))
                    group = conn.execute("SELECT * FROM alert_groups WHERE id = ?", (cur.lastrowid,)).fetchone()
        if group is None:  # opened above or open already; a concurrent prune could only remove old ones
            raise HttpError(503, "the alert group vanished while it was handled; Alertmanager will retry")
        notice = dataclasses.replace(
            notice, incident_id=int(group["id"]), source="alertmanager", acked_by=group["acked_by"] or "",
            acked_at=group["acked_at"],
            event=notice.event if notice.resolved else "reminder-1" if reminder else f"page-{step}",
            ack_url=f"{self.config.monitor.public_url}/ack/{tokens.sign(int(group['id']), self.ack_secret, SCOPE)}")
        sent, errors = self._send(notice, step, warning=delivery.severity == "warning")
        if errors:
            log.warning("alertmanager notification failed: %s", "; ".join(errors))
            return 502, {"error": "; ".join(errors), "sent": sent}
        with self.core.store.tx() as conn:
            if notice.resolved:
                recovered = sorted({*recovered, step})
                done = {int(k) for k in told} <= set(recovered)
                conn.execute("UPDATE alert_groups SET recovered = ?, resolved_at = ? WHERE id = ?",
                             (json.dumps(recovered), now if done else None, group["id"]))
            else:
                told[str(step)] = sorted(set(told.get(str(step), [])) | delivery.keys)
                sent_at = {**json.loads(group["sent_at"]), str(step): now}
                conn.execute("UPDATE alert_groups SET told = ?, sent_at = ? WHERE id = ?",
                             (json.dumps(told), json.dumps(sent_at), group["id"]))
        return 200, {**reply, "sent": sent, "alert_group": int(group["id"])}

    def _reminder_due(self, group: Any, step: int, now: float) -> bool:
        """Alertmanager repeats an unresolved group every ``repeat_interval`` (the export sets it to
        ``reminder_every``); such a repeat is a reminder unless the group was acknowledged. Anything sooner
        is a retry of what was already delivered."""
        every = self.config.escalation.reminder_every
        last = json.loads(group["sent_at"]).get(str(step))
        if not every or group["acked_at"] is not None or last is None:
            return False
        return bool(now >= float(last) + 0.9 * every)  # Alertmanager's timer is not exact to the second

    def _send(self, notice: Notice, step: int, warning: bool) -> tuple[int, list[str]]:
        from uptime.paging import Pager  # recipients() resolves the on-call rotation at the time of sending

        steps = self.config.escalation.steps
        if not steps:
            raise HttpError(409, "no escalation steps are configured, so nobody can be paged; add escalation.steps")
        if step >= len(steps):
            raise HttpError(404, f"escalation step {step} does not exist; the config has {len(steps)} steps")
        # A warning (a certificate about to expire) is email only: it never wakes anyone.
        channels = tuple(c for c in steps[step].channels if not warning or self.config.channels[c].kind == "email")
        recipients = Pager(self.core, self.notifiers, b"").recipients(steps[step].notify, channels,
                                                                      self.core.clock.now())
        if not recipients:
            raise HttpError(409, f"escalation step {step} has no channel with a reachable person for this alert")
        errors = []
        for channel, recipient in recipients:
            try:
                self.notifiers[channel].send(notice, None if recipient == "-" else recipient)
            except NotifyError as exc:
                errors.append(str(exc))
                if self.core.metrics:
                    self.core.metrics.notifications.labels(channel, "failure").inc()
                continue
            if self.core.metrics:
                self.core.metrics.notifications.labels(channel, "success").inc()
        return len(recipients) - len(errors), errors

    def ack(self, group_id: int, by: str) -> bool:
        """Acknowledge an alert group; False if it already was. Later notices of the group name who did."""
        with self.core.store.tx() as conn:
            row = conn.execute("SELECT acked_at FROM alert_groups WHERE id = ?", (group_id,)).fetchone()
            if row is None:
                raise UptimeError(f"alert group {group_id} does not exist")
            if row["acked_at"] is not None:
                return False
            conn.execute("UPDATE alert_groups SET acked_at = ?, acked_by = ? WHERE id = ?",
                         (self.core.clock.now(), by, group_id))
        log.info("alert group %s acknowledged by %s", group_id, by)
        return True
