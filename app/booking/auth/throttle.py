"""Slowing down password guessing (NIST SP 800-63B-4 rate limiting) without locking owners out.

Per account: the first few failures cost nothing; after that each attempt must wait a delay that doubles with
every consecutive failure, up to 15 minutes. The owner is never locked out: after the delay a correct password
works, and success clears the count. At the cap an attacker gets about 100 guesses a day per account, the most
NIST allows. Per client address (the real one: see clientaddr.py): a sliding window of failures, so one address
cannot spray many accounts. Kept in the process: with N workers the bounds are N times higher.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime

from booking.errors import ApiError

FREE_FAILURES = 3
MAX_DELAY_S = 900.0
FORGET_AFTER_S = 86_400.0


class LoginThrottle:
    """Growing delays per account, a sliding window per address; every password check goes through it."""

    def __init__(self, clock: Callable[[], datetime], *, free: int = FREE_FAILURES, max_delay_s: float = MAX_DELAY_S,
                 per_address: int = 30, window_s: float = 900.0, max_keys: int = 100_000) -> None:
        self.clock = clock
        self.free = free
        self.max_delay_s = max_delay_s
        self.per_address = per_address
        self.window_s = window_s
        self.max_keys = max_keys
        self._accounts: dict[str, tuple[int, float]] = {}  # account -> (consecutive failures, last failure)
        self._addresses: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def delay_after(self, failures: int) -> float:
        """Seconds an account must wait after `failures` consecutive failures (0 for the first few)."""
        if failures < self.free:
            return 0.0
        return min(self.max_delay_s, 2.0 ** (failures - self.free))

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._addresses.get(address, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def check(self, account: str, address: str) -> None:
        """Raise 429 with Retry-After if the account must still wait or the address is over its limit."""
        now = self.clock().timestamp()
        with self._lock:
            failures, last = self._accounts.get(account, (0, 0.0))
            wait = last + self.delay_after(failures) - now
            if failures and wait > 0:
                secs = max(1, math.ceil(wait))
                raise ApiError(429, f"{failures} wrong attempts in a row on this account; try again in {secs} s "
                                    "(each further wrong attempt doubles the wait)", headers={"Retry-After": str(secs)})
            times = self._recent(address, now)
            if len(times) >= self.per_address:
                secs = max(1, math.ceil(times[0] + self.window_s - now))
                raise ApiError(429, f"too many failed attempts from this address; try again in {secs} s",
                               headers={"Retry-After": str(secs)})

    def failed(self, account: str, address: str) -> None:
        """Record a failed attempt against the account and the address."""
        now = self.clock().timestamp()
        with self._lock:
            if len(self._accounts) + len(self._addresses) >= self.max_keys:  # bounded memory under a spray
                self._forget(now)
            failures, last = self._accounts.get(account, (0, 0.0))
            if now - last > FORGET_AFTER_S:
                failures = 0
            self._accounts[account] = (failures + 1, now)
            times = self._recent(address, now)
            times.append(now)
            self._addresses[address] = times

    def succeeded(self, account: str) -> None:
        """A correct password clears that account's failures (not the address's)."""
        with self._lock:
            self._accounts.pop(account, None)

    def _forget(self, now: float) -> None:
        """Drop what no longer slows anyone down; if that is not enough, everything."""
        self._accounts = {k: v for k, v in self._accounts.items()
                          if now < v[1] + self.delay_after(v[0]) and now - v[1] < FORGET_AFTER_S}
        self._addresses = {k: t for k, t in self._addresses.items() if self._recent(k, now)}
        if len(self._accounts) + len(self._addresses) >= self.max_keys:
            self._accounts.clear()
            self._addresses.clear()
