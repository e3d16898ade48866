"""Time source, injected everywhere so state machines and schedules are testable without sleeping."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current time as a UNIX timestamp (seconds, float)."""

    def now(self) -> float:
        """Return the current time in seconds since the epoch."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> float:
        """Return ``time.time()``."""
        return time.time()


def utc(ts: float) -> datetime:
    """Convert a UNIX timestamp to an aware UTC datetime."""
    return datetime.fromtimestamp(ts, UTC)
