"""Fixtures: one embedded PostgreSQL per test session, a fresh database per module, real uvicorn servers."""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
import uvicorn
from booking import migrate
from booking.app import create_app
from booking.embedded import start_cluster
from booking.provision import DatabaseUrls, provision
from booking.settings import Settings
from psycopg import sql

SECRET = "test-secret-key-0123456789abcdefghijklmnop"
PASSWORD = "correct horse battery staple"


@dataclass
class Cluster:
    """The session's PostgreSQL: an admin URL and a migrated template database."""

    admin_url: str
    template: str
    urls: DatabaseUrls

    def fresh_database(self, name: str) -> DatabaseUrls:
        """A new database cloned from the migrated template (much faster than migrating again)."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER booking_owner").format(
                sql.Identifier(name), sql.Identifier(self.template)))
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO booking_app").format(sql.Identifier(name)))
        return DatabaseUrls(owner_url=self.urls.owner_url.replace(f"/{self.template}?", f"/{name}?"),
                            app_url=self.urls.app_url.replace(f"/{self.template}?", f"/{name}?"))


@contextmanager
def pg_dir() -> Iterator[Path]:
    """A data directory PostgreSQL's unprivileged user can reach.

    Not under pytest's tmp_path: pytest resets /tmp/pytest-of-root to mode 0700 whenever any pytest run
    starts (other suites run in parallel on this machine), which locks the database user out.
    """
    path = Path(tempfile.mkdtemp(prefix="booking-test-pg-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def pg_data_dir() -> Iterator[Path]:
    """A fresh directory for a test's own embedded PostgreSQL."""
    with pg_dir() as path:
        yield path


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """One embedded cluster for the whole run (starting one takes about a second)."""
    with pg_dir() as data:
        server = start_cluster(data, stop_at_exit=True)
        urls = provision(server.get_uri(), database="booking_template")
        migrate.upgrade(urls.owner_url)
        yield Cluster(admin_url=server.get_uri(), template="booking_template", urls=urls)
        server.cleanup()


@pytest.fixture(scope="module")
def db(cluster: Cluster, request: pytest.FixtureRequest) -> DatabaseUrls:
    """A migrated database for this test module."""
    name = "t_" + request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")[:40] + "_" + uuid.uuid4().hex[:6]
    return cluster.fresh_database(name)


@dataclass
class Clock:
    """A settable clock for the service (slots depend on 'now')."""

    now: datetime = field(default_factory=lambda: datetime(2026, 1, 5, 0, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now


class Server:
    """A real uvicorn server on an ephemeral port, running one app in a thread."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on",
                                                    proxy_headers=False, timeout_graceful_shutdown=2))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@dataclass
class Service:
    """A running booking service plus helpers to call it."""

    url: str
    clock: Clock
    db: DatabaseUrls
    server: Server
    app: Any

    def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> requests.Response:
        headers = dict(kw.pop("headers", {}) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kw)

    def signup(self, slug: str, tz: str = "Europe/Berlin", residency: str = "us") -> dict[str, Any]:
        r = self.call("POST", "/v1/signup", json={
            "tenant": {"slug": slug, "name": slug.title(), "residency": residency, "timezone": tz},
            "owner": {"email": f"owner@{slug}.example", "password": PASSWORD}})
        assert r.status_code == 201, r.text
        return r.json()


def start_service(db: DatabaseUrls, *, cell: str = "us", cell_urls: dict[str, str] | None = None,
                  clock: Clock | None = None, fetch_ics: Callable[[str], bytes] | None = None,
                  server: Server | None = None, throttle: Any = None, keys: Any = None, revoke: Any = None,
                  image_store: Any = None, anonymous: Any = None, send_mail: Any = None,
                  **settings: Any) -> Service:
    """Start the booking service for `db` in a real uvicorn server."""
    clock = clock or Clock()

    def build(urls: dict[str, str]) -> Any:
        # the tests' customers all come from 127.0.0.1: the per-address limit has its own tests
        settings.setdefault("public_rate_burst", 1_000_000)
        s = Settings(database_url=db.app_url, secret_key=SECRET, cell=cell, cell_urls=urls, **settings)
        kwargs: dict[str, Any] = {"clock": clock}
        if fetch_ics is not None:
            kwargs["fetch_ics"] = fetch_ics
        for name, value in (("throttle", throttle), ("keys", keys), ("revoke", revoke), ("image_store", image_store),
                            ("anonymous", anonymous), ("send_mail", send_mail)):
            if value is not None:
                kwargs[name] = value
        return create_app(s, **kwargs)

    # The server's own URL is only known after binding, and the app needs it in CELL_URLS.
    server = server or Server(None)
    urls = dict(cell_urls or {})
    urls[cell] = server.url
    app = build(urls)
    server.server.config.app = app
    server.start()
    return Service(url=server.url, clock=clock, db=db, server=server, app=app)


@pytest.fixture(scope="module")
def service(db: DatabaseUrls) -> Iterator[Service]:
    """The booking service (cell us) on this module's database."""
    svc = start_service(db)
    yield svc
    svc.server.stop()


def set_plan(svc: Service, tenant_id: str, plan: str) -> dict[str, Any]:
    """What `booking tenant plan` does (an operator's command), on the running service's pool and key store."""
    from booking.plans import change_plan

    ctx = svc.app.state.ctx
    return change_plan(ctx.pool, ctx.keys, ctx.revoke, uuid.UUID(tenant_id), plan, actor="system:cli")


def as_app(db: DatabaseUrls) -> psycopg.Connection[Any]:
    """A raw connection as the service role."""
    return psycopg.connect(db.app_url, autocommit=True)


@pytest.fixture
def artifacts_dir() -> Path:
    """tests/artifacts (gitignored): where the browser test keeps its screenshot."""
    path = Path(__file__).resolve().parents[1] / "artifacts"
    path.mkdir(exist_ok=True)
    return path


WEEKDAYS_9_TO_5 = {d: [["09:00", "17:00"]] for d in ("monday", "tuesday", "wednesday", "thursday", "friday")}


@dataclass
class Business:
    """A signed-up tenant with one staff member and one service."""

    slug: str
    token: str
    tenant_id: str
    staff_id: str
    service_id: str


def make_business(svc: Service, slug: str, *, tz: str = "Europe/Berlin", weekly: dict[str, Any] | None = None,
                  overrides: list[dict[str, Any]] | None = None, **service: Any) -> Business:
    """Signup, one staff member in `tz` with `weekly` hours, one service (30 min unless overridden)."""
    signed = svc.signup(slug, tz=tz)
    token = signed["access_token"]
    staff = svc.call("POST", "/v1/staff", token, json={"name": "Alex", "timezone": tz})
    assert staff.status_code == 201, staff.text
    r = svc.call("PUT", f"/v1/staff/{staff.json()['id']}/availability", token,
                 json={"weekly": WEEKDAYS_9_TO_5 if weekly is None else weekly, "overrides": overrides or []})
    assert r.status_code == 200, r.text
    body = {"name": "Consultation", "duration_minutes": 30, "buffer_before_minutes": 0,
            "buffer_after_minutes": 0, "horizon_days": 3650, "staff_ids": [staff.json()["id"]], **service}
    created = svc.call("POST", "/v1/services", token, json=body)
    assert created.status_code == 201, created.text
    return Business(slug=slug, token=token, tenant_id=signed["tenant"]["id"], staff_id=staff.json()["id"],
                    service_id=created.json()["id"])


def book(svc: Service, biz: Business, start: str, *, key: str | None = None, email: str = "c@example.com",
         **extra: Any) -> requests.Response:
    """POST a public booking."""
    headers = {"Idempotency-Key": key} if key else {}
    body = {"service_id": biz.service_id, "staff_id": biz.staff_id, "start": start,
            "customer": {"name": "Casey Customer", "email": email, "phone": "+1 555 0100"}, "answers": {}, **extra}
    return svc.call("POST", f"/v1/public/{biz.slug}/bookings", json=body, headers=headers)
