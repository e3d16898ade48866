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
from booking.calendars.store import lock_staff, mark_failed, replace_blocks
from booking.db import Conn, tenant_tx
from booking.errors import Refused

log = logging.getLogger(__name__)
IMPORT_HORIZON = timedelta(days=400)
Fetcher = Callable[[str], bytes]


class FeedSync:
    """A small pool of fetch threads shared by all tenants, with at most `per_tenant` feeds of one tenant queued
    or running at a time (so one tenant's slow feeds cannot occupy every thread)."""

    def __init__(self, pool: ConnectionPool[Conn], fetch: Fetcher, clock: Callable[[], datetime], *,
                 workers: int = 4, per_tenant: int = 2) -> None:
        self.pool = pool
        self.fetch = fetch
        self.clock = clock
        self.per_tenant = per_tenant
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
        self._executor.shutdown(wait=False, cancel_futures=True)

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
        except Refused as exc:
            with tenant_tx(self.pool, tenant_id) as conn:
                mark_failed(conn, feed_id, str(exc), now)
            return
        with tenant_tx(self.pool, tenant_id) as conn:
            lock_staff(conn, feed["staff_id"])
            replace_blocks(conn, feed["staff_id"], feed_id, blocks, now)
