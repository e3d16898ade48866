"""Busy time from iCalendar, expanded within a budget: only summary, start, end and UID are kept.

The work a calendar asks for is estimated before anything is expanded (how many recurrence steps each RRULE
takes from its DTSTART to the end of the horizon), then occurrences are expanded lazily up to the block cap and a
time budget. A calendar over budget is refused with the event and the reason, in milliseconds, not after
minutes of work and hundreds of megabytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import recurring_ical_events

from booking.errors import Refused

MAX_BLOCKS = 20_000
# dateutil takes about 4 µs per recurrence step on an idle core, the recurrence library several times that per
# occurrence, and a rule steps from its DTSTART even for a window years later: 50 000 steps stay well under a
# second, and allow e.g. a daily series since 1990 (13 000) several times over.
MAX_STEPS = 50_000
TIME_BUDGET_S = 2.0
MAX_COMPONENTS = 10_000
# the hard limits of the child process that does the work (sandbox.py), for what no check in Python can interrupt
# (parsing a large file, a library building every series first); generous, because a busy machine is slower
HARD_SECONDS = 3.0
HARD_MEMORY = 256 * 2**20
STEP_SECONDS = {"SECONDLY": 1, "MINUTELY": 60, "HOURLY": 3600, "DAILY": 86_400, "WEEKLY": 7 * 86_400,
                "MONTHLY": 28 * 86_400, "YEARLY": 365 * 86_400}
EXPANDING = ("BYSECOND", "BYMINUTE", "BYHOUR", "BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH",
             "BYSETPOS")


class CalendarError(Refused):
    """A calendar the service will not import; the message names the event and the limit when there is one."""


@dataclass(frozen=True)
class BusyBlock:
    """What we keep of a calendar event."""

    source_uid: str
    summary: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Budget:
    """How much one calendar may cost to expand."""

    max_blocks: int = MAX_BLOCKS
    max_steps: int = MAX_STEPS
    seconds: float = TIME_BUDGET_S
    clock: Callable[[], float] = time.monotonic


def _instant(value: date | datetime, zone: ZoneInfo) -> datetime:
    # All-day (date) and floating (naive) values are wall time in the calendar's zone.
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def calendar_zone(cal: icalendar.Calendar, fallback: ZoneInfo) -> ZoneInfo:
    """X-WR-TIMEZONE if the feed names a valid one, else the staff member's zone."""
    name = cal.get("X-WR-TIMEZONE")
    if name:
        try:
            return ZoneInfo(str(name))
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return fallback


def _uid(ev: Any) -> str:
    return str(ev.get("UID", ""))[:80] or "(no UID)"


def _steps(ev: Any, zone: ZoneInfo, horizon_end: datetime) -> int:
    """An upper estimate of the recurrence steps dateutil takes to expand `ev` up to `horizon_end`."""
    rules = ev.get("RRULE")
    if rules is None:
        return 1
    start = _instant(ev["DTSTART"].dt, zone)
    total = 0
    for rule in rules if isinstance(rules, list) else [rules]:
        freq = str(rule.get("FREQ", [""])[0]).upper()
        if freq not in STEP_SECONDS:
            raise CalendarError(f"event {_uid(ev)!r} has RRULE FREQ={freq!r}, which is not a recurrence frequency")
        interval = max(1, int(rule.get("INTERVAL", [1])[0]))
        end = horizon_end
        if rule.get("UNTIL"):
            end = min(end, _instant(rule["UNTIL"][0], zone))
        periods = max(0, int((end - start).total_seconds() // (STEP_SECONDS[freq] * interval))) + 1
        fanout = 1
        for part in EXPANDING:
            fanout *= max(1, len(rule.get(part, [])))
        steps = periods * fanout
        if rule.get("COUNT") and fanout == 1:
            steps = min(steps, int(rule["COUNT"][0]))
        total += steps
    return total


def _check_cost(events: list[Any], zone: ZoneInfo, window: tuple[datetime, datetime], budget: Budget) -> None:
    """Refuse, naming the event, a calendar whose expansion would exceed the step budget."""
    if len(events) > MAX_COMPONENTS:
        raise CalendarError(f"the calendar has {len(events)} events; the limit is {MAX_COMPONENTS}")
    total = 0
    for ev in events:
        steps = _steps(ev, zone, window[1])
        total += steps
        if total > budget.max_steps:
            raise CalendarError(
                f"event {_uid(ev)!r} repeats too often to expand (about {steps} occurrences from its start to the "
                f"end of the import horizon); a calendar may take at most {budget.max_steps} recurrence steps. "
                "Remove or shorten that series, or share a calendar without it")


def _occurrences(cal: icalendar.Calendar, window: tuple[datetime, datetime]) -> Iterator[Any]:
    """Occurrences one at a time (the library's `between` builds the whole list first)."""
    query = recurring_ical_events.of(cal)
    for series in query.series:
        for occurrence in series.between(window[0], window[1]):
            yield occurrence.as_component(False)


def _block(ev: Any, zone: ZoneInfo) -> BusyBlock | None:
    if str(ev.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
        return None
    if str(ev.get("STATUS", "")).upper() == "CANCELLED":
        return None
    start = _instant(ev["DTSTART"].dt, zone)
    if ev.get("DTEND") is not None:
        end = _instant(ev["DTEND"].dt, zone)
    elif ev.get("DURATION") is not None:
        end = start + ev["DURATION"].dt
    elif not isinstance(ev["DTSTART"].dt, datetime):
        end = _instant(ev["DTSTART"].dt + timedelta(days=1), zone)
    else:
        return None  # a zero-length event occupies no time
    if end <= start:
        return None
    return BusyBlock(str(ev.get("UID", "")), str(ev.get("SUMMARY", ""))[:200], start, end)


def _count_events(data: bytes) -> None:
    """Refuse a calendar with too many events before parsing it: parsing is what a huge file makes slow."""
    events = data.count(b"BEGIN:VEVENT")
    if events > MAX_COMPONENTS:
        raise CalendarError(f"the calendar has {events} events; the limit is {MAX_COMPONENTS}")


def parse_busy(data: bytes, staff_zone: ZoneInfo, window: tuple[datetime, datetime],
               budget: Budget = Budget()) -> list[BusyBlock]:
    """Busy blocks of a calendar within `window`; raises CalendarError naming the problem.

    Recurrences are expanded (RRULE, EXDATE, RECURRENCE-ID overrides); TRANSP:TRANSPARENT and STATUS:CANCELLED
    events are free time and skipped. Call it outside any database transaction: it may take `budget.seconds`.
    """
    deadline = budget.clock() + budget.seconds
    _count_events(data)
    try:
        cal = icalendar.Calendar.from_ical(data)
        if not isinstance(cal, icalendar.Calendar) or cal.name != "VCALENDAR":
            raise CalendarError("the data is not an iCalendar VCALENDAR; export the calendar as .ics")
        zone = calendar_zone(cal, staff_zone)
        _check_cost(list(cal.walk("VEVENT")), zone, window, budget)
        blocks: list[BusyBlock] = []
        for ev in _occurrences(cal, window):
            if budget.clock() > deadline:
                raise CalendarError(f"expanding the calendar took longer than {budget.seconds:g} s (at event "
                                    f"{_uid(ev)!r}); share a calendar with fewer or shorter recurring series")
            block = _block(ev, zone)
            if block is None:
                continue
            blocks.append(block)
            if len(blocks) > budget.max_blocks:
                raise CalendarError(f"the calendar has more than {budget.max_blocks} busy blocks in the import "
                                    f"horizon (event {_uid(ev)!r} was the one over); share a smaller calendar")
    except CalendarError:
        raise
    except Exception as exc:  # icalendar raises many types for broken input; all mean "malformed"
        # only the exception's type: its message can quote the data, which for a URL feed is someone else's
        raise CalendarError(f"the calendar is not valid iCalendar ({type(exc).__name__}); check that the file is "
                            "an .ics export; the previous busy blocks are kept") from None
    return blocks


def parse_busy_bounded(data: bytes, staff_zone: ZoneInfo, window: tuple[datetime, datetime]) -> list[BusyBlock]:
    """`parse_busy` in a child process killed after HARD_SECONDS and capped at HARD_MEMORY: the budget holds even
    where the libraries do work no check here can interrupt."""
    from booking.calendars.sandbox import run_bounded

    _count_events(data)  # the cheapest refusal needs no child process
    blocks: list[BusyBlock] = run_bounded(parse_busy, data, staff_zone, window, seconds=HARD_SECONDS,
                                          memory_bytes=HARD_MEMORY, what="expanding the calendar")
    return blocks
