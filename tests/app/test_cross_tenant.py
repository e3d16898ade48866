"""Every path of /openapi.json with an id, tried with tenant A's ids as tenant B, finds nothing of A's.

The walk is driven by the live schema: a new endpoint with an id parameter is covered automatically, and an
id parameter this file does not know how to fill fails the suite (add it to OBJECTS below).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from booking.images import LocalImageStore
from booking.provision import DatabaseUrls
from booking.secrets.keystore import LocalKeyStore

from tests.app.conftest import Business, Service, book, make_business, set_plan, start_service
from tests.app.test_images import png

# Bodies valid in shape, so a request gets past validation and reaches the tenant-scoped lookup.
BODIES: dict[tuple[str, str], Any] = {
    ("put", "/v1/staff/{staff_id}/availability"): {"weekly": {}, "overrides": []},
    ("put", "/v1/staff/{staff_id}/calendar"): {"url": "http://127.0.0.1:9/busy.ics"},
    ("post", "/v1/bookings/{booking_id}/reschedule"): {"start": "2026-01-07T11:00:00+01:00"},
    ("patch", "/v1/users/{user_id}"): {"role": "owner"},
}


@pytest.fixture(scope="module")
def svc(db: DatabaseUrls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    keys = LocalKeyStore(tmp_path_factory.mktemp("keys"))
    s = start_service(db, keys=keys, revoke=lambda provider, token: "no_endpoint")
    s.app.state.ctx.images = LocalImageStore(Path(tmp_path_factory.mktemp("images")), s.url)
    yield s
    s.server.stop()


def full_tenant(svc: Service, slug: str) -> tuple[Business, dict[str, str]]:
    """A tenant owning one object of every kind that has an id in the API."""
    biz = make_business(svc, slug)
    set_plan(svc, biz.tenant_id, "pro")
    booked = book(svc, biz, "2026-01-06T10:00:00+01:00", email=f"someone@{slug}.example")
    assert booked.status_code == 201, booked.text
    customer = svc.call("GET", "/v1/customers", biz.token, params={"email": f"someone@{slug}.example"})
    pat = svc.call("POST", "/v1/tokens", biz.token, json={"name": "n", "scopes": ["bookings:read"]}).json()
    client = svc.call("POST", "/v1/oauth/clients", biz.token, json={"name": "n", "scopes": ["bookings:read"]}).json()
    integration = svc.call("POST", "/v1/integrations", biz.token, json={"provider": "google", "refresh_token": "t"})
    data = png(2)
    image = svc.call("POST", "/v1/images", biz.token, json={"kind": "logo", "content_type": "image/png",
                                                             "size": len(data)}).json()
    svc.call("PUT", f"/v1/images/{image['id']}/content", biz.token, data=data,
             headers={"Content-Type": "image/png"})
    assert svc.call("POST", f"/v1/images/{image['id']}/complete", biz.token).status_code == 200
    member = svc.call("POST", "/v1/users", biz.token, json={"email": f"member@{slug}.example", "role": "staff",
                                                            "staff_id": biz.staff_id})
    assert member.status_code == 201, member.text
    ids = {"user_id": member.json()["id"], "staff_id": biz.staff_id, "service_id": biz.service_id,
           "booking_id": booked.json()["id"],
           "customer_id": customer.json()["customers"][0]["id"], "token_id": pat["id"], "client_id": client["id"],
           "integration_id": integration.json()["id"], "image_id": image["id"]}
    return biz, ids


def intact(svc: Service, biz: Business, ids: dict[str, str]) -> None:
    """Tenant A's objects are all still there and unchanged."""
    token = biz.token
    assert svc.call("GET", f"/v1/staff/{ids['staff_id']}", token).json()["weekly"]["monday"] == [["09:00", "17:00"]]
    assert svc.call("GET", f"/v1/services/{ids['service_id']}", token).status_code == 200
    booking = svc.call("GET", f"/v1/bookings/{ids['booking_id']}", token).json()
    assert booking["status"] == "confirmed"
    assert booking["start"] == "2026-01-06T09:00:00+00:00"
    assert svc.call("GET", f"/v1/customers/{ids['customer_id']}/export", token).status_code == 200
    assert ids["token_id"] in {t["id"] for t in svc.call("GET", "/v1/tokens", token).json()["tokens"]}
    assert ids["client_id"] in {c["id"] for c in svc.call("GET", "/v1/oauth/clients", token).json()["clients"]}
    assert [i["id"] for i in svc.call("GET", "/v1/integrations", token).json()["integrations"]] == [
        ids["integration_id"]]
    assert svc.call("GET", f"/v1/images/{ids['image_id']}", token).status_code == 200
    members = {u["id"]: u for u in svc.call("GET", "/v1/users", token).json()["users"]}
    assert members[ids["user_id"]]["role"] == "staff"


def test_tenant_b_reaches_none_of_tenant_a_objects_on_any_path_with_an_id(svc: Service) -> None:
    a, a_ids = full_tenant(svc, "walk-alpha")
    b, _ = full_tenant(svc, "walk-beta")
    spec = svc.call("GET", "/openapi.json").json()
    tried = 0
    for path, methods in spec["paths"].items():
        params = re.findall(r"{(\w+)}", path)
        if not any(p != "slug" for p in params):
            continue
        unknown = [p for p in params if p != "slug" and p not in a_ids]
        assert not unknown, f"{path}: no object of tenant A for {unknown}; extend full_tenant()"
        concrete = path.replace("{slug}", b.slug)
        for name in params:
            concrete = concrete.replace("{" + name + "}", a_ids.get(name, ""))
        for method in methods:
            body = BODIES.get((method, path))
            r = svc.call(method.upper(), concrete, b.token, json=body,
                         params={"from": "2026-01-06", "to": "2026-01-07", "token": "x"})
            tried += 1
            assert r.status_code in (403, 404, 422), f"{method.upper()} {path} as B -> {r.status_code} {r.text[:200]}"
            for value in a_ids.values():  # an error may echo the id it was sent, but no other of A's
                assert value in concrete or value not in r.text, f"{method.upper()} {path} leaked an id of A"
            assert "walk-alpha" not in r.text
            assert "someone@walk-alpha" not in r.text
    assert tried >= 15, f"only {tried} requests: the walk would prove little"
    intact(svc, a, a_ids)
