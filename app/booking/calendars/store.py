"""Calendar feeds and their busy blocks in the database: one replace per import, status per URL feed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg.types.range import Range

from booking.calendars.expand import BusyBlock
from booking.db import Conn
from booking.errors import not_found

UPLOAD = "upload"
FEED_COLUMNS = "id, staff_id, source, status, imported_at, last_attempt_at, last_fetched_at, last_error"


def lock_staff(conn: Conn, staff_id: uuid.UUID) -> dict[str, Any]:
    """The staff row, locked: FOR UPDATE waits for bookings in flight (they hold FOR SHARE), so none slips past
    the new blocks."""
    row = conn.execute("SELECT id, timezone FROM staff WHERE id = %s FOR UPDATE", (staff_id,)).fetchone()
    if row is None:
        raise not_found("staff member", staff_id)
    return row


def upsert_feed(conn: Conn, staff_id: uuid.UUID, source: str, status: str, now: datetime) -> dict[str, Any]:
    """The feed row of (staff, source), created or set to `status`, attempted `now` (so the periodic refresh
    does not take it up at the same time)."""
    row = conn.execute(
        "INSERT INTO calendar_feeds (tenant_id, staff_id, source, status, last_attempt_at) VALUES "
        "(current_setting('app.tenant_id')::uuid, %s, %s, %s, %s) ON CONFLICT (tenant_id, staff_id, source) "
        f"DO UPDATE SET status = EXCLUDED.status, last_attempt_at = EXCLUDED.last_attempt_at RETURNING {FEED_COLUMNS}",
        (staff_id, source, status, now)).fetchone()
    assert row is not None
    return row


def replace_blocks(conn: Conn, staff_id: uuid.UUID, feed_id: uuid.UUID, blocks: Sequence[BusyBlock],
                   now: datetime) -> None:
    """Swap a feed's busy blocks for `blocks` in the caller's transaction (the staff row must be locked)."""
    conn.execute("DELETE FROM busy_blocks WHERE feed_id = %s", (feed_id,))
    # COPY is refused under row-level security, so insert in one batched statement
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO busy_blocks (tenant_id, staff_id, feed_id, source_uid, summary, period) VALUES "
            "(current_setting('app.tenant_id')::uuid, %s, %s, %s, %s, %s)",
            [(staff_id, feed_id, b.source_uid, b.summary, Range(b.start, b.end, "[)")) for b in blocks])
    conn.execute("UPDATE calendar_feeds SET status = 'ok', imported_at = %s, last_attempt_at = %s, "
                 "last_fetched_at = %s, last_error = NULL WHERE id = %s", (now, now, now, feed_id))


def mark_failed(conn: Conn, feed_id: uuid.UUID, error: str, now: datetime) -> None:
    """Record why the last fetch failed; the feed's previous busy blocks stay."""
    conn.execute("UPDATE calendar_feeds SET status = 'failed', last_attempt_at = %s, last_error = %s WHERE id = %s",
                 (now, error[:500], feed_id))


def feed_json(row: dict[str, Any], blocks: int | None = None) -> dict[str, Any]:
    """A feed's status as the API returns it (the URL itself is a secret of many providers: never returned)."""
    def iso(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    out = {"id": str(row["id"]), "staff_id": str(row["staff_id"]),
           "source": UPLOAD if row["source"] == UPLOAD else "url", "status": row["status"],
           "last_attempt_at": iso(row["last_attempt_at"]), "last_fetched_at": iso(row["last_fetched_at"]),
           "last_error": row["last_error"]}
    if blocks is not None:
        out["busy_blocks"] = blocks
    return out


def list_feeds(conn: Conn, staff_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every feed of a staff member with its status and block count."""
    rows = conn.execute(f"SELECT {', '.join('f.' + c.strip() for c in FEED_COLUMNS.split(','))}, "
                        "(SELECT count(*) FROM busy_blocks b WHERE b.feed_id = f.id) AS n FROM calendar_feeds f "
                        "WHERE f.staff_id = %s ORDER BY f.source = 'upload' DESC, f.id", (staff_id,)).fetchall()
    return [feed_json(r, r["n"]) for r in rows]
