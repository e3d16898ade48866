"""Signed acknowledgement tokens: short enough for an SMS, impossible to forge without the secret."""

from __future__ import annotations

import base64
import hashlib
import hmac


def sign(incident_id: int, secret: bytes) -> str:
    """``<id>.<22 chars of base64url HMAC-SHA256>`` (132 bits: ample against guessing)."""
    mac = hmac.new(secret, f"ack:{incident_id}".encode(), hashlib.sha256).digest()
    return f"{incident_id}.{base64.urlsafe_b64encode(mac).decode()[:22]}"


def verify(token: str, secret: bytes) -> int | None:
    """The incident id if ``token`` is genuine, else None."""
    head, _, _ = token.partition(".")
    if not head.isdigit() or len(head) > 12:
        return None
    return int(head) if hmac.compare_digest(sign(int(head), secret), token) else None
