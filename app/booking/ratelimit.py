"""A per-address token bucket for the anonymous routes (public API, booking page): 429 with Retry-After."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from datetime import datetime

from fastapi import Request

from booking.audit import address_of
from booking.errors import ApiError


class AddressRateLimit:
    """`burst` requests at once per client address, refilled at `per_minute`; memory bounded by `max_keys`."""

    def __init__(self, clock: Callable[[], datetime], *, per_minute: float = 120, burst: int = 60,
                 max_keys: int = 100_000) -> None:
        self.clock = clock
        self.rate = per_minute / 60.0
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, when counted)
        self._lock = threading.Lock()

    def take(self, address: str, cost: float = 1.0) -> None:
        """Spend `cost` tokens of `address`, or raise 429 saying when enough will be back."""
        now = self.clock().timestamp()
        with self._lock:
            tokens, then = self._buckets.get(address, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + max(0.0, now - then) * self.rate)
            if tokens < cost:
                wait = max(1, math.ceil((cost - tokens) / self.rate))
                self._buckets[address] = (tokens, now)
                raise ApiError(429, f"too many requests from this address to the public pages; retry in {wait} s",
                               headers={"Retry-After": str(wait)})
            if len(self._buckets) >= self.max_keys and address not in self._buckets:
                self._buckets.clear()  # a spray of addresses: forgetting only ever lets clients through sooner
            self._buckets[address] = (tokens - cost, now)


def limit_anonymous(request: Request) -> None:
    """Route dependency: one token of the caller's address per anonymous request."""
    # The app's Context owns the limiter; reading it from app.state keeps this module below booking.context
    # (which imports AddressRateLimit) instead of importing it back.
    limiter = getattr(request.app.state.ctx, "anonymous", None)
    if not isinstance(limiter, AddressRateLimit):
        raise RuntimeError("the app has no anonymous rate limit (Context.anonymous); build it with create_app")
    limiter.take(address_of(request))
