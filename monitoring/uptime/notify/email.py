"""Email over SMTP (optional STARTTLS and AUTH), multipart text + HTML."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from uptime.configparse import ConfigError
from uptime.notice import Notice, email_html, email_subject, email_text
from uptime.notify.base import Channel, NotifyError, options, secret

_OPTIONS = ["host", "port", "starttls", "ca_file", "username", "username_env", "password_env", "from", "timeout"]


@dataclass(frozen=True)
class Settings:
    """The channel's options, read once."""

    host: str
    port: int
    starttls: bool
    ca_file: str | None
    username: str | None
    sender: str
    timeout: float


def settings(channel: Channel) -> Settings:
    """``host`` and ``from`` are required; ``username`` (or ``username_env``) needs ``password_env``.

    ``username_env`` is for providers whose SMTP user is itself a credential (Amazon SES: an access key id).
    """
    sec = options(channel, _OPTIONS)
    if sec.has("username") and sec.has("username_env"):
        raise ConfigError(f"channels.{channel.name}: set username or username_env, not both")
    if sec.has("username") or sec.has("username_env"):
        sec.text("password_env")
    return Settings(host=sec.text("host"), port=sec.integer("port", 587, 1, 65535), starttls=sec.flag("starttls", True),
                    ca_file=sec.opt_str("ca_file"), username=sec.opt_str("username"),
                    sender=sec.text("from", pattern=r"[^@\s]+@[^@\s]+|.*<[^@\s]+@[^@\s]+>"),
                    timeout=sec.duration("timeout", "10s"))


validate = settings


class EmailNotifier:
    """One SMTP session per message: simple and robust against idle disconnects."""

    def __init__(self, channel: Channel, environ: Mapping[str, str]) -> None:
        opts = settings(channel)
        self.host, self.port, self.starttls, self.ca_file = opts.host, opts.port, opts.starttls, opts.ca_file
        self.username = opts.username or secret(channel, "username", environ, required=False)
        self.password = secret(channel, "password", environ) if self.username else None
        self.sender = opts.sender
        self.timeout = opts.timeout

    def build(self, notice: Notice, recipient: str) -> EmailMessage:
        """The message as it will be sent."""
        message = EmailMessage()
        message["Subject"] = email_subject(notice)
        message["From"] = self.sender
        message["To"] = recipient
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(domain="uptime.local")
        message["X-Uptime-Incident"] = str(notice.incident_id)
        message.set_content(email_text(notice))
        message.add_alternative(email_html(notice), subtype="html")
        return message

    def send(self, notice: Notice, recipient: str | None) -> None:
        """Deliver through the SMTP server; any SMTP or socket error is a failed send."""
        if not recipient:
            raise NotifyError("email: no recipient address")
        message = self.build(notice, recipient)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context(cafile=self.ca_file))
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise NotifyError(f"email: {type(exc).__name__}: {exc}") from exc
