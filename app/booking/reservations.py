"""Booking and cancelling for a customer: the domain steps the public API and the booking page share."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field

from booking.bookings import (
    BY_KEY_SQL,
    SERVICE_SQL,
    blocked_range,
    cancel_token,
    check_bookable,
    find_by_key,
    insert_booking,
    lock_and_check_busy,
    parse_start,
    replay,
    request_hash,
)
from booking.context import Context
from booking.db import Conn
from booking.errors import ApiError, not_found
from booking.mail.notices import booking_cancelled, booking_created
from booking.questions import QUESTIONS_SQL, validate_answers


class CustomerIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(default=None, max_length=40)


class BookingIn(BaseModel):
    service_id: uuid.UUID
    staff_id: uuid.UUID
    start: str = Field(description="ISO 8601 with offset, e.g. 2026-12-01T09:00:00-05:00")
    customer: CustomerIn
    # flat text answers only: a nested value is refused by validation instead of being serialised level by level
    answers: dict[str, str | None] = Field(default_factory=dict, max_length=50)


def booking_json(ctx: Context, slug: str, row: dict[str, Any], tz: Any = None) -> dict[str, Any]:
    """A booking as returned to customers; times in `tz` (the offset the customer sent) if given."""
    start, end = row["starts_at"], row["ends_at"]
    if tz is not None:
        start, end = start.astimezone(tz), end.astimezone(tz)
    token = cancel_token(ctx.settings.secret_key, row["tenant_id"], row["id"])
    return {"id": str(row["id"]), "status": row["status"], "start": start.isoformat(), "end": end.isoformat(),
            "service_id": str(row["service_id"]), "staff_id": str(row["staff_id"]),
            "cancel_url": f"{ctx.settings.base_url}/{slug}/bookings/{row['id']}/cancel?token={token}"}


def create_booking(ctx: Context, conn: Conn, tenant_id: uuid.UUID, body: BookingIn,
                   key: str | None) -> tuple[dict[str, Any], bool]:
    """Book in the caller's transaction; returns (row, replayed)."""
    body_hash = request_hash(body.model_dump(mode="json"))
    with conn.pipeline():  # three independent reads, one round trip
        q_key = conn.execute(BY_KEY_SQL, (key,)) if key is not None else None
        q_service = conn.execute(SERVICE_SQL, (body.staff_id, body.service_id))
        q_questions = conn.execute(QUESTIONS_SQL)
        existing = q_key.fetchone() if q_key is not None else None
        service, asked = q_service.fetchone(), q_questions.fetchall()
    if existing is not None:
        return replay(existing, body_hash), True
    if service is None:
        raise ApiError(422, f"service_id={body.service_id} does not exist")
    if not service["staff_ok"]:
        raise ApiError(422, f"staff_id={body.staff_id} does not provide service_id={body.service_id}")
    answers = validate_answers(asked, body.answers)
    start, end, _ = check_bookable(conn, service, body.staff_id, parse_start(body.start), ctx.clock())
    blocked = blocked_range(service, start, end)
    lock_and_check_busy(conn, body.staff_id, service, blocked)
    row = insert_booking(conn, {"service_id": body.service_id, "staff_id": body.staff_id, "start": start,
                                "end": end, "blocked": blocked, "answers": Jsonb(answers), "key": key,
                                "hash": body_hash, "name": body.customer.name,
                                "email": body.customer.email.lower(), "phone": body.customer.phone})
    if row is None:  # a concurrent request with the same key won; answer as it did
        assert key is not None
        existing = find_by_key(conn, key)
        if existing is None:
            raise ApiError(409, "a request with the same Idempotency-Key is in progress; retry shortly")
        return replay(existing, body_hash), True
    booking_created(conn, ctx.settings, row["id"], ctx.clock())  # committed with the booking, or not at all
    return row, False


def cancel_row(conn: Conn, ctx: Context, booking_id: uuid.UUID) -> dict[str, Any]:
    """Cancel a booking of the current tenant (idempotent: only the first cancel emails); 404 if it is not there."""
    row = conn.execute("UPDATE bookings SET status = 'cancelled', cancelled_at = now() WHERE id = %s "
                       "AND status <> 'cancelled' RETURNING *", (booking_id,)).fetchone()
    if row is not None:
        booking_cancelled(conn, ctx.settings, booking_id, ctx.clock())
        return row
    row = conn.execute("SELECT * FROM bookings WHERE id = %s", (booking_id,)).fetchone()
    if row is None:
        raise not_found("booking", booking_id)
    return row
