"""Delivery over SMTP: the local stack's sink by default, a relay in the cloud."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from booking.mail.outbox import Sender


def smtp_sender(host: str, port: int, *, timeout_s: float = 10.0, starttls: bool = False) -> Sender:
    """Send each message in its own SMTP session (a few a second at most: no connection is kept)."""

    def send(message: EmailMessage) -> None:
        with smtplib.SMTP(host, port, timeout=timeout_s) as smtp:
            if starttls:
                smtp.starttls()
            smtp.send_message(message)

    return send
