"""Chat incoming webhooks: Slack (Block Kit) and Microsoft Teams (an Adaptive Card). Their URL is the
credential, so it is read from an environment variable (``url_env``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from uptime.clock import utc
from uptime.configparse import ConfigError
from uptime.notice import Notice, email_subject
from uptime.notify.base import Channel, options, post_json, secret

_OPTIONS = ["url_env", "timeout"]


def settings(channel: Channel) -> float:
    """The timeout; ``url_env`` names the variable holding the incoming-webhook URL."""
    sec = options(channel, _OPTIONS)
    sec.text("url_env")
    return sec.duration("timeout", "10s")


validate = settings


def facts(notice: Notice) -> list[str]:
    """The lines both chats show under the title."""
    since = utc(notice.since).strftime("%Y-%m-%d %H:%M UTC")
    state = "checks that failed" if notice.resolved else "checks failing"
    lines = [f"Cell {notice.cell}: {notice.down} of {notice.total} {state}, since {since}"]
    if notice.change:
        lines.append(f"What changed: {notice.change}")
    if notice.acked_by:
        lines.append(f"Acknowledged by {notice.acked_by}")
    lines += [f"{f.target}: {f.kind}: {f.error}" if f.error else f.target for f in notice.failures]
    return lines


def links(notice: Notice) -> list[tuple[str, str]]:
    """(title, url) of the actions: acknowledge while open and unacknowledged, status page, runbook."""
    out = []
    if notice.ack_url and not notice.resolved and not notice.acked_by:
        out.append(("Acknowledge", notice.ack_url))
    out += [(title, url) for title, url in (("Status page", notice.status_url), ("Runbook", notice.runbook_url))
            if url]
    return out


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # Slack's three


def slack_message(notice: Notice) -> dict[str, Any]:
    """A Slack message: the subject as fallback text, a section with the facts, link buttons."""
    body = "\n".join(_escape(line) for line in facts(notice))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": email_subject(notice)[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": body[:3000]}},
    ]
    buttons = [{"type": "button", "text": {"type": "plain_text", "text": title}, "url": url}
               for title, url in links(notice)]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return {"text": email_subject(notice), "blocks": blocks}


def teams_message(notice: Notice) -> dict[str, Any]:
    """A Teams message carrying one Adaptive Card (what incoming webhooks and Workflows both accept)."""
    colour = "Good" if notice.resolved else "Attention"
    card = {
        "type": "AdaptiveCard", "version": "1.4", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "body": [{"type": "TextBlock", "text": email_subject(notice), "weight": "Bolder", "size": "Medium",
                  "color": colour, "wrap": True},
                 *({"type": "TextBlock", "text": line, "wrap": True} for line in facts(notice))],
        "actions": [{"type": "Action.OpenUrl", "title": title, "url": url} for title, url in links(notice)],
    }
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}


class _ChatNotifier:
    service = "chat"

    def __init__(self, channel: Channel, environ: Mapping[str, str]) -> None:
        self.timeout = settings(channel)
        self.url = secret(channel, "url", environ) or ""
        if not self.url.startswith("https://") and not self.url.startswith("http://"):
            raise ConfigError(f"{self.service}: the variable named by channels.{channel.name}.url_env does not "
                              "hold an http(s) URL; paste the incoming-webhook URL there")

    def message(self, notice: Notice) -> dict[str, Any]:
        raise NotImplementedError

    def send(self, notice: Notice, recipient: str | None) -> None:
        """Post the message; the service answers 200 (Slack ``ok``, Teams ``1``) or 202 (Teams Workflows)."""
        post_json(self.service, self.url, self.message(notice), self.timeout)


class SlackNotifier(_ChatNotifier):
    """Slack incoming webhook."""

    service = "slack"

    def message(self, notice: Notice) -> dict[str, Any]:
        """Block Kit message."""
        return slack_message(notice)


class TeamsNotifier(_ChatNotifier):
    """Microsoft Teams incoming webhook (or a Workflows webhook)."""

    service = "teams"

    def message(self, notice: Notice) -> dict[str, Any]:
        """Adaptive Card message."""
        return teams_message(notice)
