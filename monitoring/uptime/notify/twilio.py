"""SMS through Twilio's REST API (form-encoded POST with HTTP basic auth)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import requests

from uptime.notice import Notice, sms_text
from uptime.notify.base import Channel, NotifyError, options, secret

DEFAULT_API = "https://api.twilio.com"


_OPTIONS = ["account_sid", "auth_token_env", "from", "api_base", "timeout"]


@dataclass(frozen=True)
class Settings:
    """The channel's options, read once."""

    sid: str
    sender: str
    api: str
    timeout: float


def settings(channel: Channel) -> Settings:
    """``account_sid``, ``auth_token_env``, ``from`` are required; ``api_base`` defaults to Twilio."""
    sec = options(channel, _OPTIONS)
    sec.text("auth_token_env")
    return Settings(sid=sec.text("account_sid", pattern=r"AC[0-9a-fA-F]{32}"), sender=sec.text("from"),
                    api=sec.text("api_base", DEFAULT_API).rstrip("/"), timeout=sec.duration("timeout", "10s"))


validate = settings


class TwilioNotifier:
    """POST /2010-04-01/Accounts/{sid}/Messages.json with To, From, Body."""

    def __init__(self, channel: Channel, environ: Mapping[str, str]) -> None:
        opts = settings(channel)
        self.sid, self.sender, self.api, self.timeout = opts.sid, opts.sender, opts.api, opts.timeout
        self.token = secret(channel, "auth_token", environ) or ""

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
