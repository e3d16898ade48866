"""People, the on-call rotation, the escalation policy and maintenance windows (all in IANA zones)."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from uptime.configparse import ConfigError, Section

if TYPE_CHECKING:
    from uptime.notify.base import Channel

ONCALL = "oncall"
ONCALL_NEXT = "oncall_next"


@dataclass(frozen=True)
class Person:
    """Someone who can be paged."""

    name: str
    email: str | None
    phone: str | None


@dataclass(frozen=True)
class Override:
    """``person`` is on call from ``start`` to ``end`` (aware datetimes)."""

    person: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class OnCall:
    """A weekly rotation that hands off at a local wall-clock time, plus overrides."""

    zone: ZoneInfo
    rotation: tuple[str, ...]
    handoff_day: int
    handoff_time: time
    anchor: datetime  # naive local datetime of the first handoff
    overrides: tuple[Override, ...]

    def _index(self, ts: float) -> int:
        local = datetime.fromtimestamp(ts, self.zone).replace(tzinfo=None)
        # Wall-clock arithmetic: a week is 7 local days whatever the DST offset did in between.
        weeks = math.floor((local - self.anchor) / timedelta(days=7))
        return weeks % len(self.rotation)

    def primary(self, ts: float) -> str:
        """Who is on call at ``ts`` (an override wins over the rotation)."""
        when = datetime.fromtimestamp(ts, self.zone)
        for override in self.overrides:
            if override.start <= when < override.end:
                return override.person
        return self.rotation[self._index(ts)]

    def secondary(self, ts: float) -> str:
        """The next person in the rotation after the scheduled primary."""
        return self.rotation[(self._index(ts) + 1) % len(self.rotation)]


@dataclass(frozen=True)
class Step:
    """One escalation step: ``after`` seconds from the page, who, by which channels."""

    after: float
    notify: tuple[str, ...]
    channels: tuple[str, ...]


@dataclass(frozen=True)
class EscalationPolicy:
    """Steps in order of ``after``; reminders repeat the reached steps until acknowledged."""

    steps: tuple[Step, ...]
    reminder_every: float | None


@dataclass(frozen=True)
class MaintenanceWindow:
    """A weekly window in a time zone during which failures are recorded but nobody is paged."""

    name: str
    cells: tuple[str, ...]
    zone: ZoneInfo
    days: tuple[int, ...]
    start: time
    end: time

    def active(self, ts: float, cell: str) -> bool:
        """True when ``cell`` is inside this window at ``ts`` (local wall-clock, so DST-correct)."""
        if cell not in self.cells:
            return False
        local = datetime.fromtimestamp(ts, self.zone)
        now = local.time().replace(tzinfo=None)
        day = local.weekday()
        if self.start < self.end:
            return day in self.days and self.start <= now < self.end
        # The window crosses midnight: it started on a listed day and runs into the next.
        return (day in self.days and now >= self.start) or ((day - 1) % 7 in self.days and now < self.end)


def load_people(sec: Section) -> dict[str, Person]:
    """``people: {name: {email, phone}}``."""
    people = {}
    for name, item in sec.data.items():
        person = Section(item, sec.key(str(name)))
        person.reject_unknown(["email", "phone"])
        email = person.opt_str("email")
        if email is not None and "@" not in email:
            raise ConfigError(f"{person.key('email')}: {email!r} is not an email address")
        phone = person.opt_str("phone")
        if phone is not None and not is_e164(phone):
            raise ConfigError(f"{person.key('phone')}: {phone!r} is not an E.164 number (e.g. +15550100)")
        people[str(name)] = Person(str(name), email, phone)
    return people


def is_e164(phone: str) -> bool:
    """``+`` and 7 to 15 digits: what every SMS provider accepts as a number."""
    return phone.startswith("+") and phone[1:].isdigit() and 8 <= len(phone) <= 16


def _person(name: str, people: dict[str, Person], key: str) -> str:
    if name not in people:
        raise ConfigError(f"{key}: {name!r} is not listed under people; known: {', '.join(sorted(people)) or 'none'}")
    return name


def load_oncall(sec: Section, people: dict[str, Person]) -> OnCall:
    """``oncall: {timezone, rotation, handoff: "monday 09:00", start, overrides}``."""
    sec.reject_unknown(["timezone", "rotation", "handoff", "start", "overrides"])
    zone = sec.zone("timezone", "UTC")
    rotation = tuple(_person(p, people, sec.key("rotation")) for p in sec.str_list("rotation"))
    if not rotation:
        raise ConfigError(f"{sec.key('rotation')}: must name at least one person")
    handoff = sec.text("handoff", "monday 09:00").split()
    if len(handoff) != 2:
        raise ConfigError(f"{sec.key('handoff')}: {' '.join(handoff)!r} must be 'WEEKDAY HH:MM' (e.g. monday 09:00)")
    day = sec.weekday(handoff[0], sec.key("handoff"))
    hand_time = Section({"t": handoff[1]}, sec.key("handoff")).clock_time("t")
    start = sec.raw("start", date(2024, 1, 1))
    if isinstance(start, str):
        with contextlib.suppress(ValueError):
            start = date.fromisoformat(start)
    if not isinstance(start, date) or isinstance(start, datetime):
        raise ConfigError(f"{sec.key('start')}: {start!r} is not a date (YYYY-MM-DD)")
    first = start + timedelta(days=(day - start.weekday()) % 7)
    overrides = []
    for index, item in enumerate(sec.raw("overrides", [])):
        ov = Section(item, f"{sec.key('overrides')}[{index}]")
        ov.reject_unknown(["person", "start", "end"])
        begin, end = _local(ov, "start", zone), _local(ov, "end", zone)
        if end <= begin:
            raise ConfigError(f"{ov.key('end')}: {end.isoformat()} is not after start {begin.isoformat()}")
        overrides.append(Override(_person(ov.text("person"), people, ov.key("person")), begin, end))
    return OnCall(zone, rotation, day, hand_time, datetime.combine(first, hand_time), tuple(overrides))


def _local(sec: Section, name: str, zone: ZoneInfo) -> datetime:
    value: Any = sec.raw(name)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ConfigError(f"{sec.key(name)}: {value!r} is not a date-time (YYYY-MM-DD HH:MM)") from exc
    if not isinstance(value, datetime):
        raise ConfigError(f"{sec.key(name)}: {value!r} is not a date-time (YYYY-MM-DD HH:MM)")
    return value if value.tzinfo else value.replace(tzinfo=zone)


def load_escalation(
    sec: Section, people: dict[str, Person], channels: dict[str, Channel], oncall: OnCall | None
) -> EscalationPolicy:
    """``escalation: {steps: [{after, notify, channels}], reminder_every}``."""
    sec.reject_unknown(["steps", "reminder_every"])
    raw = sec.raw("steps", [])
    if not isinstance(raw, list):
        raise ConfigError(f"{sec.key('steps')}: expected a list of steps")
    steps: list[Step] = []
    for index, item in enumerate(raw):
        st = Section(item, f"{sec.key('steps')}[{index}]")
        st.reject_unknown(["after", "notify", "channels"])
        after = st.duration("after", "0s")
        if steps and after < steps[-1].after:
            raise ConfigError(f"{st.key('after')}: steps must be in order; {after:g}s is before the previous step")
        notify = st.str_list("notify", [ONCALL])
        for who in notify:
            if who in (ONCALL, ONCALL_NEXT):
                if oncall is None:
                    raise ConfigError(f"{st.key('notify')}: {who!r} needs an oncall: section")
            else:
                _person(who, people, st.key("notify"))
        names = st.str_list("channels")
        for name in names:
            if name not in channels:
                raise ConfigError(
                    f"{st.key('channels')}: {name!r} is not a configured channel; known: {', '.join(sorted(channels))}"
                )
        steps.append(Step(after, tuple(notify), tuple(names)))
    reminder = sec.duration("reminder_every", minimum=60) if sec.has("reminder_every") else None
    return EscalationPolicy(tuple(steps), reminder)


def load_maintenance(raw: Any, cells: set[str]) -> tuple[MaintenanceWindow, ...]:
    """``maintenance: [{name, cells, timezone, days, start, end}]``."""
    if not isinstance(raw, list):
        raise ConfigError(f"maintenance: expected a list of windows, got {raw!r}")
    windows = []
    for index, item in enumerate(raw):
        sec = Section(item, f"maintenance[{index}]")
        sec.reject_unknown(["name", "cells", "timezone", "days", "start", "end"])
        chosen = sec.str_list("cells", sorted(cells))
        for cell in chosen:
            if cell not in cells:
                known = ", ".join(sorted(cells))
                raise ConfigError(f"{sec.key('cells')}: {cell!r} has no targets; known cells: {known}")
        days = tuple(sec.weekday(d, sec.key("days")) for d in sec.str_list("days"))
        start, end = sec.clock_time("start"), sec.clock_time("end")
        if start == end:
            raise ConfigError(f"{sec.key('end')}: equals start; a window needs a length")
        windows.append(MaintenanceWindow(sec.text("name", f"window-{index}"), tuple(chosen), sec.zone("timezone"),
                                         days, start, end))
    return tuple(windows)
