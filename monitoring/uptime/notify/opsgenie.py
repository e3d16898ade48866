"""Opsgenie Alert API: create an alert per incident (``alias``), acknowledge and close it by alias."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from uptime.notice import Notice, email_subject, email_text
from uptime.notify.base import Channel, dedup_key, http_url, options, post_json, secret

DEFAULT_API = "https://api.opsgenie.com"  # EU accounts: https://api.eu.opsgenie.com
_OPTIONS = ["api_key_env", "api_base", "priority", "timeout"]


def settings(channel: Channel) -> tuple[str, str, float]:
    """(the alerts URL, priority, timeout); ``api_key_env`` names the variable holding the API key,
    ``priority`` is P1..P5 (P1)."""
    sec = options(channel, _OPTIONS)
    sec.text("api_key_env")
    return (http_url(sec, "api_base", DEFAULT_API) + "/v2/alerts", sec.text("priority", "P1", pattern="P[1-5]"),
            sec.duration("timeout", "10s"))


validate = settings


class OpsgenieNotifier:
    """POST /v2/alerts (create), /v2/alerts/{alias}/acknowledge and /close; Opsgenie answers 202."""

    def __init__(self, channel: Channel, environ: Mapping[str, str]) -> None:
        self.api, self.priority, self.timeout = settings(channel)
        self.key = secret(channel, "api_key", environ) or ""

    def send(self, notice: Notice, recipient: str | None) -> None:
        """Create, acknowledge or close the incident's alert."""
        alias = dedup_key(notice)
        headers = {"Authorization": f"GenieKey {self.key}"}
        if notice.resolved or notice.event == "ack":
            action = "close" if notice.resolved else "acknowledge"
            url = f"{self.api}/{quote(alias, safe='')}/{action}?identifierType=alias"
            note = email_subject(notice)
            post_json("opsgenie", url, {"source": notice.product, "user": notice.acked_by or notice.product,
                                        "note": note}, self.timeout, headers)
            return
        warning = notice.event.startswith("cert-") or notice.event == "test"
        body = {"message": email_subject(notice)[:130], "alias": alias, "description": email_text(notice)[:15000],
                "priority": "P4" if warning else self.priority, "source": notice.product,
                "entity": notice.cell, "tags": [notice.cell, notice.event.split("-")[0]],
                "details": {"checks": ", ".join(f.target for f in notice.failures), "ack_url": notice.ack_url,
                            "status_url": notice.status_url, "runbook_url": notice.runbook_url}}
        post_json("opsgenie", self.api, body, self.timeout, headers)
