"""Loading what the slot engine needs from the database, and parsing weekly hours from the API."""

from __future__ import annotations

import itertools
import re
import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from booking.db import Conn
from booking.errors import ApiError
from booking.slots import Interval, ServiceRules, StaffCalendar

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")


def zone(name: object, key: str) -> ZoneInfo:
    """A ZoneInfo for an IANA name, or a 422 naming the key and value."""
    if not isinstance(name, str) or ("/" not in name and name != "UTC"):
        raise ApiError(422, f"{key}={name!r} is not an IANA time zone; use a name like 'Europe/Berlin'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ApiError(422, f"{key}={name!r} is not an IANA time zone; use a name like 'Europe/Berlin'") from None


def parse_minute(value: object, key: str) -> int:
    """'HH:MM' (or '24:00' as end of day) to minutes after midnight."""
    if not isinstance(value, str) or not HHMM.fullmatch(value):
        raise ApiError(422, f"{key}={value!r} is not a time; use 'HH:MM' from '00:00' to '24:00'")
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def parse_intervals(raw: object, key: str) -> list[Interval]:
    """`[["09:00", "12:00"], ["13:00", "17:00"]]` to sorted, non-overlapping minute intervals."""
    if not isinstance(raw, list):
        raise ApiError(422, f"{key} must be a list of [start, end] pairs like [[\"09:00\", \"17:00\"]]")
    out: list[Interval] = []
    for i, pair in enumerate(raw):
        if not isinstance(pair, list) or len(pair) != 2:
            raise ApiError(422, f"{key}[{i}]={pair!r} must be a [start, end] pair like [\"09:00\", \"17:00\"]")
        start, end = parse_minute(pair[0], f"{key}[{i}][0]"), parse_minute(pair[1], f"{key}[{i}][1]")
        if start >= end or start == 1440:
            raise ApiError(422, f"{key}[{i}]={pair!r}: the start must be before the end on the same day; "
                                "split a shift that crosses midnight into two days")
        out.append((start, end))
    out.sort()
    for (_, a_end), (b_start, _) in itertools.pairwise(out):
        if b_start < a_end:
            raise ApiError(422, f"{key} has overlapping intervals; merge them")
    return out


def parse_weekly(raw: object) -> dict[int, list[Interval]]:
    """The `weekly` object of PUT /v1/staff/{id}/availability."""
    if not isinstance(raw, dict):
        raise ApiError(422, "weekly must be an object like {\"monday\": [[\"09:00\", \"17:00\"]]}")
    out: dict[int, list[Interval]] = {}
    for name, intervals in raw.items():
        if name not in WEEKDAYS:
            raise ApiError(422, f"weekly has key {name!r}; allowed: {', '.join(WEEKDAYS)}")
        out[WEEKDAYS.index(name)] = parse_intervals(intervals, f"weekly.{name}")
    return out


def parse_overrides(raw: object) -> dict[date, list[Interval]]:
    """The `overrides` list: `[{"date": "2026-12-24", "intervals": []}]` (empty = closed that day)."""
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise ApiError(422, "overrides must be a list of {\"date\": \"YYYY-MM-DD\", \"intervals\": [...]}")
    out: dict[date, list[Interval]] = {}
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ApiError(422, f"overrides[{i}] must be an object with 'date' and 'intervals'")
        try:
            day = date.fromisoformat(str(item.get("date")))
        except ValueError:
            raise ApiError(422, f"overrides[{i}].date={item.get('date')!r} is not a date YYYY-MM-DD") from None
        if day in out:
            raise ApiError(422, f"overrides has {day} twice; give one entry per date")
        out[day] = parse_intervals(item.get("intervals", []), f"overrides[{i}].intervals")
    return out


def service_rules(row: dict[str, Any]) -> ServiceRules:
    """ServiceRules from a `services` row."""
    return ServiceRules(
        duration=timedelta(minutes=row["duration_minutes"]),
        buffer_before=timedelta(minutes=row["buffer_before_minutes"]),
        buffer_after=timedelta(minutes=row["buffer_after_minutes"]),
        interval=timedelta(minutes=row["slot_interval_minutes"]),
        min_notice=timedelta(minutes=row["min_notice_minutes"]),
        horizon=timedelta(days=row["horizon_days"]),
        max_per_day=row["max_per_day"],
    )


def load_calendars(conn: Conn, service: dict[str, Any], staff_ids: list[uuid.UUID],
                   window: tuple[datetime, datetime], *, include_taken: bool = True,
                   count_per_day: bool = True) -> list[StaffCalendar]:
    """Hours, overrides, bookings and busy blocks of `staff_ids` around `window`."""
    if not staff_ids:
        return []
    margin = timedelta(days=2)
    lo, hi = window[0] - margin, window[1] + margin
    # Independent queries go out in one pipeline: one network round trip instead of five.
    # lower()/upper() instead of whole ranges: psycopg parses timestamps in C but ranges in Python.
    with conn.pipeline():
        q_staff = conn.execute("SELECT id, timezone FROM staff WHERE id = ANY(%s) ORDER BY id", (staff_ids,))
        q_rules = conn.execute("SELECT staff_id, weekday, start_minute, end_minute FROM availability_rules "
                               "WHERE staff_id = ANY(%s) ORDER BY start_minute", (staff_ids,))
        q_over = conn.execute("SELECT staff_id, day, start_minute, end_minute FROM availability_overrides "
                              "WHERE staff_id = ANY(%s) AND day BETWEEN %s AND %s ORDER BY start_minute",
                              (staff_ids, lo.date(), hi.date()))
        q_book = conn.execute("SELECT staff_id, service_id, starts_at, lower(blocked) AS lo, upper(blocked) AS hi "
                              "FROM bookings WHERE staff_id = ANY(%s) AND status IN ('pending', 'confirmed') "
                              "AND blocked && tstzrange(%s, %s)", (staff_ids, lo, hi)) \
            if include_taken or count_per_day else None
        q_busy = conn.execute("SELECT staff_id, lower(period) AS lo, upper(period) AS hi FROM busy_blocks "
                              "WHERE staff_id = ANY(%s) AND period && tstzrange(%s, %s)", (staff_ids, lo, hi)) \
            if include_taken else None
        staff = q_staff.fetchall()
        rules = q_rules.fetchall()
        override_rows = q_over.fetchall()
        booking_rows = q_book.fetchall() if q_book is not None else []
        busy_rows = q_busy.fetchall() if q_busy is not None else []
    weekly: dict[uuid.UUID, dict[int, list[Interval]]] = defaultdict(lambda: defaultdict(list))
    for r in rules:
        weekly[r["staff_id"]][r["weekday"]].append((r["start_minute"], r["end_minute"]))
    overrides: dict[uuid.UUID, dict[date, list[Interval]]] = defaultdict(lambda: defaultdict(list))
    for r in override_rows:
        day_list = overrides[r["staff_id"]][r["day"]]
        if r["start_minute"] is not None:
            day_list.append((r["start_minute"], r["end_minute"]))
    taken: dict[uuid.UUID, list[tuple[datetime, datetime]]] = defaultdict(list)
    per_day: dict[uuid.UUID, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    zones = {s["id"]: ZoneInfo(s["timezone"]) for s in staff}
    for r in booking_rows:
        if include_taken:
            taken[r["staff_id"]].append((r["lo"], r["hi"]))
        if r["service_id"] == service["id"]:
            per_day[r["staff_id"]][r["starts_at"].astimezone(zones[r["staff_id"]]).date()] += 1
    for r in busy_rows:
        taken[r["staff_id"]].append((r["lo"], r["hi"]))
    return [StaffCalendar(staff_id=s["id"], zone=zones[s["id"]], weekly=weekly[s["id"]],
                          overrides=overrides[s["id"]], taken=taken[s["id"]],
                          bookings_per_day=per_day[s["id"]]) for s in staff]
