"""SMS through Twilio's REST API (form-encoded POST with HTTP basic auth)."""

from __future__ import annotations

from collections.abc import Mapping

import requests

from uptime.notice import Notice, sms_text
from uptime.notify.base import Channel, NotifyError, options, secret

DEFAULT_API = "https://api.twilio.com"


_OPTIONS = ["account_sid", "auth_token_env", "from", "api_base", "timeout"]


def validate(channel: Channel) -> None:
    """``account_sid``, ``auth_token_env``, ``from`` are required; ``api_base`` defaults to Twilio."""
    sec = options(channel, _OPTIONS)
    sec.text("account_sid", pattern=r"AC[0-9a-fA-F]{32}")
    sec.text("auth_token_env")
    sec.text("from")
    sec.duration("timeout", "10s")


class TwilioNotifier:
    """POST /2010-04-01/Accounts/{sid}/Messages.json with To, From, Body."""

    def __init__(self, channel: Channel, environ: Mapping[str, str]) -> None:
        sec = options(channel, _OPTIONS)
        self.sid = sec.text("account_sid")
        self.token = secret(channel, "auth_token", environ) or ""
        self.sender = sec.text("from")
        self.api = sec.text("api_base", DEFAULT_API).rstrip("/")
        self.timeout = sec.duration("timeout", "10s")

    def send(self, notice: Notice, recipient: str | None) -> None:
        """Twilio answers 201 Created when it accepted the message."""
        url = f"{self.api}/2010-04-01/Accounts/{self.sid}/Messages.json"
        data = {"To": recipient or "", "From": self.sender, "Body": sms_text(notice)}
        try:
            response = requests.post(url, data=data, auth=(self.sid, self.token), timeout=self.timeout)
        except requests.RequestException as exc:
            raise NotifyError(f"twilio: {type(exc).__name__}: {exc}") from exc
        if response.status_code not in (200, 201):
            raise NotifyError(f"twilio: HTTP {response.status_code}: {response.text[:200]}")
