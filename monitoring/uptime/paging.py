"""Who gets told what and when: escalation steps, reminders, recovery notices, and a retrying outbox.

Planned notifications are rows in SQLite, unique per (incident, event, channel, recipient), so a restart
never plans the same page twice; a row is marked sent only after the provider accepted it, and the
incident's escalation advances only on a successful send.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from collections.abc import Mapping

from uptime import incidents, tokens
from uptime.core import Core
from uptime.incidents import Incident
from uptime.notice import Failure, Notice
from uptime.notify import Notifier, NotifyError
from uptime.schedule import ONCALL, ONCALL_NEXT

log = logging.getLogger("uptime.paging")

BACKOFF_BASE = 10.0
BACKOFF_MAX = 600.0
MAX_ATTEMPTS = 12


def _label(key: str, with_location: bool) -> str:
    return key if with_location else key.rpartition("@")[0]


class Pager:
    """Plans notifications from incident state and delivers them through the notifier registry."""

    def __init__(self, core: Core, notifiers: Mapping[str, Notifier], ack_secret: bytes) -> None:
        self.core = core
        self.notifiers = notifiers
        self.ack_secret = ack_secret

    def tick(self) -> int:
        """Plan what is due, then send what is due; returns the number of successful sends."""
        self.plan()
        return self.dispatch()

    # -- planning ----------------------------------------------------------------------------------

    def notice(self, incident: Incident, event: str, worse: tuple[str, ...] = (),
               better: tuple[str, ...] = ()) -> Notice:
        """The notice for ``incident`` as it stands now."""
        mon = self.core.config.monitor
        failures = tuple(Failure(str(f["target"]), str(f["url"]), str(f["kind"]), str(f["error"]))
                         for f in incident.failures)
        resolved = incident.resolved_at is not None
        if resolved:
            # A recovery names every check that failed during the incident, not only the last ones.
            known = {f.target: f for f in failures}
            failures = tuple(known.get(name) or Failure(name, self._url(name), "failing", "")
                             for name in incident.targets)
        return Notice(
            incident_id=incident.id, cell=incident.cell, event=event, resolved=resolved,
            down=incident.peak if resolved else len(failures), total=incident.total,
            since=incident.since, failures=failures, resolved_at=incident.resolved_at,
            ack_url=f"{mon.public_url}/ack/{tokens.sign(incident.id, self.ack_secret)}",
            status_url=f"{mon.public_url}/status/", runbook_url=mon.runbook_url, product=mon.product,
            acked_by=incident.acked_by or "", acked_at=incident.acked_at, worse=worse, better=better,
            flapping=incident.flapping,
        )

    def _url(self, name: str) -> str:
        target = self.core.targets.get(name)
        return target.url if target else ""

    def recipients(self, who: tuple[str, ...], channels: tuple[str, ...], ts: float) -> list[tuple[str, str]]:
        """(channel, address) pairs for the people of a step at ``ts``."""
        cfg = self.core.config
        names = []
        for name in who:
            if name == ONCALL and cfg.oncall:
                names.append(cfg.oncall.primary(ts))
            elif name == ONCALL_NEXT and cfg.oncall:
                names.append(cfg.oncall.secondary(ts))
            else:
                names.append(name)
        out: list[tuple[str, str]] = []
        for channel_name in channels:
            channel = cfg.channels[channel_name]
            if channel.kind == "webhook":
                out.append((channel_name, "-"))
                continue
            for person_name in dict.fromkeys(names):
                person = cfg.people[person_name]
                address = person.email if channel.kind == "email" else person.phone
                if address:
                    out.append((channel_name, address))
                else:
                    log.warning("%s has no %s address; %s skipped", person_name, channel.kind, channel_name)
        return list(dict.fromkeys(out))

    def plan(self) -> None:
        """Insert the notifications that are due now (idempotent)."""
        now = self.core.clock.now()
        cfg = self.core.config
        policy = cfg.escalation
        with self.core.store.lock:
            open_now = incidents.all_open(self.core.store.conn)
        for incident in open_now:
            why = self.core.suppressed(incident.cell, now)
            with self.core.store.tx() as conn:
                if why:
                    incidents.mark(conn, incident.id, suppressed=1)
                    continue
                base = incident.page_base
                if base is None:
                    # Paging starts when the incident is first outside maintenance and silences.
                    base = max(incident.opened_at, now if incident.suppressed else 0.0)
                    incidents.mark(conn, incident.id, page_base=base)
                if incident.acked_at is not None:
                    self._plan_ack(conn, incident, now)
                    self._plan_flapping(conn, incident, now)
                    self._plan_news(conn, incident.id, now)
                    continue
                for index, step in enumerate(policy.steps):
                    if index > incident.notified_step + 1 or now < base + cfg.thresholds.group_wait + step.after:
                        break
                    event = f"page-{index}"
                    if conn.execute("SELECT 1 FROM notifications WHERE incident_id = ? AND event = ?",
                                    (incident.id, event)).fetchone():
                        continue
                    recipients = self.recipients(step.notify, step.channels, now)
                    if not recipients:
                        # Nobody reachable in this step: say so and let escalation move on, never stall.
                        log.error("escalation step %d of incident %s has no reachable recipient", index,
                                  incident.id)
                        incidents.step_skipped(conn, incident.id, index)
                        continue
                    self._insert(conn, incident, event, recipients, now)
                every = policy.reminder_every
                last = incident.last_notified_at
                if every and incident.notified_step >= 0 and last is not None and now >= last + every:
                    self._insert(conn, incident, f"reminder-{incident.reminders + 1}",
                                 self._paged(conn, incident.id), now)
                self._plan_flapping(conn, incident, now)
                self._plan_news(conn, incident.id, now)
        self._plan_certificate_warnings(now)
        with self.core.store.lock:
            due = incidents.recoveries_due(self.core.store.conn)
        for incident in due:
            with self.core.store.tx() as conn:
                # A reopened (flapping) incident recovers again: each recovery is its own notice.
                event = "recovery" if not incident.reopened else f"recovery-{incident.reopened + 1}"
                self._insert(conn, incident, event, self._paged(conn, incident.id), now)
                incidents.mark(conn, incident.id, recovery_planned=1)

    def _plan_ack(self, conn: sqlite3.Connection, incident: Incident, now: float) -> None:
        """Tell everyone who was paged who acknowledged and when, once."""
        if incident.ack_told:
            return
        self._insert(conn, incident, "ack", self._paged(conn, incident.id), now)
        incidents.mark(conn, incident.id, ack_told=1)

    def _plan_flapping(self, conn: sqlite3.Connection, incident: Incident, now: float) -> None:
        """Tell whoever was paged, once, that the cell flaps and will not page again until it is stable."""
        if incident.flapping and not incident.flap_told and incident.notified_step >= 0:
            self._insert(conn, incident, "flapping", self._paged(conn, incident.id), now)
            incidents.mark(conn, incident.id, flap_told=1)

    def _plan_news(self, conn: sqlite3.Connection, incident_id: int, now: float) -> None:
        """A cell that got worse (more checks or locations failing) or better without recovering is news
        for everyone who was paged, acknowledged or not; each change is told once."""
        incident = incidents.get(conn, incident_id)
        if incident is None or incident.notified_step < 0:
            return  # nobody has heard of it yet: the first page will carry the current picture
        current = incident.failing_keys()
        told = set(incident.told)
        if not told:  # a database from before updates were told: start from what is failing now
            incidents.mark(conn, incident_id, told=json.dumps(sorted(current)))
            return
        if not current or current == told:
            return  # nothing fails any more (recovery is its own notice) or nothing changed
        many = len(self.core.config.monitor.locations) > 1
        worse = tuple(_label(k, many) for k in sorted(current - told))
        better = tuple(_label(k, many) for k in sorted(told - current))
        updates = incident.updates + 1
        self._insert(conn, incident, f"update-{updates}", self._paged(conn, incident_id), now,
                     worse=tuple(dict.fromkeys(worse)), better=tuple(dict.fromkeys(better)))
        incidents.mark(conn, incident_id, told=json.dumps(sorted(current)), updates=updates)

    def _plan_certificate_warnings(self, now: float) -> None:
        """Email (never SMS) the first step's people once per certificate that entered its warning window."""
        steps = self.core.config.escalation.steps
        if not steps:
            return
        emails = tuple(c for c in steps[0].channels if self.core.config.channels[c].kind == "email")
        rows = self.core.store.query(
            "SELECT target, warning, MAX(ts) AS ts, cert_expiry FROM results WHERE warning != '' AND ts >= ?"
            " GROUP BY target", (now - 3600,))
        for row in rows:
            target = self.core.targets.get(row["target"])
            if target is None or not emails:
                continue
            notice = Notice(incident_id=0, cell=target.cell, event="cert-warning", resolved=False, down=0,
                            total=0, since=float(row["ts"]),
                            failures=(Failure(target.name, target.url, "tls", str(row["warning"])),),
                            status_url=f"{self.core.config.monitor.public_url}/status/",
                            runbook_url=self.core.config.monitor.runbook_url,
                            product=self.core.config.monitor.product).to_json()
            # One event per certificate (its expiry), so a renewed certificate warns again next time.
            event = f"cert-{target.name}-{int(row['cert_expiry'] or 0)}"
            with self.core.store.tx() as conn:
                for channel, address in self.recipients(steps[0].notify, emails, now):
                    conn.execute(
                        "INSERT OR IGNORE INTO notifications (incident_id, event, channel, recipient, notice, status,"
                        " next_attempt_at, created_at) VALUES (0, ?, ?, ?, ?, 'pending', ?, ?)",
                        (event, channel, address, notice, now, now))

    def _paged(self, conn: sqlite3.Connection, incident_id: int) -> list[tuple[str, str]]:
        rows = conn.execute(
            "SELECT DISTINCT channel, recipient FROM notifications WHERE incident_id = ? AND status = 'sent'"
            " AND (event LIKE 'page-%' OR event LIKE 'reminder-%') ORDER BY id", (incident_id,),
        ).fetchall()
        return list(dict.fromkeys((r["channel"], r["recipient"]) for r in rows))

    def _insert(self, conn: sqlite3.Connection, incident: Incident, event: str,
                recipients: list[tuple[str, str]], now: float, worse: tuple[str, ...] = (),
                better: tuple[str, ...] = ()) -> None:
        notice = self.notice(incident, event, worse, better).to_json()
        if event.startswith(("page-", "reminder-")):
            # A page carries the whole current picture, so later news is measured against it.
            incidents.mark(conn, incident.id, told=json.dumps(sorted(incident.failing_keys())))
        for channel, recipient in recipients:
            conn.execute(
                "INSERT OR IGNORE INTO notifications (incident_id, event, channel, recipient, notice, status,"
                " next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
                (incident.id, event, channel, recipient, notice, now, now),
            )

    # -- delivery ----------------------------------------------------------------------------------

    def dispatch(self, channel: str | None = None) -> int:
        """Send every pending notification that is due (of one ``channel``, or all); failures are retried with
        exponential backoff."""
        now = self.core.clock.now()
        sent = 0
        due = self.core.store.query(
            "SELECT * FROM notifications WHERE status = 'pending' AND next_attempt_at <= ?"
            " AND (? IS NULL OR channel = ?) ORDER BY id", (now, channel, channel))
        for row in due:
            # Re-check: an acknowledgement or recovery may have cancelled it since the query.
            if self.core.store.value("SELECT status FROM notifications WHERE id = ?", (row["id"],)) != "pending":
                continue
            notifier = self.notifiers.get(row["channel"])
            recipient = None if row["recipient"] == "-" else row["recipient"]
            try:
                if notifier is None:
                    raise NotifyError(f"channel {row['channel']} is not configured any more")
                notifier.send(Notice.from_json(row["notice"]), recipient)
            except NotifyError as exc:
                self._failed(row, str(exc), now)
                continue
            sent += 1
            self._sent(row, now)
        return sent

    def _sent(self, row: sqlite3.Row, now: float) -> None:
        with self.core.store.tx() as conn:
            conn.execute("UPDATE notifications SET status = 'sent', sent_at = ?, attempts = attempts + 1"
                         " WHERE id = ?", (now, row["id"]))
            match = re.fullmatch(r"(page|reminder)-(\d+)", row["event"])
            if match:
                column = "notified_step" if match[1] == "page" else "reminders"
                incidents.reached(conn, int(row["incident_id"]), column, int(match[2]), now)
        log.info("sent %s of incident %s via %s to %s", row["event"], row["incident_id"], row["channel"],
                 row["recipient"])
        if self.core.metrics:
            self.core.metrics.notifications.labels(row["channel"], "success").inc()

    def _failed(self, row: sqlite3.Row, error: str, now: float) -> None:
        attempts = int(row["attempts"]) + 1
        delay = min(BACKOFF_BASE * 2 ** (attempts - 1), BACKOFF_MAX)
        status = "failed" if attempts >= MAX_ATTEMPTS else "pending"
        with self.core.store.tx() as conn:
            conn.execute("UPDATE notifications SET attempts = ?, last_error = ?, next_attempt_at = ?, status = ?"
                         " WHERE id = ?", (attempts, error[:500], now + delay, status, row["id"]))
        log.warning("sending %s of incident %s via %s failed (attempt %d, retry in %.0fs): %s", row["event"],
                    row["incident_id"], row["channel"], attempts, delay, error)
        if self.core.metrics:
            self.core.metrics.notifications.labels(row["channel"], "failure").inc()
