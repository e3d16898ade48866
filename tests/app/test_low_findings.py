"""Issue 16, finding 6: the low findings, one test each."""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from booking.auth.passwords import check_password
from booking.commands import main as cli
from booking.errors import ApiError
from booking.provision import DatabaseUrls

from tests.app.conftest import PASSWORD, Clock, Service, make_business, start_service


@pytest.fixture(scope="module")
def svc(db: DatabaseUrls) -> Iterator[Service]:
    s = start_service(db, clock=Clock())
    yield s
    s.server.stop()


def test_a_slug_or_email_with_a_trailing_newline_is_refused(svc: Service) -> None:
    for tenant, owner in (({"slug": "newline\n"}, {}), ({"slug": "newline-email"}, {"email": "o@x.example\n"})):
        r = svc.call("POST", "/v1/signup", json={
            "tenant": {"name": "N", "residency": "us", "timezone": "UTC", **tenant},
            "owner": {"email": "o@newline.example", "password": PASSWORD, **owner}})
        assert r.status_code == 422, r.text
    svc.signup("newline-shop")
    assert svc.call("GET", "/v1/public/newline-shop%0A/services").status_code == 404


@pytest.mark.parametrize("password", ["1qaz2wsx3edc4rfv", "abcdefghijklmnop", "123451234512345"])
def test_keyboard_walks_sequences_and_repeats_are_refused(password: str) -> None:
    with pytest.raises(ApiError, match="too easy to guess"):
        check_password(password)


def test_the_signup_token_expires_and_ends_with_a_password_change(svc: Service) -> None:
    token = svc.signup("token-life")["access_token"]
    assert svc.call("GET", "/v1/tenant", token).status_code == 200
    svc.clock.now += timedelta(days=30, seconds=1)
    expired = svc.call("GET", "/v1/tenant", token)
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]
    svc.clock.now -= timedelta(days=30, seconds=1)
    changed = svc.call("PUT", "/v1/account/password", token, json={
        "current_password": PASSWORD, "new_password": "another entirely different passphrase"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["tokens_ended"] == 1
    assert svc.call("GET", "/v1/tenant", token).status_code == 401


def test_log_out_everywhere_and_totp_enrolment_end_the_signup_token(svc: Service) -> None:
    token = svc.signup("token-logout")["access_token"]
    assert svc.call("POST", "/v1/account/logout-all", token).json()["tokens_ended"] == 1
    assert svc.call("GET", "/v1/tenant", token).status_code == 401
    token = svc.signup("token-totp")["access_token"]
    secret = svc.call("POST", "/v1/account/totp", token).json()["secret"]
    confirmed = svc.call("POST", "/v1/account/totp/confirm", token, json={"code": pyotp.TOTP(secret).at(svc.clock.now)})
    assert confirmed.status_code == 200
    assert svc.call("GET", "/v1/tenant", token).status_code == 401


def test_answers_nested_500_deep_are_a_422_not_a_500(svc: Service) -> None:
    biz = make_business(svc, "deep-answers")
    nested: Any = "x"
    for _ in range(500):
        nested = [nested]
    body = {"service_id": biz.service_id, "staff_id": biz.staff_id, "start": "2026-01-06T10:00:00+01:00",
            "customer": {"name": "C", "email": "c@example.com"}, "answers": {"q": nested}}
    r = svc.call("POST", f"/v1/public/{biz.slug}/bookings", json=body)
    assert r.status_code == 422, r.text
    assert "x" not in json.dumps(r.json()["detail"]).replace("x_", ""), "the input is not echoed back"


def _raw(svc: Service, request: bytes) -> bytes:
    host, port = svc.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        return sock.recv(4096)


def test_a_large_body_is_refused_from_its_length_before_authentication_reads_it(svc: Service) -> None:
    # 1 GB announced, 0 bytes sent: the answer comes at once, without the service waiting for (or reading) any
    answer = _raw(svc, b"POST /v1/staff HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Content-Length: 1000000000\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"larger than 65536 bytes" in answer
    chunked = svc.call("POST", "/v1/staff", data=iter([b"{" + b" " * 70_000 + b"}"]),
                       headers={"Content-Type": "application/json"})
    assert chunked.status_code == 413


def test_metrics_are_not_served_through_the_gateway(db: DatabaseUrls) -> None:
    inside = start_service(db)
    behind = start_service(db, trusted_proxies=(ipaddress.ip_network("127.0.0.0/8"),))
    try:
        assert inside.call("GET", "/metrics").status_code == 200  # the scraper inside the cell
        assert behind.call("GET", "/metrics").status_code == 404  # the same request through the gateway
    finally:
        inside.server.stop()
        behind.server.stop()


def test_a_tenant_cannot_change_its_own_plan_an_operator_can(svc: Service, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    signed = svc.call("POST", "/v1/signup", json={
        "tenant": {"slug": "free-rider", "name": "F", "residency": "us", "timezone": "UTC", "plan": "pro"},
        "owner": {"email": "o@free-rider.example", "password": PASSWORD}}).json()
    assert signed["tenant"]["plan"] == "free"
    token = signed["access_token"]
    assert svc.call("PUT", "/v1/tenant/plan", token, json={"plan": "pro"}).status_code in (404, 405)
    refused = svc.call("POST", "/v1/integrations", token, json={"provider": "google", "refresh_token": "t"})
    assert refused.status_code in (403, 503)
    monkeypatch.setenv("DATABASE_URL", svc.db.app_url)
    monkeypatch.setenv("CELL", "us")
    monkeypatch.delenv("KEY_DIR", raising=False)
    assert cli.main(["tenant", "plan", "--slug", "free-rider", "--plan", "pro"]) == 0
    assert json.loads(capsys.readouterr().out)["tenant"]["plan"] == "pro"
    assert svc.call("GET", "/v1/tenant", token).json()["plan"] == "pro"
