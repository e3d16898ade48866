"""Staff members, their weekly hours and overrides, and their connected calendars."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from booking.availability import WEEKDAYS, parse_overrides, parse_weekly, zone
from booking.bodies import read_capped
from booking.calendars.expand import parse_busy_bounded
from booking.calendars.fetch import parse_feed_url
from booking.calendars.sandbox import SandboxBusy
from booking.calendars.store import UPLOAD, feed_json, list_feeds, lock_staff, replace_blocks, upsert_feed
from booking.calendars.sync import IMPORT_HORIZON
from booking.context import ctx_of
from booking.db import Conn
from booking.errors import ApiError, not_found

router = APIRouter(prefix="/v1/staff", tags=["staff"])


class StaffIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    timezone: str = Field(max_length=64, description="IANA zone in which the weekly hours are given")


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def staff_json(conn: Conn, row: dict[str, Any]) -> dict[str, Any]:
    """A staff member with weekly hours and overrides."""
    weekly: dict[str, list[list[str]]] = {}
    for r in conn.execute("SELECT weekday, start_minute, end_minute FROM availability_rules WHERE staff_id = %s "
                          "ORDER BY weekday, start_minute", (row["id"],)):
        weekly.setdefault(WEEKDAYS[r["weekday"]], []).append([_hhmm(r["start_minute"]), _hhmm(r["end_minute"])])
    overrides: dict[str, list[list[str]]] = {}
    for r in conn.execute("SELECT day, start_minute, end_minute FROM availability_overrides WHERE staff_id = %s "
                          "ORDER BY day, start_minute", (row["id"],)):
        day = overrides.setdefault(r["day"].isoformat(), [])
        if r["start_minute"] is not None:
            day.append([_hhmm(r["start_minute"]), _hhmm(r["end_minute"])])
    return {"id": str(row["id"]), "name": row["name"], "timezone": row["timezone"], "weekly": weekly,
            "overrides": [{"date": d, "intervals": i} for d, i in overrides.items()]}


def _staff(conn: Conn, staff_id: uuid.UUID, lock: str = "") -> dict[str, Any]:
    row = conn.execute(f"SELECT * FROM staff WHERE id = %s {lock}", (staff_id,)).fetchone()
    if row is None:
        raise not_found("staff member", staff_id)
    return row


@router.post("", status_code=201)
def create_staff(body: StaffIn, request: Request) -> dict[str, Any]:
    """Add a staff member (a bookable resource) working in `timezone`."""
    zone(body.timezone, "timezone")
    with ctx_of(request).authed(request) as (conn, _):
        row = conn.execute("INSERT INTO staff (tenant_id, name, timezone) VALUES "
                           "(current_setting('app.tenant_id')::uuid, %s, %s) RETURNING *",
                           (body.name, body.timezone)).fetchone()
        assert row is not None
        return staff_json(conn, row)


@router.get("")
def list_staff(request: Request) -> dict[str, Any]:
    """All staff members."""
    with ctx_of(request).authed(request) as (conn, _):
        return {"staff": [staff_json(conn, r) for r in conn.execute("SELECT * FROM staff ORDER BY name")]}


@router.get("/{staff_id}")
def get_staff(staff_id: uuid.UUID, request: Request) -> dict[str, Any]:
    """One staff member with hours."""
    with ctx_of(request).authed(request) as (conn, _):
        return staff_json(conn, _staff(conn, staff_id))


@router.delete("/{staff_id}", status_code=204)
def delete_staff(staff_id: uuid.UUID, request: Request) -> Response:
    """Remove a staff member with their hours, bookings and busy blocks."""
    with ctx_of(request).authed(request) as (conn, _):
        if not conn.execute("DELETE FROM staff WHERE id = %s", (staff_id,)).rowcount:
            raise not_found("staff member", staff_id)
    return Response(status_code=204)


@router.put("/{staff_id}/availability")
def put_availability(staff_id: uuid.UUID, body: dict[str, Any], request: Request) -> dict[str, Any]:
    """Replace weekly hours (in the staff member's zone) and date overrides (`intervals: []` = closed)."""
    weekly = parse_weekly(body.get("weekly", {}))
    overrides = parse_overrides(body.get("overrides"))
    with ctx_of(request).authed(request) as (conn, _):
        row = _staff(conn, staff_id, "FOR UPDATE")
        conn.execute("DELETE FROM availability_rules WHERE staff_id = %s", (staff_id,))
        conn.execute("DELETE FROM availability_overrides WHERE staff_id = %s", (staff_id,))
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO availability_rules (tenant_id, staff_id, weekday, start_minute, end_minute) "
                            "VALUES (current_setting('app.tenant_id')::uuid, %s, %s, %s, %s)",
                            [(staff_id, wd, a, b) for wd, ivs in weekly.items() for a, b in ivs])
            cur.executemany("INSERT INTO availability_overrides (tenant_id, staff_id, day, start_minute, end_minute) "
                            "VALUES (current_setting('app.tenant_id')::uuid, %s, %s, %s, %s)",
                            [(staff_id, d, a, b) for d, ivs in overrides.items()
                             for a, b in (ivs or [(None, None)])])  # type: ignore[list-item]
        return staff_json(conn, row)


@router.put("/{staff_id}/calendar", openapi_extra={"requestBody": {"content": {
    "text/calendar": {"schema": {"type": "string"}},
    "application/json": {"schema": {"type": "object", "properties": {"url": {"type": "string"}}}}}}},
    responses={202: {"description": "a feed URL was registered; it is fetched in the background"}})
async def put_calendar(staff_id: uuid.UUID, request: Request) -> JSONResponse:
    """Import busy time: an ICS body (`text/calendar`, imported now) or `{"url": ...}` of a feed (202: fetched in the
    background; GET this path for its status). Replaces that feed's blocks."""
    ctx = ctx_of(request)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in ("text/calendar", "application/json"):
        raise ApiError(415, f"Content-Type {ctype!r} is not accepted; send text/calendar or application/json")
    raw = await read_capped(request, ctx.settings.ics_max_bytes if ctype == "text/calendar" else 4096)
    if ctype == "text/calendar":
        return JSONResponse(await run_in_threadpool(_upload, request, staff_id, raw))
    try:
        url = json.loads(raw).get("url")
    except (ValueError, AttributeError):
        raise ApiError(422, "body must be JSON like {\"url\": \"https://.../calendar.ics\"}") from None
    if not isinstance(url, str):
        raise ApiError(422, "body must be JSON like {\"url\": \"https://.../calendar.ics\"}")
    parse_feed_url(url)  # a URL that can never be fetched is refused now, not reported later
    return JSONResponse(await run_in_threadpool(_register, request, staff_id, url), status_code=202)


def _upload(request: Request, staff_id: uuid.UUID, data: bytes) -> dict[str, Any]:
    ctx = ctx_of(request)
    with ctx.authed(request) as (conn, _):
        staff = _staff(conn, staff_id)
    now = ctx.clock()
    # expanded between two transactions: a costly calendar holds no lock and no connection
    window = (now - timedelta(days=1), now + IMPORT_HORIZON)
    try:
        blocks = parse_busy_bounded(data, zone(staff["timezone"], "timezone"), window)
    except SandboxBusy as exc:
        raise ApiError(503, str(exc), headers={"Retry-After": "5"}) from None
    with ctx.authed(request) as (conn, _):
        lock_staff(conn, staff_id)
        feed = upsert_feed(conn, staff_id, UPLOAD, "ok", now)
        replace_blocks(conn, staff_id, feed["id"], blocks, now)
    return {"busy_blocks": len(blocks), "source": UPLOAD}


def _register(request: Request, staff_id: uuid.UUID, url: str) -> dict[str, Any]:
    ctx = ctx_of(request)
    with ctx.authed(request) as (conn, who):
        _staff(conn, staff_id)
        if ctx.feeds.in_flight(who.tenant_id) >= ctx.feeds.per_tenant:
            raise ApiError(429, f"{ctx.feeds.per_tenant} calendar feeds of this business are being fetched; "
                                "retry when they are done", headers={"Retry-After": "10"})
        feed = upsert_feed(conn, staff_id, url, "pending", ctx.clock())
    if not ctx.feeds.submit(who.tenant_id, feed["id"]):
        raise ApiError(429, f"{ctx.feeds.per_tenant} calendar feeds of this business are being fetched; "
                            "retry when they are done", headers={"Retry-After": "10"})
    return {"feed": feed_json(feed)}


@router.get("/{staff_id}/calendar")
def calendar_feeds(staff_id: uuid.UUID, request: Request) -> dict[str, Any]:
    """The staff member's calendar feeds: status (pending, ok, failed), last fetch, last error, busy blocks."""
    with ctx_of(request).authed(request) as (conn, _):
        _staff(conn, staff_id)
        return {"feeds": list_feeds(conn, staff_id)}
