"""The notifier interface shared by every channel type."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from uptime.configparse import ConfigError, Section
from uptime.notice import Notice


@dataclass(frozen=True)
class Channel:
    """A notification channel; ``options`` are validated by the channel type's notifier.

    It lives with the notifiers, not in ``uptime.config``: the config imports the notifiers to validate
    channels, and the notifiers never import the config.
    """

    name: str
    type: str
    options: dict[str, Any]

    @property
    def kind(self) -> str:
        """``email``, ``sms`` or ``webhook`` (a service with no per-person address): what it needs of a person."""
        if self.type == "email":
            return "email"
        return "webhook" if self.type in SERVICE_TYPES else "sms"


# Channels that post to a service rather than to a person: one delivery per notice, no recipient.
SERVICE_TYPES = ("webhook", "slack", "teams", "pagerduty", "opsgenie")


class NotifyError(Exception):
    """A send failed; the notification stays pending and is retried with backoff."""


class Notifier(Protocol):
    """Sends one notice to one recipient (``None`` for channels without recipients, e.g. webhooks)."""

    def send(self, notice: Notice, recipient: str | None) -> None:
        """Deliver or raise :class:`NotifyError`; returning means the provider accepted it."""
        ...


def secret(channel: Channel, name: str, environ: Mapping[str, str], required: bool = True) -> str | None:
    """Read the secret whose environment variable is named by option ``<name>_env``."""
    var = channel.options.get(f"{name}_env")
    if var is None:
        if required:
            raise ConfigError(f"channels.{channel.name}.{name}_env: required (the environment variable holding {name})")
        return None
    value = environ.get(str(var))
    if not value:
        raise ConfigError(
            f"channels.{channel.name}.{name}_env: environment variable {var} is not set; export it before starting"
        )
    return value


def options(channel: Channel, allowed: list[str]) -> Section:
    """The channel's options as a section that refuses unknown keys."""
    sec = Section(channel.options, f"channels.{channel.name}")
    sec.reject_unknown(["type", *allowed])
    return sec


def post_json(service: str, url: str, body: Any, timeout: float, headers: Mapping[str, str] | None = None) -> None:
    """POST ``body`` as JSON; any 2xx means the provider accepted it, anything else is a :class:`NotifyError`
    that names the service and its answer (the outbox retries it)."""
    data = json.dumps(body, sort_keys=True).encode()
    try:
        response = requests.post(url, data=data, headers={"Content-Type": "application/json", **(headers or {})},
                                 timeout=timeout)
    except requests.RequestException as exc:
        raise NotifyError(f"{service}: {type(exc).__name__}: {exc}") from exc
    if not 200 <= response.status_code < 300:
        raise NotifyError(f"{service}: HTTP {response.status_code}: {response.text[:200]}")


def http_url(sec: Section, name: str, default: str | None = None) -> str:
    """An http(s) URL option, without a trailing slash."""
    url = sec.text(name, default).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{sec.key(name)}: {url!r} is not an http(s) URL")
    return url


def dedup_key(notice: Notice) -> str:
    """One key per incident (or certificate), so a provider updates, acknowledges and resolves one alert."""
    if notice.event.startswith("cert-"):
        return f"{notice.product}/cert/{'/'.join(f.target for f in notice.failures)}"
    return f"{notice.product}/{notice.source}/{notice.cell}/{notice.incident_id}"
