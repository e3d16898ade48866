"""SMS through Azure Communication Services, signed with HMAC-SHA256 as ACS documents it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import urlsplit

import requests

from uptime.configparse import ConfigError
from uptime.notice import Notice, sms_text
from uptime.notify.base import Channel, NotifyError, options, secret

API_VERSION = "2021-03-07"
_OPTIONS = ["endpoint", "access_key_env", "from", "timeout"]


@dataclass(frozen=True)
class Settings:
    """The channel's options, read once."""

    endpoint: str
    sender: str
    timeout: float


def settings(channel: Channel) -> Settings:
    """``endpoint`` (https://<resource>.communication.azure.com), ``access_key_env``, ``from``."""
    sec = options(channel, _OPTIONS)
    endpoint = sec.text("endpoint")
    if urlsplit(endpoint).scheme not in ("http", "https"):
        raise ConfigError(f"{sec.key('endpoint')}: {endpoint!r} is not a URL (https://<resource>.communication.azure.com)")
    sec.text("access_key_env")
    return Settings(endpoint=endpoint.rstrip("/"), sender=sec.text("from"), timeout=sec.duration("timeout", "10s"))


validate = settings


def sign(method: str, url: str, body: bytes, key_b64: str, date: str) -> dict[str, str]:
    """Headers for an ACS HMAC request: x-ms-date, x-ms-content-sha256 and Authorization."""
    parts = urlsplit(url)
    path_and_query = parts.path + (f"?{parts.query}" if parts.query else "")
    content_hash = base64.b64encode(hashlib.sha256(body).digest()).decode()
    to_sign = f"{method}\n{path_and_query}\n{date};{parts.netloc};{content_hash}"
    digest = hmac.new(base64.b64decode(key_b64), to_sign.encode(), hashlib.sha256).digest()
    signature = base64.b64encode(digest).decode()
    return {
        "x-ms-date": date,
        "x-ms-content-sha256": content_hash,
        "Authorization": f"HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}",
    }


class AcsSmsNotifier:
    """POST {endpoint}/sms?api-version=2021-03-07."""

    def __init__(self, channel: Channel, environ: Mapping[str, str]) -> None:
        opts = settings(channel)
        self.endpoint = opts.endpoint
        self.key = secret(channel, "access_key", environ) or ""
        try:
            base64.b64decode(self.key, validate=True)
        except ValueError as exc:
            raise ConfigError(f"channels.{channel.name}.access_key_env: the key is not base64 (copy it from the "
                              "ACS resource's Keys blade)") from exc
        self.sender, self.timeout = opts.sender, opts.timeout

    def send(self, notice: Notice, recipient: str | None) -> None:
        """ACS answers 202 with per-recipient results; a recipient-level failure is a failure."""
        url = f"{self.endpoint}/sms?api-version={API_VERSION}"
        body = json.dumps({
            "from": self.sender,
            "smsRecipients": [{"to": recipient}],
            "message": sms_text(notice),
            "smsSendOptions": {"enableDeliveryReport": False},
        }).encode()
        headers = sign("POST", url, body, self.key, formatdate(usegmt=True))
        headers["Content-Type"] = "application/json"
        try:
            response = requests.post(url, data=body, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise NotifyError(f"acs_sms: {type(exc).__name__}: {exc}") from exc
        if response.status_code not in (200, 202):
            raise NotifyError(f"acs_sms: HTTP {response.status_code}: {response.text[:200]}")
        try:
            results = response.json().get("value", [])
        except ValueError:
            results = []
        failed = [r for r in results if not r.get("successful", True)]
        if failed:
            raise NotifyError(f"acs_sms: rejected: {failed[0].get('errorMessage', failed[0])}")
