"""Issue 16, finding 4: sign-in throttling by the real client address, and delays instead of lock-outs."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from booking.clientaddr import parse_entry
from booking.provision import DatabaseUrls
from booking.settings import Settings, SettingsError

from tests.app.conftest import PASSWORD, Clock, Service, as_app, start_service

GATEWAY_SUBNET = (ipaddress.ip_network("127.0.0.0/8"),)  # in these tests the gateway is this machine


@pytest.fixture(scope="module")
def behind_gateway(db: DatabaseUrls) -> Iterator[Service]:
    s = start_service(db, clock=Clock(), trusted_proxies=GATEWAY_SUBNET)
    yield s
    s.server.stop()


@pytest.fixture(scope="module")
def direct(db: DatabaseUrls) -> Iterator[Service]:
    s = start_service(db, clock=Clock())
    yield s
    s.server.stop()


def login(svc: Service, slug: str, password: str = PASSWORD, client: str | None = None,
          email: str | None = None) -> requests.Response:
    # what Application Gateway sends: the client's own (forgeable) header, then the address it saw, as IP:port
    headers = {"X-Forwarded-For": f"10.9.9.9, {client}"} if client else {}
    return svc.call("POST", "/v1/login", headers=headers, json={
        "slug": slug, "email": email or f"owner@{slug}.example", "password": password})


def last_address(svc: Service, tenant_id: str) -> str:
    with as_app(svc.db) as conn, conn.transaction():
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (tenant_id,))
        row = conn.execute("SELECT address FROM audit_events ORDER BY id DESC LIMIT 1").fetchone()
    assert row is not None
    return str(row[0])


@pytest.mark.parametrize(("entry", "address"), [
    ("203.0.113.7:51234", "203.0.113.7"), ("203.0.113.7", "203.0.113.7"), ("[2001:db8::1]:443", "2001:db8::1"),
    ("2001:db8::1", "2001:db8::1"), (" 198.51.100.2:1 ", "198.51.100.2"), ("unknown", None), ("1.2.3.4:5:6", None)])
def test_an_x_forwarded_for_entry_is_read_with_or_without_a_port(entry: str, address: str | None) -> None:
    assert parse_entry(entry) == address


def test_trusted_proxies_come_from_the_environment_and_a_bad_one_is_named() -> None:
    env = {"DATABASE_URL": "postgresql://x/y", "SECRET_KEY": "k" * 32, "TRUSTED_PROXIES": "10.16.0.0/24, 10.17.0.0/24"}
    assert [str(n) for n in Settings.from_env(env).trusted_proxies] == ["10.16.0.0/24", "10.17.0.0/24"]
    with pytest.raises(SettingsError, match=r"TRUSTED_PROXIES has '10\.16\.0\.300/24'"):
        Settings.from_env({**env, "TRUSTED_PROXIES": "10.16.0.300/24"})


def test_the_gateway_s_entry_is_the_client_and_the_client_s_own_entries_are_not(behind_gateway: Service) -> None:
    tenant = behind_gateway.signup("xff-shop")["tenant"]["id"]
    assert login(behind_gateway, "xff-shop", client="203.0.113.7:51234").status_code == 200
    assert last_address(behind_gateway, tenant) == "203.0.113.7"


def test_without_a_trusted_gateway_the_header_is_ignored(direct: Service) -> None:
    tenant = direct.signup("spoof-shop")["tenant"]["id"]
    assert login(direct, "spoof-shop", client="203.0.113.7:51234").status_code == 200
    assert last_address(direct, tenant) == "127.0.0.1"


def test_one_address_failing_thirty_times_does_not_block_the_rest_of_the_cell(behind_gateway: Service) -> None:
    behind_gateway.signup("busy-cell")
    for i in range(30):  # a spray from one real address, one guess per account
        r = login(behind_gateway, "busy-cell", "wrong", client="203.0.113.66:4000", email=f"u{i}@busy.example")
        assert r.status_code == 401, r.text
    refused = login(behind_gateway, "busy-cell", client="203.0.113.66:4001")
    assert refused.status_code == 429
    assert "address" in refused.json()["detail"]
    assert login(behind_gateway, "busy-cell", client="198.51.100.9:4444").status_code == 200


def test_wrong_passwords_slow_the_account_down_but_never_lock_the_owner_out(behind_gateway: Service) -> None:
    svc = behind_gateway
    svc.clock.now += timedelta(days=2)
    svc.signup("owner-not-locked")
    waits = []
    for _ in range(8):  # a guesser elsewhere; each attempt waits out the delay before it
        r = login(svc, "owner-not-locked", "wrong guess", client="192.0.2.1:1")
        if r.status_code == 429:
            waits.append(int(r.headers["Retry-After"]))
            svc.clock.now += timedelta(seconds=waits[-1])
            r = login(svc, "owner-not-locked", "wrong guess", client="192.0.2.1:1")
        assert r.status_code == 401, r.text
    assert waits == [1, 2, 4, 8, 16], "the delay doubles with every wrong attempt after the third"
    mine = login(svc, "owner-not-locked", client="198.51.100.20:2")
    assert mine.status_code == 429
    svc.clock.now += timedelta(seconds=int(mine.headers["Retry-After"]))
    assert login(svc, "owner-not-locked", client="198.51.100.20:2").status_code == 200


def test_every_password_check_is_throttled(behind_gateway: Service) -> None:
    svc = behind_gateway
    svc.clock.now += timedelta(days=2)
    token = svc.signup("pw-oracle")["access_token"]

    def change(current: str) -> Any:
        return svc.call("PUT", "/v1/account/password", token, headers={"X-Forwarded-For": "192.0.2.50:9"},
                        json={"current_password": current, "new_password": "a completely new passphrase here"})

    for _ in range(3):
        assert change("not my password").status_code == 403
    throttled = change(PASSWORD)
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "1"
    assert login(svc, "pw-oracle").status_code == 429, "sign-in and password change share the account's count"
    disable = svc.call("POST", "/v1/account/totp/disable", token, json={"code": "000000", "password": "guess"})
    assert disable.status_code in (409, 429)  # TOTP is off here: 409 before any password is checked
    svc.clock.now += timedelta(seconds=1)
    assert change(PASSWORD).status_code == 200
