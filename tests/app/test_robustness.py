"""Bad input gets a 4xx with a reason, never a 500."""

from __future__ import annotations

import pytest

from tests.app.conftest import Business, Service, book, make_business


@pytest.fixture(scope="module")
def biz(service: Service) -> Business:
    return make_business(service, "sturdy-shop")


def test_nul_bytes_and_far_dates_are_422(service: Service, biz: Business) -> None:
    r = service.call("POST", f"/v1/public/{biz.slug}/bookings", json={
        "service_id": biz.service_id, "staff_id": biz.staff_id, "start": "2026-01-06T10:00:00+01:00",
        "customer": {"name": "Nul\x00Byte", "email": "n@example.com"}})
    assert r.status_code == 422
    assert "cannot be stored" in r.json()["detail"]
    far = book(service, biz, "9999-12-31T23:30:00+00:00")
    assert far.status_code == 422
    assert "outside the years" in far.json()["detail"]
    slots = service.call("GET", f"/v1/public/{biz.slug}/services/{biz.service_id}/slots",
                         params={"from": "9999-12-30", "to": "9999-12-31", "tz": "Pacific/Kiritimati"})
    assert slots.status_code == 422
    staff = service.call("POST", "/v1/staff", biz.token, json={"name": "x\x00", "timezone": "UTC"})
    assert staff.status_code == 422


def test_every_documented_path_answers_garbage_with_4xx(service: Service, biz: Business) -> None:
    spec = service.call("GET", "/openapi.json").json()
    garbage = {"slug": "Not A Slug!", "service_id": "not-a-uuid", "staff_id": "00000000-0000-0000-0000-000000000000",
               "booking_id": "%00"}
    for path, methods in spec["paths"].items():
        concrete = path
        for name, value in garbage.items():
            concrete = concrete.replace("{" + name + "}", value)
        for method in methods:
            for token in (None, biz.token):
                r = service.call(method.upper(), concrete, token, data=b"\x00{not json",
                                 headers={"Content-Type": "application/json"})
                assert r.status_code < 500, f"{method.upper()} {concrete} -> {r.status_code} {r.text[:200]}"


@pytest.mark.parametrize("path", ["/favicon.ico", "/Not%20A%20Slug", "/a", "/" + "x" * 300])
def test_pages_for_impossible_slugs_are_404(service: Service, path: str) -> None:
    assert service.call("GET", path).status_code == 404


def test_submitting_the_booking_form_twice_books_once(service: Service) -> None:
    shop = make_business(service, "double-click")
    form = service.call("GET", f"/{shop.slug}/book", params={
        "service_id": shop.service_id, "staff_id": shop.staff_id, "start": "2026-01-07T09:00:00+01:00",
        "tz": "Europe/Berlin"}).text
    key = form.split('name="idempotency_key" value="')[1].split('"')[0]
    fields = {"service_id": shop.service_id, "staff_id": shop.staff_id, "start": "2026-01-07T09:00:00+01:00",
              "tz": "Europe/Berlin", "idempotency_key": key, "name": "Dana", "email": "dana@example.com"}
    first = service.call("POST", f"/{shop.slug}/book", data=fields)
    again = service.call("POST", f"/{shop.slug}/book", data=fields)
    assert first.status_code == 201
    assert again.status_code == 201
    assert "You are booked" in again.text
    assert len(service.call("GET", "/v1/bookings", shop.token).json()["bookings"]) == 1
