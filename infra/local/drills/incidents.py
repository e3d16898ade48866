"""What the monitor told on-call during a drill: the email and SMS files that appeared in the outbox."""

from __future__ import annotations

import email
import time
from email import policy
from pathlib import Path
from typing import Any

from infra.local.lifecycle.monitor_config import MONITOR_SENDER


def snapshot(outbox: Path) -> set[str]:
    """Names of the messages already in the outbox (email and SMS)."""
    return {str(p.relative_to(outbox)) for p in _messages(outbox)}


def _messages(outbox: Path) -> list[Path]:
    return sorted([*outbox.glob("*.eml"), *outbox.glob("sms/*.sms")])


def since(outbox: Path, seen: set[str]) -> dict[str, Any]:
    """Subjects of the monitor's new emails and texts of new SMS, oldest first.

    The sink also holds the booking services' mail (confirmations of the drill's bookings); only what
    the monitor sent counts as telling on-call."""
    emails, sms = [], []
    for path in _messages(outbox):
        name = str(path.relative_to(outbox))
        if name in seen:
            continue
        if path.suffix == ".eml":
            message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            if MONITOR_SENDER not in str(message["From"]):
                continue
            emails.append({"to": str(message["To"]), "subject": str(message["Subject"]), "file": name})
        else:
            head, _, body = path.read_text(encoding="utf-8").partition("\n\n")
            sms.append({"to": head.removeprefix("To: ").strip(), "text": body.strip(), "file": name})
    return {"emails": emails, "sms": sms}


def pages_for(messages: dict[str, Any], cell: str) -> dict[str, bool]:
    """Did on-call get a DOWN page and a RECOVERED notice for `cell`, by SMS and by email?"""
    texts = [m["text"] for m in messages["sms"]]
    subjects = [m["subject"] for m in messages["emails"]]
    return {
        "down_sms": any(f"DOWN {cell} " in t for t in texts),
        "down_email": any(f"DOWN {cell}:" in s for s in subjects),
        "recovered_sms": any(f"RECOVERED {cell} " in t for t in texts),
        "recovered_email": any(f"RECOVERED {cell} " in s for s in subjects),
    }


def wait_for_recovery(outbox: Path, seen: set[str], cell: str, timeout: float) -> dict[str, Any]:
    """Wait (bounded) until the monitor has both paged and sent the recovery notice for `cell`."""
    deadline = time.monotonic() + timeout
    while True:
        messages = since(outbox, seen)
        pages = pages_for(messages, cell)
        if all(pages.values()) or time.monotonic() >= deadline:
            return messages
        time.sleep(0.5)
