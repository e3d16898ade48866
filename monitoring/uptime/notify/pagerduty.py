"""PagerDuty Events API v2: one alert per incident (``dedup_key``), triggered, acknowledged and resolved."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from uptime.clock import utc
from uptime.notice import Notice, email_subject, email_text
from uptime.notify.base import Channel, dedup_key, http_url, options, post_json, secret

DEFAULT_API = "https://events.pagerduty.com"
_OPTIONS = ["routing_key_env", "api_base", "timeout"]


def settings(channel: Channel) -> tuple[str, float]:
    """(the enqueue URL, timeout); ``routing_key_env`` names the variable holding the routing key."""
    sec = options(channel, _OPTIONS)
    sec.text("routing_key_env")
    return http_url(sec, "api_base", DEFAULT_API) + "/v2/enqueue", sec.duration("timeout", "10s")


validate = settings


def event(notice: Notice, routing_key: str) -> dict[str, Any]:
    """The Events v2 body for a notice: ``resolve`` on recovery, ``acknowledge`` on an ack, else ``trigger``."""
    body: dict[str, Any] = {"routing_key": routing_key, "dedup_key": dedup_key(notice)}
    if notice.resolved:
        return {**body, "event_action": "resolve"}
    if notice.event == "ack":
        return {**body, "event_action": "acknowledge"}
    links = [{"href": url, "text": text} for url, text in ((notice.ack_url, "Acknowledge"),
                                                           (notice.status_url, "Status page"),
                                                           (notice.runbook_url, "Runbook")) if url]
    return {**body, "event_action": "trigger", "links": links, "payload": {
        "summary": email_subject(notice)[:1024],
        "source": notice.product,
        "severity": "warning" if notice.event.startswith("cert-") or notice.event == "test" else "critical",
        "timestamp": utc(notice.since).isoformat(),
        "component": notice.cell,
        "group": notice.cell,
        "class": ", ".join(notice.kinds) or notice.event,
        "custom_details": {"event": notice.event, "checks": [f.target for f in notice.failures],
                           "text": email_text(notice)},
    }}


class PagerDutyNotifier:
    """POST /v2/enqueue; PagerDuty answers 202 Accepted."""

    def __init__(self, channel: Channel, environ: Mapping[str, str]) -> None:
        self.url, self.timeout = settings(channel)
        self.key = secret(channel, "routing_key", environ) or ""

    def send(self, notice: Notice, recipient: str | None) -> None:
        """Deliver one event."""
        post_json("pagerduty", self.url, event(notice, self.key), self.timeout)
