"""The business's view of its bookings: list, read, cancel, reschedule."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from booking.auth.roles import own_staff
from booking.auth.tokens import Principal
from booking.bookings import (
    Conflict,
    blocked_range,
    check_bookable,
    lock_and_check_busy,
    parse_start,
    update_times,
)
from booking.context import ctx_of
from booking.db import Conn
from booking.errors import ApiError, not_found
from booking.mail.notices import booking_created
from booking.reservations import cancel_row

router = APIRouter(prefix="/v1/bookings", tags=["bookings"])

SELECT = ("SELECT b.*, c.name AS customer_name, c.email AS customer_email, c.phone AS customer_phone "
          "FROM bookings b JOIN customers c ON c.id = b.customer_id")
# Staff accounts see only their own staff member's bookings (an unlinked staff account sees none); to
# them another member's booking does not exist (404, not 403), as another tenant's does not.
MINE = "(NOT %(restricted)s OR b.staff_id = %(own)s::uuid)"


class RescheduleIn(BaseModel):
    start: str


def owner_json(row: dict[str, Any]) -> dict[str, Any]:
    """A booking with its customer, for the business."""
    return {"id": str(row["id"]), "status": row["status"], "service_id": str(row["service_id"]),
            "staff_id": str(row["staff_id"]), "start": row["starts_at"].isoformat(),
            "end": row["ends_at"].isoformat(), "answers": row["answers"],
            "customer": {"name": row["customer_name"], "email": row["customer_email"],
                         "phone": row["customer_phone"]}}


def _mine(who: Principal) -> dict[str, Any]:
    restricted, own = own_staff(who)
    return {"restricted": restricted, "own": own}


def _get(conn: Conn, who: Principal, booking_id: uuid.UUID, lock: str = "") -> dict[str, Any]:
    row = conn.execute(f"{SELECT} WHERE b.id = %(id)s AND {MINE} {lock}",
                       {"id": booking_id, **_mine(who)}).fetchone()
    if row is None:
        raise not_found("booking", booking_id)
    return row


@router.get("")
def list_bookings(request: Request, from_: Annotated[datetime | None, Query(alias="from")] = None,
                  to: datetime | None = None, status: str | None = None) -> dict[str, Any]:
    """Bookings starting in [from, to), optionally of one status, oldest first (at most 1000)."""
    if status is not None and status not in ("pending", "confirmed", "cancelled"):
        raise ApiError(422, f"status={status!r}; allowed: pending, confirmed, cancelled")
    with ctx_of(request).authed(request) as (conn, who):
        rows = conn.execute(
            f"{SELECT} WHERE (%(lo)s::timestamptz IS NULL OR b.starts_at >= %(lo)s) "
            "AND (%(hi)s::timestamptz IS NULL OR b.starts_at < %(hi)s) AND (%(st)s::text IS NULL OR b.status = %(st)s) "
            f"AND {MINE} ORDER BY b.starts_at LIMIT 1000",
            {"lo": from_, "hi": to, "st": status, **_mine(who)}).fetchall()
    return {"bookings": [owner_json(r) for r in rows]}


@router.get("/{booking_id}")
def get_booking(booking_id: uuid.UUID, request: Request) -> dict[str, Any]:
    """One booking."""
    with ctx_of(request).authed(request) as (conn, who):
        return owner_json(_get(conn, who, booking_id))


@router.post("/{booking_id}/cancel")
def cancel(booking_id: uuid.UUID, request: Request) -> dict[str, Any]:
    """Cancel a booking; its time becomes free at once. Cancelling twice is harmless."""
    ctx = ctx_of(request)
    with ctx.authed(request) as (conn, who):
        _get(conn, who, booking_id, "FOR UPDATE OF b")  # 404 unless the caller may see it
        cancel_row(conn, ctx, booking_id)
        return owner_json(_get(conn, who, booking_id))


@router.post("/{booking_id}/reschedule")
def reschedule(booking_id: uuid.UUID, body: RescheduleIn, request: Request) -> dict[str, Any]:
    """Move a booking to another offered start; 409 if the new time is taken."""
    ctx = ctx_of(request)
    try:
        with ctx.authed(request) as (conn, who):
            row = _get(conn, who, booking_id, "FOR UPDATE OF b")
            if row["status"] == "cancelled":
                raise ApiError(422, f"booking {booking_id} is cancelled; create a new booking instead")
            service = conn.execute("SELECT * FROM services WHERE id = %s", (row["service_id"],)).fetchone()
            assert service is not None
            start, end, _ = check_bookable(conn, service, row["staff_id"], parse_start(body.start), ctx.clock())
            blocked = blocked_range(service, start, end)
            lock_and_check_busy(conn, row["staff_id"], service, blocked)
            update_times(conn, booking_id, start, end, blocked)
            booking_created(conn, ctx.settings, booking_id, ctx.clock(), event="moved")
            return owner_json(_get(conn, who, booking_id))
    except Conflict as exc:
        ctx.metrics.conflicts.labels(exc.reason).inc()
        raise
