"""Creating, cancelling and moving bookings; the database has the last word on overlaps."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.range import Range

from booking.availability import load_calendars, service_rules
from booking.db import Conn
from booking.errors import ApiError
from booking.slots import StaffCalendar, staff_slots

# Far outside any booking horizon; keeps date arithmetic (zone changes, +/- days) away from datetime's limits.
MIN_YEAR, MAX_YEAR = 2000, 2200


class Conflict(ApiError):
    """409: the time is no longer free; `reason` is machine-readable for clients and metrics."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(409, detail, reason=reason)
        self.reason = reason


def parse_start(value: str, key: str = "start") -> datetime:
    """An ISO 8601 instant with an explicit offset."""
    try:
        start = datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(422, f"{key}={value!r} is not an ISO 8601 date-time like 2026-12-01T09:00:00+01:00") from None
    if start.tzinfo is None:
        raise ApiError(422, f"{key}={value!r} has no UTC offset; add one, e.g. +01:00 or Z")
    if not MIN_YEAR <= start.year <= MAX_YEAR:
        raise ApiError(422, f"{key}={value!r} is outside the years {MIN_YEAR}-{MAX_YEAR}")
    return start


def request_hash(body: dict[str, Any]) -> str:
    """Fingerprint of a request body for Idempotency-Key comparison (key order does not matter)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def cancel_token(secret_key: str, tenant_id: uuid.UUID, booking_id: uuid.UUID) -> str:
    """Capability to cancel one booking; derived, so it is never stored."""
    msg = f"cancel:{tenant_id}:{booking_id}".encode()
    return hmac.new(secret_key.encode(), msg, hashlib.sha256).hexdigest()[:32]


def check_cancel_token(secret_key: str, tenant_id: uuid.UUID, booking_id: uuid.UUID, token: str) -> None:
    """403 unless `token` is the cancel token of this booking."""
    if not hmac.compare_digest(cancel_token(secret_key, tenant_id, booking_id).encode(), token.encode()):
        raise ApiError(403, "the cancel link is not valid for this booking; use the link from the confirmation")


# A service and whether a given staff member provides it; parameters: (staff_id, service_id).
SERVICE_SQL = ("SELECT s.*, EXISTS (SELECT 1 FROM service_staff ss WHERE ss.service_id = s.id "
               "AND ss.staff_id = %s) AS staff_ok FROM services s WHERE s.id = %s")
BY_KEY_SQL = "SELECT * FROM bookings WHERE idempotency_key = %s"


def load_service(conn: Conn, service_id: object, key: str = "service_id",
                 staff_id: uuid.UUID | None = None) -> dict[str, Any]:
    """A service of the current tenant or 422; `staff_ok` says whether `staff_id` provides it."""
    try:
        sid = uuid.UUID(str(service_id))
    except ValueError:
        raise ApiError(422, f"{key}={service_id!r} is not a UUID") from None
    row = conn.execute(SERVICE_SQL, (staff_id, sid)).fetchone()
    if row is None:
        raise ApiError(422, f"{key}={service_id} does not exist")
    return row


def check_bookable(conn: Conn, service: dict[str, Any], staff_id: uuid.UUID, start: datetime,
                   now: datetime) -> tuple[datetime, datetime, StaffCalendar]:
    """Is `start` an offered slot of this staff member, ignoring what is taken? Returns (start, end, cal)."""
    rules = service_rules(service)
    cals = load_calendars(conn, service, [staff_id], (start, start + rules.duration), include_taken=False,
                          count_per_day=rules.max_per_day is not None)
    if not cals:
        raise ApiError(422, f"staff_id={staff_id} does not exist")
    cal = cals[0]
    free_of_limit = StaffCalendar(cal.staff_id, cal.zone, cal.weekly, cal.overrides)
    offered = staff_slots(free_of_limit, rules, (start, start + timedelta(minutes=1)), now)
    if not any(s.start == start for s in offered):
        raise ApiError(422, f"start={start.isoformat()} is not an offered slot: it must fall within the staff "
                            "member's hours on the slot grid, respect minimum notice and the booking horizon; "
                            "pick one from the slots endpoint")
    if rules.max_per_day is not None:
        day = start.astimezone(cal.zone).date()
        if cal.bookings_per_day.get(day, 0) >= rules.max_per_day:
            raise Conflict("daily_limit", f"the daily maximum of {rules.max_per_day} bookings is reached on {day}")
    return start, start + rules.duration, cal


def blocked_range(service: dict[str, Any], start: datetime, end: datetime) -> Range[datetime]:
    """The half-open interval the booking occupies, buffers included."""
    return Range(start - timedelta(minutes=service["buffer_before_minutes"]),
                 end + timedelta(minutes=service["buffer_after_minutes"]), "[)")


def lock_and_check_busy(conn: Conn, staff_id: uuid.UUID, service: dict[str, Any], blocked: Range[datetime]) -> None:
    """Lock the staff row, then re-read busy blocks in this transaction: 409 if one overlaps.

    The lock serialises with calendar imports (they take FOR UPDATE), and for services with a daily
    limit with other bookings of this staff member. Both statements travel in one pipeline, but the
    server runs them in order and the busy query takes its snapshot only after the lock is granted, so it
    sees every import that committed before.
    """
    mode = "FOR UPDATE" if service["max_per_day"] is not None else "FOR SHARE"
    with conn.pipeline():
        q_lock = conn.execute(f"SELECT id FROM staff WHERE id = %s {mode}", (staff_id,))
        q_busy = conn.execute("SELECT 1 FROM busy_blocks WHERE staff_id = %s AND period && %s LIMIT 1",
                              (staff_id, blocked))
        locked, busy = q_lock.fetchone(), q_busy.fetchone()
    if locked is None:
        raise ApiError(422, f"staff_id={staff_id} does not exist")
    if busy is not None:
        raise Conflict("calendar_busy", "the staff member is busy at that time in a connected calendar")


def insert_booking(conn: Conn, values: dict[str, Any]) -> dict[str, Any] | None:
    """Insert customer and booking in one statement.

    Returns None if the Idempotency-Key was taken concurrently; raises Conflict if the time overlaps.
    """
    statement = (
        "WITH c AS (INSERT INTO customers (tenant_id, name, email, phone) VALUES "
        "(current_setting('app.tenant_id')::uuid, %(name)s, %(email)s, %(phone)s) RETURNING id) "
        "INSERT INTO bookings (tenant_id, service_id, staff_id, customer_id, status, starts_at, ends_at, "
        "blocked, answers, idempotency_key, request_hash) SELECT current_setting('app.tenant_id')::uuid, "
        "%(service_id)s, %(staff_id)s, c.id, 'confirmed', %(start)s, %(end)s, %(blocked)s, "
        "%(answers)s, %(key)s, %(hash)s FROM c RETURNING *")
    try:
        if values["key"] is None:  # any error aborts the request, so no savepoint is needed
            return conn.execute(statement, values).fetchone()
        with conn.transaction():  # a savepoint, so a lost idempotency race can still read the winner
            return conn.execute(statement, values).fetchone()
    except psycopg.errors.ExclusionViolation:
        raise Conflict("overlap", "that time overlaps another booking of this staff member (buffers included); "
                                  "pick another slot") from None
    except psycopg.errors.UniqueViolation:
        if values["key"] is None:
            raise
        return None


def find_by_key(conn: Conn, key: str) -> dict[str, Any] | None:
    """The booking created earlier with this Idempotency-Key, if any."""
    return conn.execute(BY_KEY_SQL, (key,)).fetchone()


def replay(existing: dict[str, Any], body_hash: str) -> dict[str, Any]:
    """Same key, same body: the same booking. Same key, other body: 422."""
    if existing["request_hash"] != body_hash:
        raise ApiError(422, "Idempotency-Key was already used with a different request body; "
                            "use a new key for a new booking")
    return existing


def update_times(conn: Conn, booking_id: uuid.UUID, start: datetime, end: datetime, blocked: Range[datetime]) -> None:
    """Move a booking; the exclusion constraint refuses an overlap with any other booking."""
    try:
        with conn.transaction():
            conn.execute("UPDATE bookings SET starts_at = %s, ends_at = %s, blocked = %s WHERE id = %s",
                         (start, end, blocked, booking_id))
    except psycopg.errors.ExclusionViolation:
        raise Conflict("overlap", "the new time overlaps another booking of this staff member (buffers "
                                  "included); pick another slot") from None
