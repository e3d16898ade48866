"""What a notification says: one serialisable ``Notice`` and its SMS, email and webhook renderings."""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from uptime.clock import utc

SMS_LIMIT = 160
# The GSM 03.38 default alphabet; characters of the extension table count twice.
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXT = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class Failure:
    """One failing check inside an incident."""

    target: str
    url: str
    kind: str
    error: str


@dataclass(frozen=True)
class Notice:
    """Everything a notifier needs about an incident at the moment it was planned."""

    incident_id: int
    cell: str
    event: str  # page-N, reminder-N, update-N, ack, recovery, test
    resolved: bool
    down: int
    total: int
    since: float
    failures: tuple[Failure, ...] = ()
    resolved_at: float | None = None
    ack_url: str = ""
    status_url: str = ""
    runbook_url: str = ""
    product: str = "slotstack"
    extra: dict[str, Any] = field(default_factory=dict)
    acked_by: str = ""
    acked_at: float | None = None
    worse: tuple[str, ...] = ()  # an update: checks (or check@location) failing since the last notice
    better: tuple[str, ...] = ()  # an update: checks that are fine again while others still fail
    flapping: bool = False  # the incident flapped: paging paused until it was stable
    source: str = "monitor"  # "alertmanager" for alert groups: their ids are a separate sequence

    def to_json(self) -> str:
        """Serialise for the notification outbox."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Notice:
        """Inverse of :meth:`to_json`."""
        data = json.loads(text)
        data["failures"] = tuple(Failure(**f) for f in data["failures"])
        for name in ("worse", "better"):
            data[name] = tuple(data.get(name, ()))
        return cls(**data)

    @property
    def kinds(self) -> list[str]:
        """Distinct failure kinds, most frequent first."""
        counts: dict[str, int] = {}
        for failure in self.failures:
            counts[failure.kind] = counts.get(failure.kind, 0) + 1
        return sorted(counts, key=lambda k: (-counts[k], k))

    @property
    def prefix(self) -> str:
        """``REMINDER``, ``ESCALATED``, ``WORSE`` or ``BETTER`` for a notice that is not the first page."""
        kind, _, step = self.event.partition("-")
        if kind == "reminder":
            return "REMINDER"
        if kind == "page" and step.isdigit() and int(step) > 0:
            return "ESCALATED"
        if kind == "update":
            return "WORSE" if self.worse else "BETTER"
        return ""

    @property
    def change(self) -> str:
        """What an update changed, e.g. ``now also eu-1`` or ``eu-1 ok again``."""
        parts = []
        if self.worse:
            parts.append(f"now also {', '.join(self.worse)}")
        if self.better:
            parts.append(f"{', '.join(self.better)} ok again")
        return "; ".join(parts)

    @property
    def duration(self) -> float:
        """Seconds from the first failure to recovery (0 while open)."""
        return (self.resolved_at - self.since) if self.resolved_at else 0.0


def gsm7_length(text: str) -> int:
    """Septets needed to send ``text`` in the GSM-7 alphabet (extension characters count twice)."""
    return sum(2 if ch in _GSM_EXT else 1 for ch in text)


def to_gsm7(text: str) -> str:
    """Replace characters outside GSM-7 so the SMS is not silently re-encoded as UCS-2 (70 chars)."""
    return "".join(ch if ch in _GSM_BASIC or ch in _GSM_EXT else "?" for ch in text)


def format_duration(seconds: float) -> str:
    """``1h 05m``, ``12m 30s`` or ``45s``."""
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def sms_text(notice: Notice) -> str:
    """At most 160 GSM-7 characters, e.g. ``[slotstack] DOWN eu 3/3 checks since 14:02 UTC: timeout. Ack: URL``."""
    since = utc(notice.since).strftime("%H:%M")
    tag = f"[{notice.product}]"
    if notice.event == "test":
        return _fit(f"{tag} TEST message from the uptime monitor; no action needed.", "")
    if notice.event == "deadman":
        return _fit(f"{tag} MONITOR DOWN: no probe agent has reached the uptime core since {since} UTC. "
                    "Cells are not being watched.", "")
    if notice.resolved and notice.flapping:
        return _fit(f"{tag} RECOVERED {notice.cell}: stable again after flapping since {since} UTC "
                    f"({format_duration(notice.duration)})", "")
    if notice.resolved:
        head = f"{tag} RECOVERED {notice.cell} after {format_duration(notice.duration)} (down since {since} UTC)"
        return _fit(head, "")
    if notice.event == "flapping":
        names = ", ".join(dict.fromkeys(f.target for f in notice.failures)) or "checks"
        tail = f" Ack: {notice.ack_url}" if notice.ack_url and not notice.acked_by else ""
        return _fit(f"{tag} FLAPPING {notice.cell}: {names} failing on and off since {since} UTC; no more pages "
                    "until stable.", tail)
    if notice.event == "ack":
        at = utc(notice.acked_at or notice.since).strftime("%H:%M")
        return _fit(f"{tag} ACKED {notice.cell} by {notice.acked_by} at {at} UTC: {notice.down}/{notice.total} "
                    "checks down; escalation stopped.", "")
    prefix = notice.prefix
    reason = ", ".join(notice.kinds) or "failing"
    if prefix in ("WORSE", "BETTER"):
        head = f"{tag} {prefix} {notice.cell} {notice.down}/{notice.total} checks since {since} UTC, {notice.change}"
    else:
        prefix = f"{prefix} " if prefix else ""
        head = f"{tag} {prefix}DOWN {notice.cell} {notice.down}/{notice.total} checks since {since} UTC"
        names = ", ".join(dict.fromkeys(f.target for f in notice.failures))
        reason = f"{names}: {reason}" if names else reason  # which check: on-call's first question
    # Once someone has acknowledged, a link to acknowledge again is noise.
    tail = f" Ack: {notice.ack_url}" if notice.ack_url and not notice.acked_by else ""
    body = f"{head}: {reason}."
    runbook = f"{tail} Runbook: {notice.runbook_url}" if notice.runbook_url else ""
    # The runbook link rides along when the whole message fits; the email always carries it.
    if runbook and gsm7_length(to_gsm7(body + runbook)) <= SMS_LIMIT:
        tail = runbook
    return _fit(body, tail)


def _fit(body: str, tail: str) -> str:
    body, tail = to_gsm7(body), to_gsm7(tail)
    room = SMS_LIMIT - gsm7_length(tail)
    if gsm7_length(body) > room:
        while body and gsm7_length(body) > room - 1:
            body = body[:-1]
        body += "."
    return (body + tail)[: SMS_LIMIT]


def email_subject(notice: Notice) -> str:
    """One line that sorts well in an inbox."""
    if notice.event == "test":
        return f"[{notice.product}] test notification"
    if notice.event.startswith("cert-"):
        return f"[{notice.product}] certificate warning: {', '.join(f.target for f in notice.failures)}"
    if notice.resolved:
        stable = ", stable again after flapping" if notice.flapping else ""
        return f"[{notice.product}] RECOVERED {notice.cell} after {format_duration(notice.duration)}{stable}"
    if notice.event == "flapping":
        return f"[{notice.product}] FLAPPING {notice.cell}: no more pages until it is stable"
    if notice.event == "ack":
        return (f"[{notice.product}] ACKED {notice.cell} by {notice.acked_by}: {notice.down}/{notice.total}"
                " checks failing")
    if notice.prefix in ("WORSE", "BETTER"):
        return (f"[{notice.product}] {notice.prefix} {notice.cell}: {notice.down}/{notice.total} checks failing"
                f" ({notice.change})")
    prefix = f"{notice.prefix}: " if notice.prefix else ""
    return f"[{notice.product}] {prefix}DOWN {notice.cell}: {notice.down}/{notice.total} checks failing"


def email_text(notice: Notice) -> str:
    """Plain-text body: cell, failing checks with errors, since when, links."""
    since = utc(notice.since).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [email_subject(notice), ""]
    if notice.event == "test":
        lines.append("This is a test of the notification channel. No action is needed.")
        return "\n".join(lines) + "\n"
    if notice.event.startswith("cert-"):
        lines += [f"- {f.target} ({f.url}): {f.error}" for f in notice.failures]
        lines += ["", "Renew the certificate before it expires; nothing is down yet, so nobody is paged."]
        return "\n".join(lines) + "\n"
    lines.append(f"Cell: {notice.cell}")
    lines.append(f"Failing since: {since}")
    if notice.resolved and notice.resolved_at:
        lines.append(f"Recovered at: {utc(notice.resolved_at).strftime('%Y-%m-%d %H:%M:%S UTC')}")
        lines.append(f"Duration: {format_duration(notice.duration)}")
    if notice.change:
        lines.append(f"What changed: {notice.change}")
    if notice.event == "flapping":
        lines.append("The cell keeps failing and recovering; it pages again only once it has been stable.")
    if notice.acked_by:
        at = utc(notice.acked_at).strftime("%Y-%m-%d %H:%M:%S UTC") if notice.acked_at else "?"
        lines.append(f"Acknowledged by {notice.acked_by} at {at}; escalation and reminders stopped.")
    if notice.resolved:
        # The last failure list of a recovered incident may hold only the check that recovered last.
        lines.append(f"Checks that failed: {notice.down} of {notice.total}")
        lines.append("")
        lines += [f"- {failure.target} ({failure.url})" for failure in notice.failures]
    else:
        lines.append(f"Checks failing: {notice.down} of {notice.total}")
        lines.append("")
        lines += [f"- {failure.target} ({failure.url}): {failure.kind}: {failure.error}" for failure in notice.failures]
    lines.append("")
    if notice.ack_url and not notice.resolved and not notice.acked_by:
        lines.append(f"Acknowledge: {notice.ack_url}")
    if notice.status_url:
        lines.append(f"Status page: {notice.status_url}")
    if notice.runbook_url:
        lines.append(f"Runbook: {notice.runbook_url}")
    return "\n".join(lines) + "\n"


def email_html(notice: Notice) -> str:
    """HTML body with the same facts as :func:`email_text`."""
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(f.target)}</td><td>{esc(f.url)}</td><td>{esc(f.kind)}</td><td>{esc(f.error)}</td></tr>"
        for f in notice.failures
    )
    colour = "#1a7f37" if notice.resolved else "#cf222e"
    links = []
    if notice.ack_url and not notice.resolved and not notice.acked_by:
        links.append(f'<a href="{esc(notice.ack_url)}">Acknowledge</a>')
    if notice.status_url:
        links.append(f'<a href="{esc(notice.status_url)}">Status page</a>')
    if notice.runbook_url:
        links.append(f'<a href="{esc(notice.runbook_url)}">Runbook</a>')
    since = utc(notice.since).strftime("%Y-%m-%d %H:%M:%S UTC")
    duration = f"<p>Duration: {format_duration(notice.duration)}</p>" if notice.resolved else ""
    return (
        f'<html><body><h2 style="color:{colour}">{esc(email_subject(notice))}</h2>'
        f"<p>Cell: <b>{esc(notice.cell)}</b><br>Failing since: {since}<br>"
        f"Checks {'that failed' if notice.resolved else 'failing'}: {notice.down} of {notice.total}</p>{duration}"
        f"<table border=\"1\" cellpadding=\"4\"><tr><th>check</th><th>url</th><th>kind</th><th>error</th></tr>"
        f"{rows}</table><p>{' | '.join(links)}</p></body></html>"
    )


def webhook_payload(notice: Notice) -> dict[str, Any]:
    """JSON document for generic webhooks."""
    return {
        "incident": notice.incident_id,
        "cell": notice.cell,
        "event": notice.event,
        "status": "resolved" if notice.resolved else "firing",
        "down": notice.down,
        "total": notice.total,
        "since": utc(notice.since).isoformat(),
        "resolved_at": utc(notice.resolved_at).isoformat() if notice.resolved_at else None,
        "duration_seconds": round(notice.duration, 3),
        "failures": [asdict(f) for f in notice.failures],
        "ack_url": notice.ack_url,
        "status_url": notice.status_url,
        "runbook_url": notice.runbook_url,
        "acked_by": notice.acked_by or None,
        "acked_at": utc(notice.acked_at).isoformat() if notice.acked_at else None,
        "worse": list(notice.worse),
        "better": list(notice.better),
        "summary": sms_text(notice),
    }
