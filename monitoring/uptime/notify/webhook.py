"""A generic JSON webhook, optionally signed with HMAC-SHA256 over the body."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass

import requests

from uptime.configparse import ConfigError
from uptime.notice import Notice, webhook_payload
from uptime.notify.base import Channel, NotifyError, options, secret

_OPTIONS = ["url", "secret_env", "timeout"]


@dataclass(frozen=True)
class Settings:
    """The channel's options, read once."""

    url: str
    timeout: float


def settings(channel: Channel) -> Settings:
    """``url`` is required; ``secret_env`` adds ``X-Uptime-Signature: sha256=<hex>``."""
    sec = options(channel, _OPTIONS)
    url = sec.text("url")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{sec.key('url')}: {url!r} is not an http(s) URL")
    return Settings(url=url, timeout=sec.duration("timeout", "10s"))


validate = settings


class WebhookNotifier:
    """POST the incident as JSON; any 2xx is success."""

    def __init__(self, channel: Channel, environ: Mapping[str, str]) -> None:
        opts = settings(channel)
        self.url, self.timeout = opts.url, opts.timeout
        self.key = secret(channel, "secret", environ, required=False)

    def send(self, notice: Notice, recipient: str | None) -> None:
        """Deliver the payload."""
        body = json.dumps(webhook_payload(notice), sort_keys=True).encode()
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["X-Uptime-Signature"] = "sha256=" + hmac.new(self.key.encode(), body, hashlib.sha256).hexdigest()
        try:
            response = requests.post(self.url, data=body, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise NotifyError(f"webhook: {type(exc).__name__}: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise NotifyError(f"webhook: HTTP {response.status_code}: {response.text[:200]}")
