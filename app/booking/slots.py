"""The slot engine: bookable start times from weekly hours, overrides and what is already taken.

Pure functions, no database. Wall-clock hours are turned into absolute (UTC) instants per local day in
the staff member's IANA zone, so DST days are simply shorter or longer; all arithmetic after that is in
UTC, where a minute is always a minute.
"""

from __future__ import annotations

import bisect
import heapq
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

Interval = tuple[int, int]  # minutes after local midnight, half-open, end may be 1440


@dataclass(frozen=True)
class ServiceRules:
    """The service parameters that shape slots."""

    duration: timedelta
    buffer_before: timedelta
    buffer_after: timedelta
    interval: timedelta
    min_notice: timedelta
    horizon: timedelta
    max_per_day: int | None = None


@dataclass
class StaffCalendar:
    """One staff member's hours and what already occupies them (UTC intervals, half-open)."""

    staff_id: uuid.UUID
    zone: ZoneInfo
    weekly: Mapping[int, Sequence[Interval]]
    overrides: Mapping[date, Sequence[Interval]] = field(default_factory=dict)
    taken: Sequence[tuple[datetime, datetime]] = ()
    bookings_per_day: Mapping[date, int] = field(default_factory=dict)


class Slot(NamedTuple):
    """A bookable appointment (a tuple: thousands are built per search)."""

    start: datetime
    end: datetime
    staff_id: uuid.UUID


def local_instant(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The UTC instant of `minute` after midnight on `day` in `zone` (1440 = next midnight).

    A wall time inside a spring-forward gap maps with the pre-transition offset (02:30 New York on the
    change day is 03:30 EDT); an ambiguous one takes its first occurrence (fold=0).
    """
    if minute == 1440:
        day, minute = day + timedelta(days=1), 0
    wall = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)
    return wall.astimezone(UTC)


def working_windows(cal: StaffCalendar, day: date) -> list[tuple[datetime, datetime]]:
    """Absolute working intervals of `day` (a local date of the staff member)."""
    intervals = cal.overrides.get(day)
    if intervals is None:
        intervals = cal.weekly.get(day.weekday(), ())
    out = []
    for start, end in intervals:
        a, b = local_instant(day, start, cal.zone), local_instant(day, end, cal.zone)
        if a < b:
            out.append((a, b))
    return out


class Taken:
    """Disjoint, sorted occupied intervals with an O(log n) overlap test."""

    def __init__(self, intervals: Iterable[tuple[datetime, datetime]]) -> None:
        merged: list[list[datetime]] = []
        # Normalise to UTC once: comparing datetimes of different tzinfo calls utcoffset() every time,
        # which made the bisection below the slowest part of a slot search.
        for a, b in sorted((a.astimezone(UTC), b.astimezone(UTC)) for a, b in intervals):
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        self._starts = [m[0] for m in merged]
        self._ends = [m[1] for m in merged]

    def overlaps(self, a: datetime, b: datetime) -> bool:
        """True if [a, b) meets any occupied interval."""
        i = bisect.bisect_right(self._ends, a)  # first interval ending after a
        return i < len(self._starts) and self._starts[i] < b


def staff_slots(cal: StaffCalendar, rules: ServiceRules, window: tuple[datetime, datetime],
                now: datetime) -> list[Slot]:
    """Slots of one staff member whose start lies in `window` (UTC, half-open)."""
    lo = max(window[0], now + rules.min_notice)
    latest = now + rules.horizon
    taken = Taken(cal.taken)
    first = window[0].astimezone(cal.zone).date() - timedelta(days=1)
    last = window[1].astimezone(cal.zone).date() + timedelta(days=1)
    slots: list[Slot] = []
    # locals: this loop runs for every candidate start of every day
    duration, step, before, after = rules.duration, rules.interval, rules.buffer_before, rules.buffer_after
    hi, overlaps, staff_id = window[1], taken.overlaps, cal.staff_id
    day = first
    while day <= last:
        if rules.max_per_day is not None and cal.bookings_per_day.get(day, 0) >= rules.max_per_day:
            day += timedelta(days=1)
            continue
        for a, b in working_windows(cal, day):
            start = a
            while start + duration <= b:
                end = start + duration
                if lo <= start < hi and start <= latest and not overlaps(start - before, end + after):
                    slots.append(Slot(start, end, staff_id))
                start += step
        day += timedelta(days=1)
    return slots


def find_slots(calendars: Iterable[StaffCalendar], rules: ServiceRules,
               window: tuple[datetime, datetime], now: datetime) -> list[Slot]:
    """Slots of every staff member, ordered by start time then staff."""
    ordered = sorted(calendars, key=lambda c: str(c.staff_id))
    # each staff member's slots are already in time order; merge keeps staff order on equal starts
    return list(heapq.merge(*(staff_slots(cal, rules, window, now) for cal in ordered), key=lambda s: s.start))


def day_window(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC bounds of local days `first`..`last` (inclusive) in `zone`."""
    return local_instant(first, 0, zone), local_instant(last + timedelta(days=1), 0, zone)
