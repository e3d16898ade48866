"""The customer's language for dates and times on the booking page: `?lang=`, else Accept-Language, else English.

Babel's CLDR data formats them as people of that locale write them ("Dienstag, 6. Januar 2026", "9:30 AM").
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, get_day_names
from fastapi import Request

DEFAULT = Locale("en")
MAX_TAGS = 8


def _parse(tag: str) -> Locale | None:
    try:
        return Locale.parse(tag.strip().replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return None


def pick_locale(request: Request, given: str | None = None) -> Locale:
    """`given` (a form's `lang`) or `?lang=de-DE` wins, then the browser's Accept-Language by preference, then
    English."""
    given = (given or request.query_params.get("lang", ""))[:20]
    if given and (found := _parse(given)) is not None:
        return found
    tags = []
    for part in request.headers.get("accept-language", "")[:200].split(",")[:MAX_TAGS]:
        tag, _, q = part.partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            continue
        if tag.strip() and tag.strip() != "*":
            tags.append((-weight, tag))
    for _, tag in sorted(tags):
        if (found := _parse(tag)) is not None:
            return found
    return DEFAULT


def long_date(d: date, locale: Locale) -> str:
    """e.g. "Tuesday, January 6, 2026" (en), "Dienstag, 6. Januar 2026" (de)."""
    return str(format_date(d, format="full", locale=locale))


def short_time(t: datetime, locale: Locale) -> str:
    """e.g. "9:30 AM" (en), "09:30" (de)."""
    return str(format_time(t, format="short", locale=locale))


@dataclass(frozen=True)
class Day:
    """One cell of the month calendar; `href` only when the day has free slots."""

    day: int
    label: str
    href: str | None
    current: bool


@dataclass(frozen=True)
class Month:
    """A month of the calendar: its title, weekday headers (short, long) and weeks of cells (None = padding)."""

    title: str
    weekdays: list[tuple[str, str]]
    weeks: list[list[Day | None]]


def months(first: date, last: date, open_days: dict[date, str], chosen: date | None, locale: Locale) -> list[Month]:
    """The months covering `first`..`last`, weeks starting on the locale's first weekday; a day links to its slots
    when it is in `open_days` (date -> href)."""
    start_weekday = locale.first_week_day
    short, full = get_day_names("abbreviated", locale=locale), get_day_names("wide", locale=locale)
    order = [(start_weekday + i) % 7 for i in range(7)]
    out = []
    month = date(first.year, first.month, 1)
    while month <= last:
        grid = calendar.Calendar(firstweekday=start_weekday).monthdatescalendar(month.year, month.month)
        weeks = [[Day(d.day, long_date(d, locale), open_days.get(d), d == chosen) if d.month == month.month
                  else None for d in week] for week in grid]
        out.append(Month(str(format_date(month, "LLLL y", locale=locale)),
                         [(str(short[i]), str(full[i])) for i in order], weeks))
        month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return out
