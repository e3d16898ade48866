"""Slot search with a bounded cost: it is anonymous, so what one request may ask for is capped.

The work grows with days × staff members (every candidate start of every day of every staff member is
looked at), so the range a search may span shrinks as a service's staff grows; the answer is paged, at most
`limit` slots per page, with a `next` cursor (`from` and `after`) to continue from.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from booking.availability import load_calendars, service_rules
from booking.bookings import MAX_YEAR, MIN_YEAR, load_service
from booking.context import Context
from booking.db import Conn
from booking.errors import ApiError
from booking.slots import day_window, find_slots

MAX_RANGE_DAYS = 62
MAX_STAFF_PER_SERVICE = 20
# 200 staff-days on a 5-minute grid is at most 57,600 candidate starts: tens of milliseconds, not seconds
MAX_STAFF_DAYS = 200
MAX_PAGE = 1000


@dataclass(frozen=True)
class SlotPage:
    """One page of slots; `next_after` (with `next_from`) continues the search when the page is full."""

    slots: list[dict[str, str]]
    next_from: date | None = None
    next_after: str | None = None


def parse_after(value: str) -> tuple[datetime, str]:
    """A cursor `<start ISO 8601>_<staff id>` from a previous page."""
    start, sep, staff = value.partition("_")
    try:
        when = datetime.fromisoformat(start)
        if when.tzinfo is None or not sep:
            raise ValueError
        return when, str(uuid.UUID(staff))
    except ValueError:
        raise ApiError(422, f"after={value[:80]!r} is not a cursor; pass the `next.after` of the previous page") \
            from None


def _check_range(first: date, last: date) -> None:
    for key, value in (("from", first), ("to", last)):
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            raise ApiError(422, f"{key}={value} is outside the years {MIN_YEAR}-{MAX_YEAR}")
    if last < first:
        raise ApiError(422, f"to={last} is before from={first}")
    if (last - first).days >= MAX_RANGE_DAYS:
        raise ApiError(422, f"the range from={first} to={last} is longer than {MAX_RANGE_DAYS} days; split it")


def max_days(staff_count: int) -> int:
    """The longest range one search may span for a service with `staff_count` staff members."""
    return max(1, min(MAX_RANGE_DAYS, MAX_STAFF_DAYS // max(1, staff_count)))


def compute_slots(conn: Conn, ctx: Context, service_id: uuid.UUID, first: date, last: date, tz: Any,
                  staff_id: uuid.UUID | None, *, limit: int = MAX_PAGE, after: str | None = None,
                  clip: bool = False) -> SlotPage:
    """Free slots of a service between two local dates of the customer's zone, one page of whole days.

    A range longer than the service's staff allow is refused with 422, or shortened when `clip` (the booking
    page, which shows as many days as it may).
    """
    _check_range(first, last)
    service = load_service(conn, service_id)
    staff_ids = [r["staff_id"] for r in conn.execute(
        "SELECT staff_id FROM service_staff WHERE service_id = %s", (service_id,))]
    if staff_id is not None:
        if staff_id not in staff_ids:
            raise ApiError(422, f"staff_id={staff_id} does not provide service {service_id}")
        staff_ids = [staff_id]
    allowed = max_days(len(staff_ids))
    if (last - first).days >= allowed:
        if not clip:
            raise ApiError(422, f"a search of this service may span at most {allowed} days with its "
                                f"{len(staff_ids)} staff members; pass staff_id or a shorter range")
        last = first + timedelta(days=allowed - 1)
    window = day_window(first, last, tz)
    cals = load_calendars(conn, service, staff_ids, window)
    found = find_slots(cals, service_rules(service), window, ctx.clock())
    if after is not None:  # slots come ordered by (start, staff id): skip up to the previous page's last one
        cursor = parse_after(after)
        found = [s for s in found if (s.start, str(s.staff_id)) > cursor]
    more = len(found) > limit
    found = found[:limit]
    # formatting dominates big pages: format each staff id and each instant once
    names = {c.staff_id: str(c.staff_id) for c in cals}
    iso: dict[datetime, str] = {}

    def fmt(t: datetime) -> str:
        text = iso.get(t)
        if text is None:
            text = iso[t] = t.astimezone(tz).isoformat()
        return text

    slots = [{"start": fmt(s.start), "end": fmt(s.end), "staff_id": names[s.staff_id]} for s in found]
    if not more:
        return SlotPage(slots)
    last_slot = found[-1]
    return SlotPage(slots, last_slot.start.astimezone(tz).date(), f"{fmt(last_slot.start)}_{last_slot.staff_id}")
