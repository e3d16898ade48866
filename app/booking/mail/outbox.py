"""The transactional outbox: a message is committed with what caused it, and sent by a worker with retries.

Each message is claimed with a lease in its own short transaction, sent, then marked sent; a worker that dies
mid-send leaves the lease to expire and the message is sent again with the same Message-ID (mail clients show
it once). A message that keeps failing is retried with growing waits and marked failed after MAX_ATTEMPTS.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

from psycopg_pool import ConnectionPool

from booking.db import Conn, global_tx, tenant_tx

log = logging.getLogger(__name__)
Sender = Callable[[EmailMessage], None]
MAX_ATTEMPTS = 10
LEASE = timedelta(minutes=2)
BATCH = 50


def enqueue(conn: Conn, kind: str, message: EmailMessage, send_after: datetime,
            booking_id: uuid.UUID | None = None, stale_after: datetime | None = None) -> uuid.UUID:
    """Add a message in the caller's tenant transaction: it exists if and only if that transaction commits."""
    row = conn.execute(
        "INSERT INTO outbox (tenant_id, kind, booking_id, message, send_after, stale_after) VALUES "
        "(current_setting('app.tenant_id')::uuid, %s, %s, %s, %s, %s) RETURNING tenant_id, id",
        (kind, booking_id, message.as_bytes(), send_after, stale_after)).fetchone()
    assert row is not None
    conn.execute("INSERT INTO outbox_due (tenant_id, message_id, due_at) VALUES (%s, %s, %s)",
                 (row["tenant_id"], row["id"], send_after))
    return uuid.UUID(str(row["id"]))


def cancel_pending(conn: Conn, booking_id: uuid.UUID, kind: str) -> None:
    """Withdraw the booking's unsent messages of `kind` (a reminder of a cancelled or moved booking)."""
    rows = conn.execute("UPDATE outbox SET status = 'cancelled', message = NULL WHERE booking_id = %s "
                        "AND kind = %s AND status = 'pending' RETURNING tenant_id, id", (booking_id, kind)).fetchall()
    for r in rows:
        conn.execute("DELETE FROM outbox_due WHERE tenant_id = %s AND message_id = %s", (r["tenant_id"], r["id"]))


def forget_customer(conn: Conn, customer_id: uuid.UUID) -> None:
    """Delete every message about an erased customer's bookings, sent or not (unsent ones carry their data)."""
    rows = conn.execute("DELETE FROM outbox WHERE booking_id IN (SELECT id FROM bookings WHERE customer_id = %s) "
                        "RETURNING tenant_id, id", (customer_id,)).fetchall()
    for r in rows:
        conn.execute("DELETE FROM outbox_due WHERE tenant_id = %s AND message_id = %s", (r["tenant_id"], r["id"]))


class OutboxWorker:
    """Sends due messages of every tenant homed here; `run_once` is one pass, `start` runs passes in a thread."""

    def __init__(self, pool: ConnectionPool[Conn], send: Sender, clock: Callable[[], datetime], *,
                 interval_s: float = 2.0) -> None:
        self.pool = pool
        self.send = send
        self.clock = clock
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.run_once()
            except Exception:  # the database may be away (failover); the next pass retries
                log.exception("outbox pass failed")

    def run_once(self) -> int:
        """Send what is due now; returns how many messages were sent."""
        now = self.clock()
        with global_tx(self.pool) as conn:
            due = conn.execute("SELECT tenant_id, message_id FROM outbox_due WHERE due_at <= %s ORDER BY due_at "
                               "LIMIT %s", (now, BATCH)).fetchall()
        return sum(self._one(d["tenant_id"], d["message_id"], now) for d in due)

    def _one(self, tenant_id: uuid.UUID, message_id: uuid.UUID, now: datetime) -> int:
        with tenant_tx(self.pool, tenant_id) as conn:
            row = conn.execute("SELECT message, attempts, stale_after FROM outbox WHERE id = %s AND status IN "
                               "('pending', 'sending') AND send_after <= %s AND (lease_until IS NULL OR "
                               "lease_until <= %s) FOR UPDATE SKIP LOCKED", (message_id, now, now)).fetchone()
            if row is None:
                return 0
            if row["stale_after"] is not None and row["stale_after"] <= now:  # e.g. the worker was down for days
                conn.execute("UPDATE outbox SET status = 'cancelled', message = NULL, last_error = 'stale' "
                             "WHERE id = %s", (message_id,))
                conn.execute("DELETE FROM outbox_due WHERE tenant_id = %s AND message_id = %s",
                             (tenant_id, message_id))
                return 0
            conn.execute("UPDATE outbox SET status = 'sending', lease_until = %s, attempts = attempts + 1 "
                         "WHERE id = %s", (now + LEASE, message_id))
        message = message_from_bytes(bytes(row["message"]), policy=policy.SMTP)
        assert isinstance(message, EmailMessage)
        try:
            self.send(message)
        except Exception as exc:  # any failure of the mail server or the network: retry later
            self._failed(tenant_id, message_id, row["attempts"] + 1, f"{type(exc).__name__}: {exc}"[:300], now)
            return 0
        with tenant_tx(self.pool, tenant_id) as conn:
            conn.execute("UPDATE outbox SET status = 'sent', sent_at = %s, message = NULL, lease_until = NULL, "
                         "last_error = NULL WHERE id = %s", (now, message_id))
            conn.execute("DELETE FROM outbox_due WHERE tenant_id = %s AND message_id = %s", (tenant_id, message_id))
        return 1

    def _failed(self, tenant_id: uuid.UUID, message_id: uuid.UUID, attempts: int, error: str, now: datetime) -> None:
        retry_at = now + min(timedelta(minutes=2 ** attempts), timedelta(hours=6))
        final = attempts >= MAX_ATTEMPTS
        with tenant_tx(self.pool, tenant_id) as conn:
            conn.execute("UPDATE outbox SET status = %s, lease_until = NULL, last_error = %s, send_after = %s "
                         "WHERE id = %s", ("failed" if final else "pending", error, retry_at, message_id))
            if final:
                conn.execute("DELETE FROM outbox_due WHERE tenant_id = %s AND message_id = %s",
                             (tenant_id, message_id))
            else:
                conn.execute("UPDATE outbox_due SET due_at = %s WHERE tenant_id = %s AND message_id = %s",
                             (retry_at, tenant_id, message_id))
