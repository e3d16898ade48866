"""Busy time from connected calendars: ICS upload and feed URL, recurrences, and failure handling."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from booking.calendars.addresses import private_networks_too
from booking.calendars.fetch import FeedError, FeedFetcher

from tests.app.conftest import Business, Service, as_app, book, make_business, start_service

CAL = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//slotstack//test//EN
BEGIN:VEVENT
UID:weekly-sync
SUMMARY:Weekly sync
DESCRIPTION:private notes that must never be stored
LOCATION:Room 4
DTSTART;TZID=Europe/Berlin:20260105T100000
DTEND;TZID=Europe/Berlin:20260105T110000
RRULE:FREQ=WEEKLY;COUNT=4
EXDATE;TZID=Europe/Berlin:20260112T100000
END:VEVENT
BEGIN:VEVENT
UID:weekly-sync
RECURRENCE-ID;TZID=Europe/Berlin:20260119T100000
SUMMARY:Weekly sync (moved)
DTSTART;TZID=Europe/Berlin:20260119T140000
DTEND;TZID=Europe/Berlin:20260119T150000
END:VEVENT
BEGIN:VEVENT
UID:offsite
SUMMARY:Offsite
DTSTART;VALUE=DATE:20260107
DTEND;VALUE=DATE:20260108
END:VEVENT
BEGIN:VEVENT
UID:lunch-free
SUMMARY:Optional lunch talk
TRANSP:TRANSPARENT
DTSTART:20260108T090000Z
DTEND:20260108T100000Z
END:VEVENT
BEGIN:VEVENT
UID:called-off
SUMMARY:Cancelled meeting
STATUS:CANCELLED
DTSTART:20260109T090000Z
DTEND:20260109T100000Z
END:VEVENT
END:VCALENDAR
"""

OTHER = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//slotstack//test//EN
BEGIN:VEVENT
UID:dentist
SUMMARY:Dentist
DTSTART:20260106T130000Z
DTEND:20260106T140000Z
END:VEVENT
END:VCALENDAR
"""


class Feed(BaseHTTPRequestHandler):
    """Serves whatever the test puts in `routes`; records the requests it got."""

    routes: ClassVar[dict[str, tuple[int, bytes, float]]] = {}
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Feed.seen.append(self.path)
        status, body, delay = Feed.routes.get(self.path, (404, b"no such feed", 0.0))
        time.sleep(delay)
        self.send_response(status)
        self.send_header("Content-Type", "text/calendar")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class FeedServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the timeout test hangs up on purpose; a broken pipe here is expected


@pytest.fixture(scope="module")
def feed_url() -> Iterator[str]:
    httpd = FeedServer(("127.0.0.1", 0), Feed)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def svc(db: Any) -> Iterator[Service]:
    # on-premises feeds on a private network are allowed in this deployment (the feed server is local)
    s = start_service(db, ics_allow_private=True)
    yield s
    s.server.stop()


@pytest.fixture(scope="module")
def biz(svc: Service) -> Business:
    return make_business(svc, "cal-clinic")


def day_starts(svc: Service, biz: Business, day: str) -> list[str]:
    r = svc.call("GET", f"/v1/public/{biz.slug}/services/{biz.service_id}/slots",
                 params={"from": day, "to": day, "tz": "Europe/Berlin"})
    return [s["start"][11:16] for s in r.json()["slots"]]


def upload(svc: Service, biz: Business, text: str) -> Any:
    return svc.call("PUT", f"/v1/staff/{biz.staff_id}/calendar", biz.token, data=text.encode(),
                    headers={"Content-Type": "text/calendar"})


def test_upload_expands_recurrences_and_skips_free_and_cancelled(svc: Service, biz: Business) -> None:
    r = upload(svc, biz, CAL)
    assert r.status_code == 200, r.text
    assert r.json()["busy_blocks"] == 4  # 5, 19 (moved) and 26 Jan of the series + the all-day offsite
    assert "10:00" not in day_starts(svc, biz, "2026-01-05")
    assert "11:00" in day_starts(svc, biz, "2026-01-05")
    assert "10:00" in day_starts(svc, biz, "2026-01-12")  # EXDATE
    moved = day_starts(svc, biz, "2026-01-19")
    assert "10:00" in moved
    assert "14:00" not in moved
    assert "14:30" not in moved
    assert day_starts(svc, biz, "2026-01-07") == []  # all-day in the calendar's zone
    assert "10:00" in day_starts(svc, biz, "2026-01-08")  # TRANSP:TRANSPARENT
    assert "10:00" in day_starts(svc, biz, "2026-01-09")  # STATUS:CANCELLED


def test_only_summary_times_and_uid_are_stored(svc: Service, biz: Business) -> None:
    with as_app(svc.db) as conn, conn.transaction():
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (biz.tenant_id,))
        rows = conn.execute("SELECT row_to_json(b)::text FROM busy_blocks b").fetchall()
    text = " ".join(r[0] for r in rows)
    assert "Weekly sync" in text
    assert "private notes" not in text
    assert "Room 4" not in text


def test_a_busy_block_refuses_a_booking_with_409(svc: Service, biz: Business) -> None:
    r = book(svc, biz, "2026-01-26T10:00:00+01:00")
    assert r.status_code == 409
    assert r.json()["reason"] == "calendar_busy"


def test_malformed_upload_is_refused_and_previous_blocks_stay(svc: Service, biz: Business) -> None:
    broken = CAL.replace("DTSTART;TZID=Europe/Berlin:20260105T100000", "DTSTART:not-a-date")
    r = upload(svc, biz, broken)
    assert r.status_code == 422
    assert "not valid iCalendar" in r.json()["detail"]
    assert upload(svc, biz, "this is not a calendar").status_code == 422
    assert day_starts(svc, biz, "2026-01-07") == []  # the offsite block is still there


def put_feed(svc: Service, biz: Business, url: str) -> Any:
    return svc.call("PUT", f"/v1/staff/{biz.staff_id}/calendar", biz.token, json={"url": url})


def settled_feed(svc: Service, biz: Business, timeout_s: float = 20.0) -> dict[str, Any]:
    """The URL feed's status once the background fetch has finished (bounded wait)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        feeds = svc.call("GET", f"/v1/staff/{biz.staff_id}/calendar", biz.token).json()["feeds"]
        urls = [f for f in feeds if f["source"] == "url"]
        if urls and urls[0]["status"] != "pending":
            return dict(urls[0])
        time.sleep(0.05)
    raise AssertionError("the feed stayed pending")


def test_feed_url_import_and_reimport_replaces_only_that_feed(svc: Service, biz: Business, feed_url: str) -> None:
    Feed.routes["/team.ics"] = (200, OTHER.encode(), 0.0)
    r = put_feed(svc, biz, f"{feed_url}/team.ics")
    assert r.status_code == 202, r.text
    assert r.json()["feed"]["status"] == "pending"
    feed = settled_feed(svc, biz)
    assert (feed["status"], feed["busy_blocks"], feed["last_error"]) == ("ok", 1, None)
    assert "14:00" not in day_starts(svc, biz, "2026-01-06")
    assert day_starts(svc, biz, "2026-01-07") == []  # the uploaded calendar is a separate feed and stays
    Feed.routes["/team.ics"] = (200, OTHER.replace("T13", "T15").replace("T14", "T16").encode(), 0.0)
    assert put_feed(svc, biz, f"{feed_url}/team.ics").status_code == 202
    settled_feed(svc, biz)
    starts = day_starts(svc, biz, "2026-01-06")
    assert "14:00" in starts
    assert "16:00" not in starts


def test_url_feeds_are_refreshed_in_the_background_once_per_period(svc: Service, biz: Business,
                                                                  feed_url: str) -> None:
    Feed.routes["/team.ics"] = (200, OTHER.encode(), 0.0)
    assert put_feed(svc, biz, f"{feed_url}/team.ics").status_code == 202
    settled_feed(svc, biz)
    feeds = svc.app.state.ctx.feeds
    assert feeds.refresh_due("us") == 0, "fetched just now"
    Feed.routes["/team.ics"] = (200, OTHER.replace("T13", "T15").replace("T14", "T16").encode(), 0.0)
    svc.clock.now += timedelta(minutes=31)
    try:
        assert feeds.refresh_due("us") == 1
        assert feeds.refresh_due("us") == 0, "claimed: a second pass (or process) does not fetch it again"
        deadline = time.monotonic() + 20
        while "14:00" not in day_starts(svc, biz, "2026-01-06") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "16:00" not in day_starts(svc, biz, "2026-01-06")
    finally:
        svc.clock.now -= timedelta(minutes=31)


def test_a_failing_feed_keeps_the_previous_blocks(svc: Service, biz: Business, feed_url: str) -> None:
    Feed.routes["/team.ics"] = (500, b"oops", 0.0)
    assert put_feed(svc, biz, f"{feed_url}/team.ics").status_code == 202
    feed = settled_feed(svc, biz)
    assert feed["status"] == "failed"
    assert "HTTP 500" in feed["last_error"]
    assert feed["last_fetched_at"] is not None  # when the blocks still in use were fetched
    Feed.routes["/team.ics"] = (200, b"BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:2026", 0.0)
    assert put_feed(svc, biz, f"{feed_url}/team.ics").status_code == 202
    assert settled_feed(svc, biz)["status"] == "failed"
    assert "16:00" not in day_starts(svc, biz, "2026-01-06")


def test_fetcher_enforces_deadline_size_and_private_addresses(feed_url: str) -> None:
    Feed.routes["/slow.ics"] = (200, OTHER.encode(), 1.5)
    Feed.routes["/big.ics"] = (200, b"X" * 5000, 0.0)
    fetch = FeedFetcher(deadline_s=0.3, max_bytes=1000, policy=private_networks_too)
    with pytest.raises(FeedError, match=r"longer than 0\.3 s in total"):
        fetch(f"{feed_url}/slow.ics")
    with pytest.raises(FeedError, match="larger than 1000 bytes"):
        fetch(f"{feed_url}/big.ics")
    public_only = FeedFetcher(deadline_s=1, max_bytes=1000)
    before = len(Feed.seen)
    with pytest.raises(FeedError, match=r"resolves to 127\.0\.0\.1, which is refused"):
        public_only(f"{feed_url}/team.ics")
    assert len(Feed.seen) == before, "a private address must not even be contacted"
    with pytest.raises(FeedError, match="must start with https://"):
        public_only("file:///etc/passwd")


def test_wrong_content_type_is_415(svc: Service, biz: Business) -> None:
    r = svc.call("PUT", f"/v1/staff/{biz.staff_id}/calendar", biz.token, data=b"x",
                 headers={"Content-Type": "text/plain"})
    assert r.status_code == 415


def test_a_booking_waits_for_an_import_in_flight_and_sees_its_blocks(svc: Service) -> None:
    shop = make_business(svc, "race-clinic")
    result: dict[str, Any] = {}
    with as_app(svc.db) as conn:
        conn.autocommit = False
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (shop.tenant_id,))
        # what an import does: lock the staff row, then replace the feed's blocks (not committed yet)
        conn.execute("SELECT id FROM staff WHERE id = %s FOR UPDATE", (shop.staff_id,))
        feed = conn.execute("INSERT INTO calendar_feeds (tenant_id, staff_id, source) VALUES (%s, %s, 'upload') "
                            "RETURNING id", (shop.tenant_id, shop.staff_id)).fetchone()[0]
        conn.execute("INSERT INTO busy_blocks (tenant_id, staff_id, feed_id, source_uid, period) VALUES "
                     "(%s, %s, %s, 'x', tstzrange('2026-01-06 09:00+00', '2026-01-06 10:00+00'))",
                     (shop.tenant_id, shop.staff_id, feed))
        worker = threading.Thread(target=lambda: result.update(r=book(svc, shop, "2026-01-06T10:00:00+01:00")))
        worker.start()
        worker.join(1.0)
        assert worker.is_alive(), "the booking must wait for the import holding the staff row"
        conn.commit()
    worker.join(30)
    assert result["r"].status_code == 409, result["r"].text
    assert result["r"].json()["reason"] == "calendar_busy"
