"""Fetching URL feeds in the background: never in a request thread, a few at a time per tenant.

A request registers the feed and returns at once; a worker thread fetches (within the fetcher's deadline),
expands (within its budget, outside any transaction) and swaps the feed's busy blocks in one short
transaction. A slow or broken feed only records its error: the previous blocks stay.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from psycopg_pool import ConnectionPool

from booking.availability import zone
from booking.calendars.expand import parse_busy_bounded
from booking.calendars.sandbox import SandboxBusy
from booking.calendars.store import lock_staff, mark_failed, replace_blocks
from booking.db import Conn, global_tx, tenant_tx
from booking.errors import Refused

log = logging.getLogger(__name__)
IMPORT_HORIZON = timedelta(days=400)
Fetcher = Callable[[str], bytes]


class FeedSync:
    """A small pool of fetch threads shared by all tenants, with at most `per_tenant` feeds of one tenant queued
    or running at a time (so one tenant's slow feeds cannot occupy every thread)."""

    def __init__(self, pool: ConnectionPool[Conn], fetch: Fetcher, clock: Callable[[], datetime], *,
                 workers: int = 4, per_tenant: int = 2, refresh: timedelta = timedelta(minutes=30)) -> None:
        self.pool = pool
        self.fetch = fetch
        self.clock = clock
        self.per_tenant = per_tenant
        self.refresh = refresh
        self._stop = threading.Event()
        self._scheduler: threading.Thread | None = None
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="feed-sync")
        self._busy: dict[uuid.UUID, int] = {}
        self._lock = threading.Lock()

    def submit(self, tenant_id: uuid.UUID, feed_id: uuid.UUID) -> bool:
        """Queue a fetch of one feed; False when the tenant already has `per_tenant` fetches in flight."""
        with self._lock:
            if self._busy.get(tenant_id, 0) >= self.per_tenant:
                return False
            self._busy[tenant_id] = self._busy.get(tenant_id, 0) + 1
        self._executor.submit(self._run, tenant_id, feed_id)
        return True

    def in_flight(self, tenant_id: uuid.UUID) -> int:
        """How many fetches of the tenant are queued or running."""
        with self._lock:
            return self._busy.get(tenant_id, 0)

    def close(self) -> None:
        """Stop taking work; fetches already running end at their deadline."""
        self._stop.set()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def start(self, cell: str, every_s: float = 60.0) -> None:
        """Refresh due URL feeds of the tenants homed in `cell` every `every_s` seconds, in a thread."""
        def loop() -> None:
            while not self._stop.wait(every_s):
                try:
                    self.refresh_due(cell)
                except Exception:  # the database may be away (failover); the next pass retries
                    log.exception("calendar feed refresh pass failed")

        self._scheduler = threading.Thread(target=loop, name="feed-refresh", daemon=True)
        self._scheduler.start()

    def refresh_due(self, cell: str) -> int:
        """Queue every URL feed not attempted for `refresh`; returns how many were queued.

        Each feed is claimed by setting its last attempt in the same statement that selects it, so several
        processes of a cell never fetch one feed twice in a period.
        """
        now = self.clock()
        with global_tx(self.pool) as conn:
            tenants = [r["tenant_id"] for r in conn.execute(
                "SELECT tenant_id FROM tenant_directory WHERE home_cell = %s ORDER BY tenant_id", (cell,))]
        queued = 0
        for tenant_id in tenants:
            room = self.per_tenant - self.in_flight(tenant_id)
            if room <= 0:
                continue
            with tenant_tx(self.pool, tenant_id) as conn:
                claimed = conn.execute(
                    "UPDATE calendar_feeds SET last_attempt_at = %s WHERE id IN (SELECT id FROM calendar_feeds "
                    "WHERE source <> 'upload' AND (last_attempt_at IS NULL OR "
                    "last_attempt_at < %s) ORDER BY last_attempt_at NULLS FIRST LIMIT %s FOR UPDATE SKIP LOCKED) "
                    "RETURNING id", (now, now - self.refresh, room)).fetchall()
            queued += sum(self.submit(tenant_id, r["id"]) for r in claimed)
        return queued

    def _run(self, tenant_id: uuid.UUID, feed_id: uuid.UUID) -> None:
        try:
            self.sync(tenant_id, feed_id)
        except Exception:  # a worker thread must survive anything one feed does; the status says what failed
            log.exception("calendar feed sync failed", extra={"tenant_id": str(tenant_id)})
        finally:
            with self._lock:
                left = self._busy.get(tenant_id, 1) - 1
                if left:
                    self._busy[tenant_id] = left
                else:
                    self._busy.pop(tenant_id, None)

    def sync(self, tenant_id: uuid.UUID, feed_id: uuid.UUID) -> None:
        """Fetch, expand and store one feed now, in the calling thread; failures go to the feed's status."""
        with tenant_tx(self.pool, tenant_id) as conn:
            feed = conn.execute("SELECT f.source, f.staff_id, s.timezone FROM calendar_feeds f JOIN staff s "
                                "ON s.id = f.staff_id WHERE f.id = %s", (feed_id,)).fetchone()
        if feed is None:
            return  # deleted (with its staff member) since it was queued
        now = self.clock()
        try:
            data = self.fetch(feed["source"])
            blocks = parse_busy_bounded(data, zone(feed["timezone"], "timezone"), (now - timedelta(days=1),
                                                                           now + IMPORT_HORIZON))
        except (Refused, SandboxBusy) as exc:  # busy: the next refresh pass tries again
            with tenant_tx(self.pool, tenant_id) as conn:
                mark_failed(conn, feed_id, str(exc), now)
            return
        with tenant_tx(self.pool, tenant_id) as conn:
            lock_staff(conn, feed["staff_id"])
            replace_blocks(conn, feed["staff_id"], feed_id, blocks, now)
