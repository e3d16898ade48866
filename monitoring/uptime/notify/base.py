"""The notifier interface shared by every channel type."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

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
        """``email``, ``sms`` or ``webhook``: which address of a person it needs."""
        return {"email": "email", "webhook": "webhook"}.get(self.type, "sms")


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
