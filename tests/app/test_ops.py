"""Operations: health, readiness, metrics, OpenAPI, and JSON logs without personal data."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from booking import migrate
from booking.observability import JsonFormatter
from booking.provision import DatabaseUrls, provision

from tests.app.conftest import Cluster, Service, book, make_business, start_service


def test_healthz_and_readyz(service: Service) -> None:
    assert service.call("GET", "/healthz").json()["status"] == "ok"
    r = service.call("GET", "/readyz")
    assert r.status_code == 200
    assert r.json()["schema"] == migrate.head_revision()


def test_readyz_is_503_when_the_schema_is_not_migrated(cluster: Cluster) -> None:
    urls = provision(cluster.admin_url, database="never_migrated")
    svc = start_service(urls)
    try:
        r = svc.call("GET", "/readyz")
        assert r.status_code == 503
        assert "run `booking migrate`" in r.json()["detail"]
        assert svc.call("GET", "/healthz").status_code == 200
    finally:
        svc.server.stop()


def test_readyz_is_503_when_the_database_is_unreachable(tmp_path: object) -> None:
    gone = f"postgresql://booking_app@/booking?host={tmp_path}&connect_timeout=1"
    svc = start_service(DatabaseUrls(owner_url=gone, app_url=gone), pool_timeout_s=1.0)
    try:
        r = svc.call("GET", "/readyz")
        assert r.status_code == 503
        assert "database unreachable" in r.json()["detail"]
        r = svc.call("GET", "/v1/public/anyone/services")
        assert r.status_code == 503
        assert r.headers["Retry-After"] == "2"
    finally:
        svc.server.stop()


def test_metrics_count_requests_bookings_conflicts_and_pool(service: Service) -> None:
    biz = make_business(service, "metrics-shop")
    assert book(service, biz, "2026-01-06T10:00:00+01:00").status_code == 201
    assert book(service, biz, "2026-01-06T10:00:00+01:00").status_code == 409
    text = service.call("GET", "/metrics").text
    assert 'booking_http_requests_total{method="POST",route="/v1/public/{slug}/bookings",status="201"} 1.0' in text
    assert 'booking_http_requests_total{method="POST",route="/v1/public/{slug}/bookings",status="409"} 1.0' in text
    assert "booking_bookings_created_total 1.0" in text
    assert 'booking_booking_conflicts_total{reason="overlap"} 1.0' in text
    assert 'booking_db_pool_connections{state="max"} 20.0' in text
    assert "booking_http_request_duration_seconds_bucket" in text


def test_openapi_documents_the_contract(service: Service) -> None:
    spec = service.call("GET", "/openapi.json").json()
    for path in ("/v1/signup", "/v1/staff", "/v1/staff/{staff_id}/availability", "/v1/services",
                 "/v1/staff/{staff_id}/calendar", "/v1/public/{slug}/services/{service_id}/slots",
                 "/v1/public/{slug}/bookings", "/v1/bookings", "/v1/bookings/{booking_id}/cancel",
                 "/v1/bookings/{booking_id}/reschedule", "/healthz", "/readyz"):
        assert path in spec["paths"], path


@pytest.fixture
def access_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("booking.access")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(old)


def test_logs_are_json_with_request_and_tenant_id_and_no_personal_data(service: Service,
                                                                       access_log: io.StringIO) -> None:
    biz = make_business(service, "log-shop")
    r = service.call("POST", f"/v1/public/{biz.slug}/bookings", headers={"X-Request-ID": "req-12345678"}, json={
        "service_id": biz.service_id, "staff_id": biz.staff_id, "start": "2026-01-07T10:00:00+01:00",
        "customer": {"name": "Zelda Quartermaine", "email": "zelda.q@private.example", "phone": "+49 151 9876543"}})
    assert r.status_code == 201
    assert r.headers["X-Request-ID"] == "req-12345678"
    lines = [json.loads(line) for line in access_log.getvalue().splitlines()]
    entry = next(e for e in lines if e.get("request_id") == "req-12345678")
    assert entry["tenant_id"] == biz.tenant_id
    assert entry["route"] == "/v1/public/{slug}/bookings"
    assert entry["status"] == 201
    raw = access_log.getvalue()
    for secret in ("Zelda", "Quartermaine", "zelda.q", "9876543", "owner@log-shop"):
        assert secret not in raw
