"""Signed acknowledgement tokens: short enough for an SMS, impossible to forge without the secret."""

from __future__ import annotations

import base64
import hashlib
import hmac


def sign(incident_id: int, secret: bytes, scope: str = "") -> str:
    """``<scope><id>.<22 chars of base64url HMAC-SHA256>`` (132 bits: ample against guessing).

    ``scope`` (lowercase letters) separates kinds of acknowledgeable things, e.g. ``am`` for Alertmanager
    alert groups; the empty scope is the monitor's own incidents, so links sent before scopes stay valid.
    """
    message = f"ack:{incident_id}" if not scope else f"ack:{scope}:{incident_id}"
    mac = hmac.new(secret, message.encode(), hashlib.sha256).digest()
    return f"{scope}{incident_id}.{base64.urlsafe_b64encode(mac).decode()[:22]}"


def verify(token: str, secret: bytes, scope: str = "") -> int | None:
    """The id if ``token`` is a genuine token of ``scope``, else None."""
    head, _, _ = token.partition(".")
    if not head.startswith(scope):
        return None
    digits = head[len(scope):]
    if not digits.isdigit() or len(digits) > 12:
        return None
    return int(digits) if hmac.compare_digest(sign(int(digits), secret, scope), token) else None
