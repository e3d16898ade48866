"""`slotstack drill failover CELL`: kill the primary under load, promote the replica, measure, rebuild.

Runbook being rehearsed (docs/runbooks/drills.md): the primary dies (kill -9, no shutdown), the
standby is promoted, clients reconnect through the multi-host connection string
(`target_session_attrs=read-write` finds the new primary by itself), and a new standby is cloned from
the new primary with pg_basebackup so the cell is redundant again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from infra.errors import SlotstackError
from infra.local.db.cluster import APPLICATION_NAME, CellDatabase
from infra.local.drills import incidents
from infra.local.drills.load import BookingLoad
from infra.local.lifecycle import monitor_config
from infra.local.lifecycle.tenants import Tenant

Say = Callable[[str], None]


def replication_lag_bytes(db: CellDatabase) -> int | None:
    """WAL the primary has written that the standby has not yet replayed (None if it is not connected)."""
    with psycopg.connect(db.primary().dsn(), autocommit=True, connect_timeout=3) as conn:
        row = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) FROM pg_stat_replication "
                           "WHERE application_name = %s", (APPLICATION_NAME,)).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def missing_bookings(db: CellDatabase, ids: list[str]) -> list[str]:
    """Acknowledged booking ids that the (new) primary does not have."""
    with psycopg.connect(db.primary().dsn("booking"), autocommit=True) as conn:
        found = {str(r[0]) for r in conn.execute("SELECT id FROM bookings WHERE id = ANY(%s::uuid[])", (ids,))}
    return [i for i in ids if i not in found]


def run(db: CellDatabase, url: str, tenant: Tenant, *, outbox: Path, say: Say, warmup_s: float = 3.0,
        after_s: float = 3.0, recover_timeout_s: float = 60.0, promote_after_s: float = 0.0,
        monitor_wait_s: float = 0.0) -> dict[str, Any]:
    """Run the drill and return the report; the cell is redundant again when it returns.

    `promote_after_s` delays the promotion, as a slow detection or a manual failover would, long
    enough for the monitor to page; `monitor_wait_s` then waits for its page and recovery notice.
    """
    old, new = db.primary(), db.standby()
    if old.pid() is None or new.pid() is None:
        raise SlotstackError(f"cell {db.cell}: both database nodes must run before a drill "
                             f"(primary {old.port}: {old.pid()}, replica {new.port}: {new.pid()}); run `slotstack up`")
    db.wait_streaming()
    seen = incidents.snapshot(outbox)
    load = BookingLoad(url, tenant)
    say(f"{db.cell}: write load started against {url} ({load.workers} clients)")
    load.start()
    try:
        deadline = time.monotonic() + 30
        time.sleep(warmup_s)
        while load.acked_count() == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        if load.acked_count() == 0:
            raise SlotstackError(f"cell {db.cell}: no booking succeeded during the warm-up; check {url}/readyz")
        lag = replication_lag_bytes(db)
        say(f"{db.cell}: kill -9 of the primary {old.name} (port {old.port}, pid {old.pid()})")
        killed_at = time.monotonic()
        old.kill()
        if promote_after_s:
            say(f"{db.cell}: waiting {promote_after_s:.0f} s before promoting (slow detection)")
            time.sleep(promote_after_s)
        say(f"{db.cell}: promoting the replica {new.name} (port {new.port})")
        try:
            new.promote()
        except SlotstackError as exc:
            raise SlotstackError(f"{exc}. Cell {db.cell} has no primary now: `slotstack down` then `slotstack up` "
                                 f"restarts {old.name} as primary with {new.name} as its replica") from None
        promoted_at = time.monotonic()
        db.configure_primary(new, with_standby=False)  # no standby yet: do not wait for one on commit
        new.reload()
        while time.monotonic() < promoted_at + recover_timeout_s:
            if any(sent > killed_at for sent, _, _ in load.result.acks[-50:]):
                break
            time.sleep(0.05)
        time.sleep(after_s)
    finally:
        result = load.stop()
    # A request sent before the kill may be answered just after it: it does not show recovery.
    before = [acked for _, acked, _ in result.acks if acked < killed_at]
    after = [acked for sent, acked, _ in result.acks if sent > killed_at]
    if not after:
        raise SlotstackError(f"cell {db.cell}: no booking succeeded within {recover_timeout_s:.0f} s after the "
                             f"promotion; see {new.log} and the booking service log")
    missing = missing_bookings(db, [i for _, _, i in result.acks])
    say(f"{db.cell}: rebuilding a replica on port {old.port} from the new primary with pg_basebackup")
    rebuild_started = time.monotonic()
    db.clone_standby(old, new)
    old.start()
    streaming = db.wait_streaming()
    rebuilt_s = time.monotonic() - rebuild_started
    messages = incidents.wait_for_recovery(outbox, seen, db.cell, monitor_wait_s)
    errors_during = [(t, k) for t, k in result.errors if killed_at <= t <= after[0]]
    return {
        "cell": db.cell,
        "replication": "synchronous" if db.synchronous else "asynchronous",
        "old_primary": {"node": old.name, "port": old.port},
        "new_primary": {"node": new.name, "port": new.port},
        "rto_s": round(after[0] - before[-1], 3) if before else None,
        "promote_s": round(promoted_at - killed_at, 3),
        "rpo_bookings": len(missing),
        "missing_booking_ids": missing[:20],
        "lag_bytes_at_failure": lag,
        "acknowledged_bookings": len(result.acks),
        "client_errors": len(result.errors),
        "client_errors_during_outage": len(errors_during),
        "client_error_kinds": result.error_kinds(),
        "conflicts_skipped": result.conflicts,
        "replica_rebuilt_s": round(rebuilt_s, 2),
        "replica": streaming,
        "monitor": {**messages, "pages": incidents.pages_for(messages, db.cell),
                    "detection_window_s": monitor_config.DOWN_AFTER * monitor_config.PROBE_INTERVAL_S},
    }
