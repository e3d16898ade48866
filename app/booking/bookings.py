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

ACTIVE = ("pending", "confirmed")


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
    if not hmac.compare_digest(cancel_token(secret_key, tenant_id, booking_id), token):
        raise ApiError(403, "the cancel link is not valid for this booking; use the link from the confirmation")


def load_service(conn: Conn, service_id: object, key: str = "service_id") -> dict[str, Any]:
    """A service of the current tenant or 422."""
    try:
        sid = uuid.UUID(str(service_id))
    except ValueError:
        raise ApiError(422, f"{key}={service_id!r} is not a UUID") from None
    row = conn.execute("SELECT * FROM services WHERE id = %s", (sid,)).fetchone()
    if row is None:
        raise ApiError(422, f"{key}={service_id} does not exist")
    return row


def check_bookable(conn: Conn, service: dict[str, Any], staff_id: uuid.UUID, start: datetime,
                   now: datetime) -> tuple[datetime, datetime, StaffCalendar]:
    """Is `start` an offered slot of this staff member, ignoring what is taken? Returns (start, end, cal)."""
    rules = service_rules(service)
    cals = load_calendars(conn, service, [staff_id], (start, start + rules.duration), include_taken=False)
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


def lock_staff(conn: Conn, staff_id: uuid.UUID, service: dict[str, Any]) -> None:
    """Serialise with calendar imports (and, for daily limits, with other bookings of this staff member)."""
    mode = "FOR UPDATE" if service["max_per_day"] is not None else "FOR SHARE"
    if conn.execute(f"SELECT id FROM staff WHERE id = %s {mode}", (staff_id,)).fetchone() is None:
        raise ApiError(422, f"staff_id={staff_id} does not exist")


def check_busy(conn: Conn, staff_id: uuid.UUID, blocked: Range[datetime]) -> None:
    """409 if a connected-calendar busy block overlaps, read in the booking's own transaction."""
    if conn.execute("SELECT 1 FROM busy_blocks WHERE staff_id = %s AND period && %s LIMIT 1",
                    (staff_id, blocked)).fetchone():
        raise Conflict("calendar_busy", "the staff member is busy at that time in a connected calendar")


def insert_booking(conn: Conn, values: dict[str, Any]) -> dict[str, Any] | None:
    """Insert; None if the Idempotency-Key was taken concurrently; Conflict if the time overlaps."""
    try:
        with conn.transaction():
            return conn.execute(
                "INSERT INTO bookings (tenant_id, service_id, staff_id, customer_id, status, starts_at, ends_at, "
                "blocked, answers, idempotency_key, request_hash) VALUES (current_setting('app.tenant_id')::uuid, "
                "%(service_id)s, %(staff_id)s, %(customer_id)s, 'confirmed', %(start)s, %(end)s, %(blocked)s, "
                "%(answers)s, %(key)s, %(hash)s) RETURNING *", values).fetchone()
    except psycopg.errors.ExclusionViolation:
        raise Conflict("overlap", "that time overlaps another booking of this staff member (buffers included); "
                                  "pick another slot") from None
    except psycopg.errors.UniqueViolation:
        return None


def find_by_key(conn: Conn, key: str) -> dict[str, Any] | None:
    """The booking created earlier with this Idempotency-Key, if any."""
    return conn.execute("SELECT * FROM bookings WHERE idempotency_key = %s", (key,)).fetchone()


def replay(existing: dict[str, Any], body_hash: str) -> dict[str, Any]:
    """Same key, same body: the same booking. Same key, other body: 422."""
    if existing["request_hash"] != body_hash:
        raise ApiError(422, "Idempotency-Key was already used with a different request body; "
                            "use a new key for a new booking")
    return existing
