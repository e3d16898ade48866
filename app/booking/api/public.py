"""Public endpoints a business's customers use: services, slots, booking, cancelling."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from booking.availability import zone
from booking.bookings import Conflict, check_cancel_token, parse_start
from booking.context import ctx_of
from booking.questions import list_questions
from booking.ratelimit import limit_anonymous
from booking.reservations import BookingIn, booking_json, cancel_row, create_booking
from booking.search import MAX_PAGE, compute_slots

# anonymous: every route costs the caller's address a token (booking.ratelimit)
router = APIRouter(prefix="/v1/public/{slug}", tags=["public"], dependencies=[Depends(limit_anonymous)])


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


@router.post("/bookings/{booking_id}/cancel")
def public_cancel(slug: str, booking_id: uuid.UUID, token: str, request: Request) -> dict[str, Any]:
    """Cancel with the token from the confirmation's cancel_url."""
    ctx = ctx_of(request)
    with ctx.public(request, slug) as (conn, tenant_id):
        check_cancel_token(ctx.settings.secret_key, tenant_id, booking_id, token)
        row = cancel_row(conn, ctx, booking_id)
    return booking_json(ctx, slug, row)
