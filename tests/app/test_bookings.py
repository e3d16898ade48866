"""Bookings: the database refuses double booking under real concurrency; buffers; idempotency; 409 reasons."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.app.conftest import Business, Service, book, make_business

# 2026-01-05 is a Monday; the service clock starts then (see Clock), Berlin is UTC+1 in January.
MON_10 = "2026-01-05T10:00:00+01:00"


@pytest.fixture(scope="module")
def biz(service: Service) -> Business:
    return make_business(service, "busy-barber", buffer_before_minutes=10, buffer_after_minutes=15)


def test_fifty_simultaneous_bookings_of_one_slot_give_one_201_and_49_409(service: Service) -> None:
    target = make_business(service, "rush-hour")
    barrier = threading.Barrier(50)

    def attempt(i: int) -> requests.Response:
        barrier.wait(timeout=30)
        return book(service, target, "2026-01-07T11:00:00+01:00", email=f"c{i}@example.com")

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(attempt, range(50)))
    codes = sorted(r.status_code for r in results)
    assert codes == [201] + [409] * 49, codes
    assert all(r.json()["reason"] == "overlap" for r in results if r.status_code == 409)
    listed = service.call("GET", "/v1/bookings", target.token).json()["bookings"]
    assert len(listed) == 1
    assert listed[0]["start"] == "2026-01-07T10:00:00+00:00"


def test_an_overlapping_but_different_interval_is_refused(service: Service, biz: Business) -> None:
    first = book(service, biz, "2026-01-06T13:00:00+01:00")
    assert first.status_code == 201, first.text
    # 30-minute grid: 13:30 overlaps nothing of the appointment but its 15-minute buffer after.
    r = book(service, biz, "2026-01-06T13:30:00+01:00")
    assert r.status_code == 409
    assert r.json()["reason"] == "overlap"
    assert "buffers included" in r.json()["detail"]


def test_buffers_are_enforced_on_both_sides(service: Service, biz: Business) -> None:
    assert book(service, biz, "2026-01-08T12:00:00+01:00").status_code == 201  # blocks 11:50-12:45
    before = book(service, biz, "2026-01-08T11:30:00+01:00")  # ends 12:00 + 15 after -> overlaps
    assert before.status_code == 409
    after = book(service, biz, "2026-01-08T12:30:00+01:00")  # 12:20 with buffer before -> overlaps
    assert after.status_code == 409
    clear = book(service, biz, "2026-01-08T13:00:00+01:00")  # blocked from 12:50: free
    assert clear.status_code == 201, clear.text


def test_the_slots_endpoint_hides_taken_and_buffered_times(service: Service, biz: Business) -> None:
    r = service.call("GET", f"/v1/public/{biz.slug}/services/{biz.service_id}/slots",
                     params={"from": "2026-01-08", "to": "2026-01-08", "tz": "Europe/Berlin"})
    starts = [s["start"][11:16] for s in r.json()["slots"]]
    assert "12:00" not in starts
    assert "11:30" not in starts
    assert "12:30" not in starts
    assert "13:00" not in starts
    assert "11:00" in starts
    assert "14:00" in starts


def test_same_idempotency_key_and_body_returns_the_same_booking(service: Service, biz: Business) -> None:
    first = book(service, biz, "2026-01-09T09:00:00+01:00", key="retry-1")
    again = book(service, biz, "2026-01-09T09:00:00+01:00", key="retry-1")
    assert first.status_code == 201
    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    other = book(service, biz, "2026-01-09T10:00:00+01:00", key="retry-1")
    assert other.status_code == 422
    assert "different request body" in other.json()["detail"]
    listed = service.call("GET", "/v1/bookings", biz.token, params={"from": "2026-01-09T00:00:00Z",
                                                                    "to": "2026-01-10T00:00:00Z"})
    assert len(listed.json()["bookings"]) == 1


def test_concurrent_retries_with_one_key_create_one_booking(service: Service, biz: Business) -> None:
    barrier = threading.Barrier(8)

    def attempt(_: int) -> requests.Response:
        barrier.wait(timeout=30)
        return book(service, biz, "2026-01-09T15:00:00+01:00", key="storm-key")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(8)))
    created = {r.json()["id"] for r in results if r.status_code == 201}
    assert len(created) == 1, [(r.status_code, r.text) for r in results]
    assert all(r.status_code in (201, 409) for r in results)


def test_cancel_frees_the_slot_and_reschedule_respects_conflicts(service: Service, biz: Business) -> None:
    a = book(service, biz, "2026-01-12T09:00:00+01:00").json()
    b = book(service, biz, "2026-01-12T11:00:00+01:00").json()
    moved = service.call("POST", f"/v1/bookings/{b['id']}/reschedule", biz.token,
                         json={"start": "2026-01-12T09:30:00+01:00"})
    assert moved.status_code == 409
    assert moved.json()["reason"] == "overlap"
    assert service.call("POST", f"/v1/bookings/{a['id']}/cancel", biz.token).json()["status"] == "cancelled"
    moved = service.call("POST", f"/v1/bookings/{b['id']}/reschedule", biz.token,
                         json={"start": "2026-01-12T09:30:00+01:00"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["start"] == "2026-01-12T08:30:00+00:00"


def test_public_cancel_link_works_only_with_its_token(service: Service, biz: Business) -> None:
    created = book(service, biz, "2026-01-13T10:00:00+01:00").json()
    url = created["cancel_url"]
    assert url.startswith(f"{service.url}/{biz.slug}/bookings/{created['id']}/cancel?token=")
    token = url.split("token=")[1]
    bad = service.call("POST", f"/v1/public/{biz.slug}/bookings/{created['id']}/cancel", params={"token": "x" * 32})
    assert bad.status_code == 403
    ok = service.call("POST", f"/v1/public/{biz.slug}/bookings/{created['id']}/cancel", params={"token": token})
    assert ok.json()["status"] == "cancelled"
    assert book(service, biz, "2026-01-13T10:00:00+01:00").status_code == 201


@pytest.mark.parametrize(("start", "fragment"), [
    ("2026-01-06T08:00:00+01:00", "not an offered slot"),   # before opening
    ("2026-01-06T16:45:00+01:00", "not an offered slot"),   # off the grid and past closing
    ("2026-01-10T10:00:00+01:00", "not an offered slot"),   # Saturday
    ("2026-01-06T10:00:00", "no UTC offset"),
    ("tomorrow at ten", "not an ISO 8601"),
])
def test_times_outside_the_offer_get_422_with_the_reason(service: Service, biz: Business, start: str,
                                                         fragment: str) -> None:
    r = book(service, biz, start)
    assert r.status_code == 422
    assert fragment in r.json()["detail"]


def test_minimum_notice_and_daily_maximum(service: Service) -> None:
    shop = make_business(service, "tiny-shop", min_notice_minutes=24 * 60, max_per_day=1)
    # clock: Monday 2026-01-05 00:00 UTC; notice 24 h -> Monday is not bookable
    r = book(service, shop, "2026-01-05T15:00:00+01:00")
    assert r.status_code == 422
    assert book(service, shop, "2026-01-06T09:00:00+01:00").status_code == 201
    second = book(service, shop, "2026-01-06T15:00:00+01:00")
    assert second.status_code == 409
    assert second.json()["reason"] == "daily_limit"
    slots = service.call("GET", f"/v1/public/{shop.slug}/services/{shop.service_id}/slots",
                         params={"from": "2026-01-05", "to": "2026-01-07", "tz": "Europe/Berlin"}).json()["slots"]
    days = {s["start"][:10] for s in slots}
    assert days == {"2026-01-07"}


def test_booking_questions_are_validated(service: Service) -> None:
    shop = make_business(service, "question-shop")
    r = service.call("PUT", "/v1/questions", shop.token, json=[
        {"key": "reason", "label": "Reason for visit", "kind": "text", "required": True},
        {"key": "first", "label": "First visit?", "kind": "choice", "choices": ["yes", "no"]}])
    assert r.status_code == 200, r.text
    missing = book(service, shop, "2026-01-06T10:00:00+01:00")
    assert missing.status_code == 422
    assert "answers.reason is required" in missing.json()["detail"]
    wrong = book(service, shop, "2026-01-06T10:00:00+01:00", answers={"reason": "cut", "first": "maybe"})
    assert wrong.status_code == 422
    assert "'maybe' is not one of" in wrong.json()["detail"]
    ok = book(service, shop, "2026-01-06T10:00:00+01:00", answers={"reason": "cut", "first": "no"})
    assert ok.status_code == 201, ok.text
    listed = service.call("GET", f"/v1/bookings/{ok.json()['id']}", shop.token).json()
    assert listed["answers"] == {"reason": "cut", "first": "no"}


def test_a_longer_service_overlapping_a_booking_of_the_same_staff_is_refused(service: Service) -> None:
    shop = make_business(service, "two-services")
    long = service.call("POST", "/v1/services", shop.token, json={
        "name": "Long treatment", "duration_minutes": 90, "slot_interval_minutes": 30, "horizon_days": 3650,
        "staff_ids": [shop.staff_id]}).json()
    assert book(service, shop, "2026-01-06T10:30:00+01:00").status_code == 201  # 30 min, 10:30-11:00
    r = book(service, shop, "2026-01-06T10:00:00+01:00", service_id=long["id"])  # 10:00-11:30 covers it
    assert r.status_code == 409
    assert r.json()["reason"] == "overlap"
    assert book(service, shop, "2026-01-06T11:00:00+01:00", service_id=long["id"]).status_code == 201
