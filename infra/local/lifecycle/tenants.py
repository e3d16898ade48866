"""Tenants the local stack creates through the booking service's public HTTP API.

The demo tenant of each cell (made by the booking CLI) is what a new user clicks through; drill tenants (open around the
clock, 5-minute slots) give the drills' write load thousands of distinct slots to book.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from infra.errors import SlotstackError
from infra.local.lifecycle import services

ZONES = {"us": "America/New_York", "eu": "Europe/Berlin", "au": "Australia/Sydney"}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Tenant:
    """What a client needs to book with a tenant: its slug, a service and the staff offering it."""

    slug: str
    service_id: str
    staff_ids: tuple[str, ...]
    token: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"slug": self.slug, "service_id": self.service_id, "staff_ids": list(self.staff_ids)}


def _call(session: requests.Session, method: str, url: str, expect: int, **kw: Any) -> Any:
    try:
        resp = session.request(method, url, timeout=15, **kw)
    except requests.RequestException as exc:
        raise SlotstackError(f"{method} {url} failed: {exc}; is the booking service running?") from None
    if resp.status_code != expect:
        raise SlotstackError(f"{method} {url} answered {resp.status_code} (expected {expect}): {resp.text[:300]}")
    return resp.json() if resp.content else None


def existing(base_url: str, slug: str) -> Tenant | None:
    """The tenant's first service and its staff, read from the public API; None if the slug is unknown."""
    try:
        resp = requests.get(f"{base_url}/v1/public/{slug}/services", timeout=15)
    except requests.RequestException as exc:
        raise SlotstackError(f"GET {base_url}/v1/public/{slug}/services failed: {exc}; is the booking service "
                             "running?") from None
    if resp.status_code in (404, 421):
        return None
    if resp.status_code != 200:
        raise SlotstackError(f"GET {base_url}/v1/public/{slug}/services answered {resp.status_code}: {resp.text[:300]}")
    services = resp.json()["services"]
    if not services:
        return None
    return Tenant(slug, services[0]["id"], tuple(services[0]["staff_ids"]))


def create(base_url: str, *, slug: str, name: str, residency: str, password: str, staff: list[str],
           weekly: dict[str, list[list[str]]], service: dict[str, Any]) -> Tenant:
    """Sign up a tenant with `staff` (all working `weekly`) offering one `service`; idempotent by slug."""
    found = existing(base_url, slug)
    if found is not None:
        return found
    zone = ZONES.get(residency, "UTC")
    session = requests.Session()
    signup = _call(session, "POST", f"{base_url}/v1/signup", 201, json={
        "tenant": {"slug": slug, "name": name, "residency": residency, "timezone": zone},
        "owner": {"email": f"owner@{slug}.example.com", "password": password}})
    token = signup["access_token"]
    session.headers["Authorization"] = f"Bearer {token}"
    staff_ids = []
    for person in staff:
        created = _call(session, "POST", f"{base_url}/v1/staff", 201, json={"name": person, "timezone": zone})
        _call(session, "PUT", f"{base_url}/v1/staff/{created['id']}/availability", 200,
              json={"weekly": weekly, "overrides": []})
        staff_ids.append(created["id"])
    made = _call(session, "POST", f"{base_url}/v1/services", 201, json={**service, "staff_ids": staff_ids})
    return Tenant(slug, made["id"], tuple(staff_ids), token)


def demo(base_url: str, cell: str, residency: str, password: str, *, env: dict[str, str], log: Path) -> Tenant:
    """`demo-<cell>`, made by `booking create-tenant --demo`: what a new user clicks through first."""
    slug = f"demo-{cell}"
    found = existing(base_url, slug)
    if found is None:
        services.create_tenant(residency, slug=slug, name=f"Demo Studio ({cell.upper()})",
                               timezone=ZONES.get(residency, "UTC"), password=password, env=env, log=log)
        found = existing(base_url, slug)
    if found is None:
        raise SlotstackError(f"cell {cell}: `booking create-tenant {slug}` succeeded but {base_url} does not "
                             f"show its services; see {log}")
    return found


def drill(base_url: str, cell: str, residency: str, password: str, suffix: str = "") -> Tenant:
    """`drill-<cell>`: open around the clock with 5-minute slots for ten years, for write loads."""
    slug = f"drill-{cell}{suffix}"
    return create(base_url, slug=slug, name=f"Drill Load ({cell.upper()})", residency=residency,
                  password=password, staff=[f"Desk {n}" for n in range(1, 5)],
                  weekly={day: [["00:00", "24:00"]] for day in WEEKDAYS},
                  service={"name": "Drill slot", "duration_minutes": 5, "horizon_days": 3650})
