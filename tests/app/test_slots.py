"""Availability across DST changes (US, EU, AU; both directions) and across midnight."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.app.conftest import Business, Service, book, make_business


def slots(service: Service, biz: Business, first: str, last: str, tz: str) -> list[dict[str, Any]]:
    r = service.call("GET", f"/v1/public/{biz.slug}/services/{biz.service_id}/slots",
                     params={"from": first, "to": last, "tz": tz})
    assert r.status_code == 200, r.text
    return r.json()["slots"]


def starts(items: list[dict[str, Any]]) -> list[str]:
    return [s["start"][11:] for s in items]


NIGHT = {"sunday": [["00:00", "04:00"]]}  # every DST change in these zones happens on a Sunday night


@pytest.mark.parametrize(("zone", "day", "expected"), [
    # spring forward: the hour 02:00-03:00 does not exist, the night is 3 hours long
    ("America/New_York", "2026-03-08", ["00:00:00-05:00", "01:00:00-05:00", "03:00:00-04:00"]),
    ("Europe/Berlin", "2026-03-29", ["00:00:00+01:00", "01:00:00+01:00", "03:00:00+02:00"]),
    ("Australia/Sydney", "2026-10-04", ["00:00:00+10:00", "01:00:00+10:00", "03:00:00+11:00"]),
    # fall back: one hour happens twice, the night is 5 hours long
    ("America/New_York", "2026-11-01",
     ["00:00:00-04:00", "01:00:00-04:00", "01:00:00-05:00", "02:00:00-05:00", "03:00:00-05:00"]),
    ("Europe/Berlin", "2026-10-25",
     ["00:00:00+02:00", "01:00:00+02:00", "02:00:00+02:00", "02:00:00+01:00", "03:00:00+01:00"]),
    ("Australia/Sydney", "2026-04-05",
     ["00:00:00+11:00", "01:00:00+11:00", "02:00:00+11:00", "02:00:00+10:00", "03:00:00+10:00"]),
])
def test_a_night_shift_over_a_dst_change_has_the_real_number_of_hours(service: Service, zone: str, day: str,
                                                                      expected: list[str]) -> None:
    slug = "night-" + zone.split("/")[1].lower().replace("_", "-") + "-" + day[5:7]
    biz = make_business(service, slug, tz=zone, weekly=NIGHT, duration_minutes=60)
    got = slots(service, biz, day, day, zone)
    assert starts(got) == expected
    # each slot is a real hour, even the one that starts in the repeated or skipped hour
    for s in got:
        delta = datetime.fromisoformat(s["end"]) - datetime.fromisoformat(s["start"])
        assert delta.total_seconds() == 3600, s


def test_office_hours_keep_local_time_across_the_us_change(service: Service) -> None:
    biz = make_business(service, "ny-office", tz="America/New_York",
                        weekly={"saturday": [["09:00", "10:00"]], "monday": [["09:00", "10:00"]]})
    got = slots(service, biz, "2026-03-07", "2026-03-09", "UTC")
    assert [s["start"] for s in got] == ["2026-03-07T14:00:00+00:00", "2026-03-07T14:30:00+00:00",
                                         "2026-03-09T13:00:00+00:00", "2026-03-09T13:30:00+00:00"]


def test_customer_zone_shifts_while_only_the_us_has_changed(service: Service) -> None:
    # Between the US change (8 March) and the EU change (29 March) New York is 5 h behind Berlin, not 6.
    biz = make_business(service, "berlin-for-ny", weekly={"tuesday": [["09:00", "09:30"]]})
    got = slots(service, biz, "2026-03-03", "2026-03-31", "America/New_York")
    assert [s["start"] for s in got] == ["2026-03-03T03:00:00-05:00", "2026-03-10T04:00:00-04:00",
                                         "2026-03-17T04:00:00-04:00", "2026-03-24T04:00:00-04:00",
                                         "2026-03-31T03:00:00-04:00"]


def test_slots_fall_on_the_customers_date_across_midnight(service: Service) -> None:
    # 09:00-11:00 in Tokyo is 16:00-18:00 of the previous day in Los Angeles (January, PST).
    biz = make_business(service, "tokyo-desk", tz="Asia/Tokyo", weekly={"wednesday": [["09:00", "11:00"]]},
                        duration_minutes=60)
    tuesday_la = slots(service, biz, "2026-01-06", "2026-01-06", "America/Los_Angeles")
    assert [s["start"] for s in tuesday_la] == ["2026-01-06T16:00:00-08:00", "2026-01-06T17:00:00-08:00"]
    assert slots(service, biz, "2026-01-07", "2026-01-07", "America/Los_Angeles") == []
    wednesday_tokyo = slots(service, biz, "2026-01-07", "2026-01-07", "Asia/Tokyo")
    assert starts(wednesday_tokyo) == ["09:00:00+09:00", "10:00:00+09:00"]


def test_hours_until_24_00_join_the_next_morning_and_buffers_cross_midnight(service: Service) -> None:
    biz = make_business(service, "late-night", weekly={"monday": [["22:00", "24:00"]],
                                                       "tuesday": [["00:00", "02:00"]]},
                        duration_minutes=60, buffer_after_minutes=30)
    got = slots(service, biz, "2026-01-12", "2026-01-13", "Europe/Berlin")
    assert [s["start"] for s in got][:4] == ["2026-01-12T22:00:00+01:00", "2026-01-12T23:00:00+01:00",
                                             "2026-01-13T00:00:00+01:00", "2026-01-13T01:00:00+01:00"]
    assert book(service, biz, "2026-01-12T23:00:00+01:00").status_code == 201
    after = [s["start"] for s in slots(service, biz, "2026-01-12", "2026-01-13", "Europe/Berlin")][:4]
    # the 30-minute buffer after 23:00-24:00 blocks the 00:00 slot of the next day (and 22:00 overlaps)
    assert after == ["2026-01-13T01:00:00+01:00"]


def test_overrides_close_a_day_or_change_its_hours(service: Service) -> None:
    biz = make_business(service, "holiday-shop", weekly={"thursday": [["09:00", "10:00"]]},
                        overrides=[{"date": "2026-12-24", "intervals": []},
                                   {"date": "2026-12-31", "intervals": [["13:00", "13:30"]]}])
    got = slots(service, biz, "2026-12-17", "2026-12-31", "Europe/Berlin")
    assert [s["start"] for s in got] == ["2026-12-17T09:00:00+01:00", "2026-12-17T09:30:00+01:00",
                                         "2026-12-31T13:00:00+01:00"]


@pytest.mark.parametrize(("case", "params", "fragment"), [
    (1, {"from": "2026-01-10", "to": "2026-01-05", "tz": "UTC"}, "before from"),
    (2, {"from": "2026-01-01", "to": "2026-05-01", "tz": "UTC"}, "longer than"),
    (3, {"from": "2026-01-01", "to": "2026-01-02", "tz": "Mars/Olympus"}, "tz='Mars/Olympus'"),
])
def test_bad_slot_queries_get_422_with_the_reason(service: Service, case: int, params: dict[str, str],
                                                  fragment: str) -> None:
    biz = make_business(service, f"query-case-{case}")
    r = service.call("GET", f"/v1/public/{biz.slug}/services/{biz.service_id}/slots", params=params)
    assert r.status_code == 422
    assert fragment in r.text
