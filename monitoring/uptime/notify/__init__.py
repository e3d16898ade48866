"""The notifier registry: channel type -> (validate, Notifier class)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from uptime.notify import acs, chat, email, opsgenie, outbox, pagerduty, sns, twilio, webhook
from uptime.notify.base import Channel, Notifier, NotifyError

__all__ = ["REGISTRY", "Notifier", "NotifyError", "build", "validate_channel"]

# type -> (read and check the channel's options, the notifier class); both read the options through one
# ``settings`` function per notifier module, so a key has one name, default and check.
REGISTRY: dict[str, tuple[Callable[[Channel], object], Callable[[Channel, Mapping[str, str]], Any]]] = {
    "email": (email.validate, email.EmailNotifier),
    "twilio": (twilio.validate, twilio.TwilioNotifier),
    "acs_sms": (acs.validate, acs.AcsSmsNotifier),
    "sns": (sns.validate, sns.SnsNotifier),
    "webhook": (webhook.validate, webhook.WebhookNotifier),
    "outbox": (outbox.validate, outbox.OutboxNotifier),
    "pagerduty": (pagerduty.validate, pagerduty.PagerDutyNotifier),
    "opsgenie": (opsgenie.validate, opsgenie.OpsgenieNotifier),
    "slack": (chat.validate, chat.SlackNotifier),
    "teams": (chat.validate, chat.TeamsNotifier),
}


def validate_channel(channel: Channel) -> None:
    """Check a channel's options without reading secrets (used by ``uptime check``)."""
    REGISTRY[channel.type][0](channel)


def build(channel: Channel, environ: Mapping[str, str] | None = None) -> Notifier:
    """Create the notifier, reading its secrets from ``environ`` (default: the process environment)."""
    notifier: Notifier = REGISTRY[channel.type][1](channel, os.environ if environ is None else environ)
    return notifier
