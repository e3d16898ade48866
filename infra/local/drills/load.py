"""A steady booking write load against one cell, as real clients would produce it.

Each worker books consecutive 5-minute slots of its own staff member through the public HTTP API,
at a fixed pace. A failed request (connection error or 5xx) is counted and retried with the same
Idempotency-Key, so a retry can never create a second booking; a 409 (slot already taken, e.g. by an
earlier drill) moves on to the next slot. Every 201 is an acknowledged booking with its time.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import requests

from infra.local.lifecycle.tenants import Tenant

SLOT = timedelta(minutes=5)


@dataclass
class LoadResult:
    """Acknowledged bookings `(sent, acknowledged, id)` and errors `(monotonic time, kind)`, in order."""

    acks: list[tuple[float, float, str]] = field(default_factory=list)
    errors: list[tuple[float, str]] = field(default_factory=list)
    conflicts: int = 0

    def error_kinds(self) -> dict[str, int]:
        return dict(Counter(kind for _, kind in self.errors))


class BookingLoad:
    """Start with `start()`, stop with `stop()`; `result` fills in as it runs."""

    def __init__(self, base_url: str, tenant: Tenant, *, workers: int = 4, pace_s: float = 0.05,
                 timeout_s: float = 5.0) -> None:
        self.base_url = base_url
        self.tenant = tenant
        self.workers = workers
        self.pace_s = pace_s
        self.timeout_s = timeout_s
        self.result = LoadResult()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # A random day within the service's horizon, so repeated drills rarely meet their own bookings.
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        self.first_slot = today + timedelta(days=random.randint(2, 3000))  # noqa: S311 (not security)
        self.run_id = uuid.uuid4().hex[:8]

    def start(self) -> None:
        """Start the client threads."""
        for index in range(self.workers):
            thread = threading.Thread(target=self._work, args=(index,), name=f"load-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> LoadResult:
        """Stop the clients (each finishes its request in flight) and return what they saw."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout_s + 5)
        return self.result

    def acked_count(self) -> int:
        with self._lock:
            return len(self.result.acks)

    def _work(self, index: int) -> None:
        staff = self.tenant.staff_ids[index % len(self.tenant.staff_ids)]
        session = requests.Session()
        slot = 0
        while not self._stop.is_set():
            start = self.first_slot + SLOT * (slot * (self.workers // len(self.tenant.staff_ids) or 1)
                                              + index // len(self.tenant.staff_ids))
            body = {"service_id": self.tenant.service_id, "staff_id": staff, "start": start.isoformat(),
                    "customer": {"name": "Drill Client", "email": f"drill+{index}@example.com"}}
            key = f"drill-{self.run_id}-{index}-{slot}"
            sent = time.monotonic()
            kind = self._post(session, body, key)
            now = time.monotonic()
            if kind.startswith("id:"):
                with self._lock:
                    self.result.acks.append((sent, now, kind[3:]))
                slot += 1
            elif kind == "conflict":
                with self._lock:
                    self.result.conflicts += 1
                slot += 1
            else:
                with self._lock:
                    self.result.errors.append((now, kind))
            self._stop.wait(self.pace_s)

    def _post(self, session: requests.Session, body: Mapping[str, object], key: str) -> str:
        try:
            resp = session.post(f"{self.base_url}/v1/public/{self.tenant.slug}/bookings", json=body,
                                headers={"Idempotency-Key": key}, timeout=self.timeout_s)
        except requests.Timeout:
            return "timeout"
        except requests.RequestException:
            return "connection"
        if resp.status_code == 201:
            return "id:" + str(resp.json()["id"])
        if resp.status_code == 409:
            return "conflict"
        return f"http {resp.status_code}"
