"""Login throttling per account and per client address (NIST SP 800-63B-4 rate limiting).

Counts failed attempts in a sliding window; past the limit, attempts are refused with 429 and a
Retry-After until the oldest failure leaves the window. Kept in the process: with several workers or
instances each applies the limit separately, which still bounds online guessing to a small multiple.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime

from booking.errors import ApiError


class LoginThrottle:
    """Sliding-window failure counters keyed by account and by address."""

    def __init__(self, clock: Callable[[], datetime], *, per_account: int = 5, per_address: int = 30,
                 window_s: float = 900.0, max_keys: int = 100_000) -> None:
        self.clock = clock
        self.limits = {"account": per_account, "address": per_address}
        self.window_s = window_s
        self.max_keys = max_keys
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def check(self, account: str, address: str) -> None:
        """Raise 429 with Retry-After if either the account or the address is over its limit."""
        now = self.clock().timestamp()
        with self._lock:
            for kind, value in (("account", account), ("address", address)):
                times = self._recent((kind, value), now)
                if len(times) >= self.limits[kind]:
                    wait = max(1, math.ceil(times[0] + self.window_s - now))
                    raise ApiError(429, f"too many failed sign-ins for this {kind}; try again in {wait} s",
                                   headers={"Retry-After": str(wait)})

    def failed(self, account: str, address: str) -> None:
        """Record a failed attempt against both keys."""
        now = self.clock().timestamp()
        with self._lock:
            if len(self._failures) >= self.max_keys:  # bounded memory under a spray of addresses
                self._failures.clear()
            for key in (("account", account), ("address", address)):
                times = self._recent(key, now)
                times.append(now)
                self._failures[key] = times

    def succeeded(self, account: str) -> None:
        """A correct sign-in clears that account's failures (not the address's)."""
        with self._lock:
            self._failures.pop(("account", account), None)
