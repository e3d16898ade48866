"""Sign-in: rehash on login, __Host- session cookies with CSRF, TOTP, throttling, log out everywhere."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pyotp
import pytest
import requests
from argon2 import PasswordHasher
from booking.auth.throttle import LoginThrottle
from booking.provision import DatabaseUrls

from tests.app.conftest import PASSWORD, Clock, Service, start_service


@pytest.fixture(scope="module")
def svc(db: DatabaseUrls) -> Iterator[Service]:
    clock = Clock()
    s = start_service(db, clock=clock, throttle=LoginThrottle(clock, free=3, per_address=8))
    yield s
    s.server.stop()


def login(svc: Service, slug: str, password: str = PASSWORD, **extra: Any) -> requests.Response:
    return svc.call("POST", "/v1/login", json={"slug": slug, "email": f"owner@{slug}.example", "password": password,
                                                **extra})


def session_of(r: requests.Response) -> tuple[str, str]:
    cookie = r.headers["Set-Cookie"]
    return cookie.split(";")[0].split("=", 1)[1], r.json()["csrf_token"]


def test_signup_refuses_a_breached_password_and_names_the_field(svc: Service) -> None:
    r = svc.call("POST", "/v1/signup", json={
        "tenant": {"slug": "weak-pw", "name": "Weak", "residency": "us", "timezone": "UTC"},
        "owner": {"email": "o@weak.example", "password": "password1234567"}})
    assert r.status_code == 422
    assert r.json()["detail"].startswith("owner.password is a commonly used or breached password")


def test_login_sets_a_host_cookie_and_cookie_writes_need_the_csrf_token(svc: Service) -> None:
    svc.signup("cookie-shop")
    r = login(svc, "cookie-shop")
    assert r.status_code == 200, r.text
    attrs = [a.strip() for a in r.headers["Set-Cookie"].split(";")]
    assert attrs[0].startswith("__Host-session=bks_")
    assert {"Path=/", "Secure", "HttpOnly", "SameSite=Lax"} <= set(attrs)
    assert not any(a.lower().startswith("domain") for a in attrs)
    cookie, csrf = session_of(r)
    jar = {"Cookie": f"__Host-session={cookie}"}
    assert svc.call("GET", "/v1/staff", headers=jar).status_code == 200
    body = {"name": "Kim", "timezone": "UTC"}
    refused = svc.call("POST", "/v1/staff", headers=jar, json=body)
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    wrong = svc.call("POST", "/v1/staff", headers={**jar, "X-CSRF-Token": "0" * 64}, json=body)
    assert wrong.status_code == 403
    assert svc.call("POST", "/v1/staff", headers={**jar, "X-CSRF-Token": csrf}, json=body).status_code == 201


def test_login_rehashes_a_password_stored_with_older_parameters(svc: Service) -> None:
    signed = svc.signup("rehash-shop")
    old = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1).hash(PASSWORD)
    with psycopg.connect(svc.db.owner_url, autocommit=True) as conn:
        conn.execute("SELECT set_config('app.tenant_id', %s, false)", (signed["tenant"]["id"],))
        assert conn.execute("UPDATE users SET password_hash = %s", (old,)).rowcount == 1
        assert login(svc, "rehash-shop").status_code == 200
        stored = conn.execute("SELECT password_hash FROM users WHERE tenant_id = %s",
                              (signed["tenant"]["id"],)).fetchone()[0]
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert login(svc, "rehash-shop").status_code == 200


def test_failed_logins_are_throttled_per_account_with_retry_after(svc: Service) -> None:
    svc.signup("throttle-shop")
    for _ in range(3):
        assert login(svc, "throttle-shop", "wrong password, clearly").status_code == 401
    r = login(svc, "throttle-shop")  # even the right password waits: the guesser cannot tell
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 900
    svc.clock.now += timedelta(seconds=int(r.headers["Retry-After"]) + 1)
    assert login(svc, "throttle-shop").status_code == 200


def test_failed_logins_are_throttled_per_address_across_accounts(svc: Service) -> None:
    svc.clock.now += timedelta(hours=1)  # forget earlier tests' failures
    svc.signup("spray-shop")
    for i in range(6):  # a password spray: one guess per account, all from one address
        r = svc.call("POST", "/v1/login", json={"slug": "spray-shop", "email": f"u{i}@x.example", "password": "x"})
        assert r.status_code == 401
    assert login(svc, "no-such-shop-anywhere", "x").status_code == 404
    assert login(svc, "spray-shop", "wrong password here").status_code == 401  # the 8th failure
    r = login(svc, "spray-shop")  # a fresh account, but the address is over its limit
    assert r.status_code == 429
    assert "address" in r.json()["detail"]
    assert int(r.headers["Retry-After"]) >= 1


def test_totp_enrolment_login_and_replay(svc: Service) -> None:
    svc.clock.now += timedelta(hours=2)
    token = svc.signup("totp-shop")["access_token"]
    started = svc.call("POST", "/v1/account/totp", token)
    assert started.status_code == 200
    totp = pyotp.TOTP(started.json()["secret"])
    assert started.json()["otpauth_uri"].startswith("otpauth://totp/slotstack:")
    assert svc.call("POST", "/v1/account/totp/confirm", token, json={"code": "000000"}).status_code == 422
    ok = svc.call("POST", "/v1/account/totp/confirm", token, json={"code": totp.at(svc.clock.now)})
    assert ok.status_code == 200, ok.text
    needs = login(svc, "totp-shop")
    assert needs.status_code == 401
    assert needs.json()["mfa_required"] is True
    svc.clock.now += timedelta(seconds=30)
    code = totp.at(svc.clock.now)
    assert svc.call("GET", "/v1/tenant", token).status_code == 401, "the password-only token ends with enrolment"
    signed_in = login(svc, "totp-shop", totp=code)
    assert signed_in.status_code == 200
    assert login(svc, "totp-shop", totp=code).status_code == 401, "a TOTP code must not be accepted twice"
    cookie, csrf = session_of(signed_in)
    # with TOTP on, 8 characters are enough for a new password
    r = svc.call("PUT", "/v1/account/password", json={"current_password": PASSWORD, "new_password": "k9#Vt2pQ"},
                 headers={"Cookie": f"__Host-session={cookie}", "X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    svc.clock.now += timedelta(seconds=30)
    again = login(svc, "totp-shop", "k9#Vt2pQ", totp=totp.at(svc.clock.now))
    assert again.status_code == 200
    cookie, csrf = session_of(again)
    # ...and disabling TOTP is refused while the password would be too short for a single factor
    svc.clock.now += timedelta(seconds=30)
    r = svc.call("POST", "/v1/account/totp/disable", json={"code": totp.at(svc.clock.now), "password": "k9#Vt2pQ"},
                 headers={"Cookie": f"__Host-session={cookie}", "X-CSRF-Token": csrf})
    assert r.status_code == 422
    assert "at least 15" in r.json()["detail"]


def test_log_out_everywhere_ends_every_session(svc: Service) -> None:
    svc.clock.now += timedelta(hours=3)
    token = svc.signup("logout-shop")["access_token"]
    pat = svc.call("POST", "/v1/tokens", token, json={"name": "ci", "scopes": ["tenant:read"]}).json()["token"]
    phone, laptop = session_of(login(svc, "logout-shop")), session_of(login(svc, "logout-shop"))
    for cookie, _ in (phone, laptop):
        assert svc.call("GET", "/v1/tenant", headers={"Cookie": f"__Host-session={cookie}"}).status_code == 200
    r = svc.call("POST", "/v1/account/logout-all", headers={"Cookie": f"__Host-session={phone[0]}",
                                                            "X-CSRF-Token": phone[1]})
    assert r.json() == {"sessions_ended": 2, "tokens_ended": 1}
    for cookie, _ in (phone, laptop):
        assert svc.call("GET", "/v1/tenant", headers={"Cookie": f"__Host-session={cookie}"}).status_code == 401
    assert svc.call("GET", "/v1/tenant", token).status_code == 401  # the signup token is a sign-in too
    assert svc.call("GET", "/v1/tenant", pat).status_code == 200  # personal access tokens are managed separately
    fresh, _ = session_of(login(svc, "logout-shop"))
    events = [e["action"] for e in svc.call("GET", "/v1/audit", headers={"Cookie": f"__Host-session={fresh}"})
              .json()["events"]]
    assert events[:4] == ["login", "logout.everywhere", "login", "login"]


def _cookies(r: requests.Response) -> dict[str, str]:
    # Secure cookies are not sent back over http by requests' jar, so the test carries them by hand
    raw = r.raw.headers.getlist("Set-Cookie")
    return {c.split(";")[0].split("=", 1)[0]: c.split(";")[0].split("=", 1)[1] for c in raw}


def test_the_sign_in_and_account_forms_carry_csrf_tokens(svc: Service) -> None:
    svc.clock.now += timedelta(hours=4)
    svc.signup("form-shop")
    page = svc.call("GET", "/login")
    assert page.status_code == 200
    assert '<label for="password">' in page.text
    login_csrf = _cookies(page)["__Host-login-csrf"]
    assert f'name="csrf_token" value="{login_csrf}"' in page.text
    form = {"slug": "form-shop", "email": "owner@form-shop.example", "password": PASSWORD}
    forged = svc.call("POST", "/login", data={**form, "csrf_token": "forged"},
                      headers={"Cookie": f"__Host-login-csrf={login_csrf}"}, allow_redirects=False)
    assert forged.status_code == 403
    r = svc.call("POST", "/login", data={**form, "csrf_token": login_csrf},
                 headers={"Cookie": f"__Host-login-csrf={login_csrf}"}, allow_redirects=False)
    assert r.status_code == 303
    assert r.headers["Location"] == "/account"
    session = _cookies(r)["__Host-session"]
    jar = {"Cookie": f"__Host-session={session}"}
    account = svc.call("GET", "/account", headers=jar)
    assert "Signed in as owner@form-shop.example" in account.text
    csrf = account.text.split('name="csrf_token" value="')[1].split('"')[0]
    refused = svc.call("POST", "/account/logout-all", data={"csrf_token": "x" * 64}, headers=jar,
                       allow_redirects=False)
    assert refused.status_code == 403
    assert svc.call("GET", "/account", headers=jar, allow_redirects=False).status_code == 200
    done = svc.call("POST", "/account/logout-all", data={"csrf_token": csrf}, headers=jar, allow_redirects=False)
    assert done.status_code == 303
    after = svc.call("GET", "/account", headers=jar, allow_redirects=False)
    assert after.status_code == 303
    assert after.headers["Location"] == "/login"
