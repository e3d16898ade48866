"""Issue 16, finding 5: anonymous slot search has a bounded cost, pages, and a per-address rate limit."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from booking.provision import DatabaseUrls
from booking.ratelimit import AddressRateLimit

from tests.app.conftest import Clock, Service, start_service

ALL_DAY = {d: [["00:00", "24:00"]] for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                                             "sunday")}


@pytest.fixture(scope="module")
def svc(db: DatabaseUrls) -> Iterator[Service]:
    clock = Clock()
    s = start_service(db, clock=clock, trusted_proxies=(ipaddress.ip_network("127.0.0.0/8"),),
                      anonymous=AddressRateLimit(clock, per_minute=60, burst=20))
    yield s
    s.server.stop()


def crowded(svc: Service, slug: str, staff: int) -> dict[str, Any]:
    """The issue's case: a service with `staff` staff members, open all day, on a 5-minute grid."""
    token = svc.signup(slug)["access_token"]
    ids = []
    for i in range(staff):
        sid = svc.call("POST", "/v1/staff", token, json={"name": f"S{i}", "timezone": "UTC"}).json()["id"]
        assert svc.call("PUT", f"/v1/staff/{sid}/availability", token,
                        json={"weekly": ALL_DAY, "overrides": []}).status_code == 200
        ids.append(sid)
    r = svc.call("POST", "/v1/services", token, json={
        "name": "Quick", "duration_minutes": 5, "slot_interval_minutes": 5, "horizon_days": 365, "staff_ids": ids})
    assert r.status_code == 201, r.text
    return {"slug": slug, "token": token, "service": r.json()["id"], "staff": ids}


def search(svc: Service, t: dict[str, Any], first: date, last: date, client: str, **params: Any) -> Any:
    return svc.call("GET", f"/v1/public/{t['slug']}/services/{t['service']}/slots",
                    headers={"X-Forwarded-For": client},
                    params={"from": first.isoformat(), "to": last.isoformat(), "tz": "UTC", **params})


def test_a_62_day_search_of_a_10_staff_service_is_narrowed_not_answered_with_megabytes(svc: Service) -> None:
    t = crowded(svc, "crowded", 10)
    first = date(2026, 1, 6)
    wide = search(svc, t, first, first + timedelta(days=61), "203.0.113.1:1")
    assert wide.status_code == 422
    assert wide.json()["detail"] == ("a search of this service may span at most 20 days with its 10 staff members; "
                                     "pass staff_id or a shorter range")
    seen: list[str] = []
    cursor: dict[str, Any] = {"from": first.isoformat()}
    for page in range(20):  # page through 2 days of 10 staff on a 5-minute grid (5,760 slots)
        r = search(svc, t, date.fromisoformat(cursor["from"]), first + timedelta(days=1), f"203.0.113.{page}:1",
                   **({"after": cursor["after"]} if "after" in cursor else {}))
        assert r.status_code == 200, r.text
        assert len(r.content) < 200_000
        body = r.json()
        assert len(body["slots"]) <= 1000
        seen += [s["start"] + s["staff_id"] for s in body["slots"]]
        if body["next"] is None:
            break
        cursor = body["next"]
    assert len(seen) == len(set(seen)) == 2 * 288 * 10, "the pages return every slot exactly once"
    narrowed = search(svc, t, first, first + timedelta(days=61), "203.0.113.30:1", staff_id=t["staff"][0],
                      limit=100)
    assert narrowed.status_code == 200
    assert len(narrowed.json()["slots"]) == 100
    assert narrowed.json()["next"]["from"] == "2026-01-06"


def test_a_service_takes_at_most_20_staff_members(svc: Service) -> None:
    token = svc.signup("too-many")["access_token"]
    ids = [svc.call("POST", "/v1/staff", token, json={"name": f"S{i}", "timezone": "UTC"}).json()["id"]
           for i in range(21)]
    r = svc.call("POST", "/v1/services", token, json={"name": "X", "duration_minutes": 30, "staff_ids": ids})
    assert r.status_code == 422
    assert "at most 20 items" in r.text


def test_anonymous_routes_are_rate_limited_per_real_address_with_retry_after(svc: Service) -> None:
    t = crowded(svc, "limited", 1)
    day = date(2026, 1, 7)
    for _ in range(20):
        assert search(svc, t, day, day, "198.51.100.7:5000").status_code == 200
    r = search(svc, t, day, day, "198.51.100.7:5001")
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "1"
    assert "retry in 1 s" in r.json()["detail"]
    assert svc.call("GET", f"/{t['slug']}", headers={"X-Forwarded-For": "198.51.100.7:5002"}).status_code == 429
    assert search(svc, t, day, day, "198.51.100.8:5000").status_code == 200, "another customer is not affected"
    svc.clock.now += timedelta(seconds=1)
    assert search(svc, t, day, day, "198.51.100.7:5003").status_code == 200
