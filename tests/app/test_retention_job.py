"""The service applies the tenants' retention by itself, daily, and tells the monitor's heartbeat."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from booking.db import make_pool
from booking.provision import DatabaseUrls
from booking.retention_job import LOCK, RetentionJob, ping_heartbeat

from tests.app.conftest import Service, book, make_business, start_service


@pytest.fixture(scope="module")
def svc(db: DatabaseUrls) -> Iterator[Service]:
    s = start_service(db)
    yield s
    s.server.stop()


@pytest.fixture
def pool(svc: Service) -> Iterator[Any]:
    p = make_pool(svc.db.app_url, min_size=1, max_size=3)
    p.open(wait=True)
    yield p
    p.close()


def test_the_service_erases_old_bookings_on_its_own_and_pings_the_heartbeat(svc: Service, pool: Any) -> None:
    shop = make_business(svc, "daily-retention")
    assert book(svc, shop, "2026-01-06T10:00:00+01:00", email="old@example.com").status_code == 201
    assert svc.call("PUT", "/v1/tenant/retention", shop.token, json={"days": 30}).status_code == 200
    pings: list[str | None] = []
    pinged = threading.Event()

    def ping(url: str | None) -> None:
        pings.append(url)
        pinged.set()

    later = svc.clock.now + timedelta(days=45)
    job = RetentionJob(pool, "us", lambda: later, every_s=0.2, heartbeat_url="http://monitor.test/ping/x", ping=ping)
    job.start()
    try:
        assert pinged.wait(30), "no retention run within 30 s at a 0.2 s interval"
    finally:
        job.stop()
    assert pings[0] == "http://monitor.test/ping/x"
    left = svc.call("GET", "/v1/bookings", shop.token).json()["bookings"]
    assert left == [], "the booking older than the tenant's 30 days is still there"


def test_a_run_already_under_way_elsewhere_is_not_started_twice(svc: Service, pool: Any) -> None:
    pings: list[str | None] = []
    job = RetentionJob(pool, "us", lambda: svc.clock.now, every_s=3600, heartbeat_url="u", ping=pings.append)
    with pool.connection() as other:  # another process holding the lock: it is running retention now
        other.execute("SELECT pg_advisory_lock(%s)", (LOCK,))
        try:
            assert job.run_once() is None
        finally:
            other.execute("SELECT pg_advisory_unlock(%s)", (LOCK,))
            other.commit()
    assert pings == [], "a run that did not happen must not report success"
    assert job.run_once() is not None
    assert pings == ["u"]


def test_the_heartbeat_is_a_post_to_the_monitor() -> None:
    received: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append((self.command, self.path))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        ping_heartbeat(f"http://127.0.0.1:{server.server_address[1]}/ping/retention.abc")
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        server.shutdown()
        server.server_close()
    assert received == [("POST", "/ping/retention.abc")]
