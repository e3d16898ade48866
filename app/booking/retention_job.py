"""The daily retention run, inside the service: every process of a cell runs it once a day.

Retention is idempotent, so several processes and VMs running it the same day only repeat work that
finds nothing left to erase; a session advisory lock keeps two of them from running it at the same
moment. After a run that succeeded it pings the monitor's heartbeat URL (RETENTION_HEARTBEAT_URL),
whose check pages when no run was reported for too long. The first run is one interval after start, so a
restart loop cannot turn it into a stream of erasures.
"""

from __future__ import annotations

import logging
import sys
import threading
import urllib.request
from collections.abc import Callable
from datetime import datetime
from typing import Any

from psycopg_pool import ConnectionPool

from booking.privacy import apply_retention

log = logging.getLogger("booking.retention")
LOCK = 0x5E7E_0001  # pg advisory lock id of the retention run (any constant the service uses only here)
DAY_S = 86_400.0


def ping_heartbeat(url: str | None) -> None:
    """Tell the uptime monitor this run succeeded (its heartbeat check pages when a run is missing).

    A ping that does not get through is a warning, not a failure of the job: the monitor pages for the
    missing ping anyway, and the job's own work is done.
    """
    if not url:
        return
    if not url.startswith(("https://", "http://")):
        print(f"warning: heartbeat URL {url!r} is not http(s); print the right one with `uptime heartbeat-url`",
              file=sys.stderr)
        return
    try:
        urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"), timeout=10).close()  # noqa: S310
    except OSError as exc:
        print(f"warning: heartbeat {url} not reached ({exc}); the monitor pages if no ping arrives", file=sys.stderr)


class RetentionJob:
    """Runs `apply_retention` for this cell every `every_s` seconds in a background thread."""

    def __init__(self, pool: ConnectionPool[Any], cell: str, clock: Callable[[], datetime], *,
                 every_s: float = DAY_S, heartbeat_url: str | None = None,
                 ping: Callable[[str | None], None] = ping_heartbeat) -> None:
        self.pool, self.cell, self.clock = pool, cell, clock
        self.every_s, self.heartbeat_url, self.ping = every_s, heartbeat_url, ping
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> dict[str, dict[str, int]] | None:
        """One run now; None when another process holds the lock (it is running retention right now)."""
        with self.pool.connection() as conn:
            row = conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (LOCK,)).fetchone()
            conn.commit()
            if row is None or not row["got"]:
                return None
            try:
                done = apply_retention(self.pool, self.cell, self.clock())
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK,))
                conn.commit()
        log.info("retention run: %s", done)
        self.ping(self.heartbeat_url)
        return done

    def start(self) -> None:
        """Run every `every_s` seconds until `stop`; a failed run is logged and retried at the next one."""

        def loop() -> None:
            while not self._stop.wait(self.every_s):
                try:
                    self.run_once()
                except Exception:
                    log.exception("retention run failed; the next one is in %.0f s", self.every_s)

        self._thread = threading.Thread(target=loop, name="retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
