"""Busy time from iCalendar: parse, expand recurrences, keep only summary, start, end and UID."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import recurring_ical_events
import requests

from booking.errors import ApiError

MAX_BLOCKS = 20_000


@dataclass(frozen=True)
class BusyBlock:
    """What we keep of a calendar event."""

    source_uid: str
    summary: str
    start: datetime
    end: datetime


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


def parse_busy(data: bytes, staff_zone: ZoneInfo, window: tuple[datetime, datetime]) -> list[BusyBlock]:
    """Busy blocks of a feed within `window`; raises 422 naming the problem if the feed is malformed.

    Recurrences are expanded (RRULE, EXDATE, RECURRENCE-ID overrides); TRANSP:TRANSPARENT and
    STATUS:CANCELLED events are free time and skipped.
    """
    try:
        cal = icalendar.Calendar.from_ical(data)
        if not isinstance(cal, icalendar.Calendar) or cal.name != "VCALENDAR":
            raise ValueError("the data is not a VCALENDAR")
        zone = calendar_zone(cal, staff_zone)
        events = recurring_ical_events.of(cal).between(window[0], window[1])
        blocks = []
        for ev in events:
            if str(ev.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
                continue
            if str(ev.get("STATUS", "")).upper() == "CANCELLED":
                continue
            start = _instant(ev["DTSTART"].dt, zone)
            if ev.get("DTEND") is not None:
                end = _instant(ev["DTEND"].dt, zone)
            elif ev.get("DURATION") is not None:
                end = start + ev["DURATION"].dt
            elif not isinstance(ev["DTSTART"].dt, datetime):
                end = _instant(ev["DTSTART"].dt + timedelta(days=1), zone)
            else:
                continue  # a zero-length event occupies no time
            if end <= start:
                continue
            blocks.append(BusyBlock(str(ev.get("UID", "")), str(ev.get("SUMMARY", ""))[:200], start, end))
            if len(blocks) > MAX_BLOCKS:
                raise ApiError(422, f"the calendar expands to more than {MAX_BLOCKS} events in the horizon")
    except ApiError:
        raise
    except Exception as exc:  # icalendar raises many types for broken input; all mean "malformed"
        raise ApiError(422, f"the calendar is not valid iCalendar ({type(exc).__name__}: {exc}); "
                            "the previous busy blocks are kept") from None
    return blocks


def _refuse_private(host: str) -> None:
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        raise ApiError(422, f"calendar url host {host!r} does not resolve") from None
    for info in infos:
        addr = ipaddress.ip_address(info[4][0])
        if addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_reserved:
            raise ApiError(422, f"calendar url host {host!r} is a private address; use a public feed URL")


def http_fetcher(*, timeout_s: float, max_bytes: int, allow_private: bool = False) -> Callable[[str], bytes]:
    """Fetch an ICS feed with a timeout and a size limit; refuses private addresses unless allowed."""

    def fetch(url: str) -> bytes:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ApiError(422, f"url={url!r} must be an http(s) URL of an ICS feed")
        if not allow_private:
            _refuse_private(parts.hostname)
        try:
            with requests.get(url, timeout=timeout_s, stream=True, allow_redirects=False) as resp:
                if resp.status_code != 200:
                    raise ApiError(422, f"the calendar feed answered HTTP {resp.status_code}; check the URL")
                body = bytearray()
                for chunk in resp.iter_content(65536):
                    body.extend(chunk)
                    if len(body) > max_bytes:
                        raise ApiError(422, f"the calendar feed is larger than {max_bytes} bytes")
                return bytes(body)
        except requests.RequestException as exc:
            raise ApiError(422, f"the calendar feed could not be fetched ({type(exc).__name__}); "
                                "the previous busy blocks are kept") from None

    return fetch
