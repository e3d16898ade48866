"""Public endpoints a business's customers use: services, slots, booking, cancelling."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field

from booking.availability import zone
from booking.bookings import (
    BY_KEY_SQL,
    SERVICE_SQL,
    Conflict,
    blocked_range,
    cancel_token,
    check_bookable,
    check_cancel_token,
    find_by_key,
    insert_booking,
    lock_and_check_busy,
    parse_start,
    replay,
    request_hash,
)
from booking.context import Context, ctx_of
from booking.db import Conn
from booking.errors import ApiError, not_found
from booking.mail.notices import booking_cancelled, booking_created
from booking.questions import QUESTIONS_SQL, list_questions, validate_answers
from booking.ratelimit import limit_anonymous
from booking.search import MAX_PAGE, compute_slots

# anonymous: every route costs the caller's address a token (booking.ratelimit)
router = APIRouter(prefix="/v1/public/{slug}", tags=["public"], dependencies=[Depends(limit_anonymous)])


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


@router.get("/services")
def public_services(slug: str, request: Request) -> dict[str, Any]:
    """The services a business offers, with their staff and the booking questions."""
    ctx = ctx_of(request)
    with ctx.public(request, slug) as (conn, _):
        tenant = conn.execute("SELECT name, timezone FROM tenants").fetchone()
        services = conn.execute(
            "SELECT s.id, s.name, s.duration_minutes, coalesce(array_agg(ss.staff_id) FILTER "
            "(WHERE ss.staff_id IS NOT NULL), '{}') AS staff_ids FROM services s LEFT JOIN service_staff ss "
            "ON ss.service_id = s.id GROUP BY s.tenant_id, s.id ORDER BY s.name").fetchall()
        questions = list_questions(conn)
    assert tenant is not None
    return {"name": tenant["name"], "timezone": tenant["timezone"], "questions": questions,
            "services": [{"id": str(s["id"]), "name": s["name"], "duration_minutes": s["duration_minutes"],
                          "staff_ids": [str(x) for x in s["staff_ids"]]} for s in services]}


@router.get("/services/{service_id}/slots")
def slots(slug: str, service_id: uuid.UUID, request: Request,
          from_: Annotated[date, Query(alias="from")], to: date,
          tz: Annotated[str, Query(description="customer's IANA zone")] = "UTC",
          staff_id: uuid.UUID | None = None,
          limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="most slots in one page")] = MAX_PAGE,
          after: Annotated[str | None, Query(max_length=120, description="`next.after` of the previous page")] = None,
          ) -> JSONResponse:
    """Bookable slots from `from` to `to` (inclusive, dates in `tz`), times with the offset of `tz`.

    Paged: when `next` is set, ask again with its `from` and `after`. The range may span at most 62 days, and
    fewer for services with many staff (422 says how many; pass `staff_id` to narrow)."""
    ctx = ctx_of(request)
    customer_zone = zone(tz, "tz")
    with ctx.public(request, slug) as (conn, _):
        page = compute_slots(conn, ctx, service_id, from_, to, customer_zone, staff_id, limit=limit, after=after)
    following = None if page.next_from is None else {"from": page.next_from.isoformat(), "after": page.next_after}
    # a plain JSONResponse: FastAPI's generic encoder costs more than the slot search itself on big ranges
    return JSONResponse({"slots": page.slots, "next": following})


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


@router.post("/bookings", status_code=201)
def book(slug: str, body: BookingIn, request: Request,
         idempotency_key: Annotated[str | None, Header(max_length=200)] = None) -> JSONResponse:
    """Book a slot. 409 with a `reason` when the time is taken; the same Idempotency-Key replays."""
    ctx = ctx_of(request)
    offset = parse_start(body.start).tzinfo
    try:
        with ctx.public(request, slug) as (conn, tenant_id):
            row, replayed = create_booking(ctx, conn, tenant_id, body, idempotency_key)
    except Conflict as exc:
        ctx.metrics.conflicts.labels(exc.reason).inc()
        raise
    if not replayed:
        ctx.metrics.bookings_created.inc()
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return JSONResponse(booking_json(ctx, slug, row, offset), status_code=201, headers=headers)


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


@router.post("/bookings/{booking_id}/cancel")
def public_cancel(slug: str, booking_id: uuid.UUID, token: str, request: Request) -> dict[str, Any]:
    """Cancel with the token from the confirmation's cancel_url."""
    ctx = ctx_of(request)
    with ctx.public(request, slug) as (conn, tenant_id):
        check_cancel_token(ctx.settings.secret_key, tenant_id, booking_id, token)
        row = cancel_row(conn, ctx, booking_id)
    return booking_json(ctx, slug, row)
