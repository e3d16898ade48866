"""What a probe of any kind reports: one outcome of one target from one location, and its failure kinds.

Its own module so that every prober (HTTP in uptime.probe, the others in uptime.checks) and everything
that consumes results import it from below them, never from each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509

KINDS = ("dns", "connect", "tls", "timeout", "status", "body", "latency", "late", "job")


@dataclass(frozen=True)
class Result:
    """The outcome of one probe of one target from one location."""

    target: str
    cell: str
    location: str
    ts: float
    ok: bool
    duration: float
    kind: str | None = None
    error: str = ""
    status: int | None = None
    cert_expiry: float | None = None
    cert_warning: str = ""


def cert_expiry(der: bytes) -> float:
    """The expiry (UNIX seconds) of a DER certificate."""
    return x509.load_der_x509_certificate(der).not_valid_after_utc.timestamp()
