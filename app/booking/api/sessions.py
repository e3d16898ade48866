"""Sign-in, sign-out, log out everywhere, and TOTP enrolment for owners."""

from __future__ import annotations

from typing import Any

import pyotp
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from booking.audit import address_of, record
from booking.auth.login import LoginRefused, sign_in
from booking.auth.passwords import check_password, verify_password
from booking.auth.sessions import COOKIE, TTL, cookie_header, csrf_token, verify_totp
from booking.auth.tokens import end_login_tokens
from booking.context import ctx_of
from booking.errors import ApiError

router = APIRouter(tags=["account"])


class LoginIn(BaseModel):
    slug: str = Field(max_length=40)
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)
    totp: str | None = Field(default=None, max_length=12)


@router.post("/v1/login")
def login(body: LoginIn, request: Request) -> JSONResponse:
    """Open a web session: sets the `__Host-session` cookie and returns the session's CSRF token."""
    try:
        _tenant, cookie = sign_in(ctx_of(request), request, body.slug, body.email, body.password, body.totp)
    except LoginRefused as exc:
        raise ApiError(401, exc.detail, mfa_required=exc.mfa_required) from None
    response = JSONResponse({"csrf_token": csrf_token(ctx_of(request).tokens, cookie),
                             "expires_in": int(TTL.total_seconds())})
    response.headers["Set-Cookie"] = cookie_header(cookie, int(TTL.total_seconds()))
    return response


@router.post("/v1/logout")
def logout(request: Request) -> JSONResponse:
    """End this web session (needs its CSRF token) and clear the cookie."""
    ctx = ctx_of(request)
    with ctx.authed(request) as (conn, who):
        cookie = request.cookies.get(COOKIE, "")
        conn.execute("DELETE FROM web_sessions WHERE token_hash = %s", (ctx.tokens.digest(cookie),))
        record(conn, who.tenant_id, f"user:{who.user_id}", "logout", "", address_of(request))
    response = JSONResponse({"logged_out": True})
    response.headers["Set-Cookie"] = cookie_header("", 0)
    return response


@router.post("/v1/account/logout-all")
def logout_everywhere(request: Request) -> dict[str, int]:
    """End every web session and sign-in token of the caller, on every device; personal access tokens are managed
    under /v1/tokens."""
    with ctx_of(request).authed(request) as (conn, who):
        n = conn.execute("DELETE FROM web_sessions WHERE user_id = %s", (who.user_id,)).rowcount
        tokens = end_login_tokens(conn, who.user_id)
        record(conn, who.tenant_id, f"user:{who.user_id}", "logout.everywhere", "", address_of(request))
    return {"sessions_ended": n, "tokens_ended": tokens}


@router.post("/v1/account/totp")
def totp_start(request: Request) -> dict[str, Any]:
    """Begin TOTP enrolment: a new secret (shown once) to put in an authenticator app; confirm with a code."""
    with ctx_of(request).authed(request) as (conn, who):
        user = conn.execute("SELECT email, role, mfa_enabled FROM users WHERE id = %s", (who.user_id,)).fetchone()
        assert user is not None
        if user["mfa_enabled"]:
            raise ApiError(409, "TOTP is already enabled; disable it first to enrol a new device")
        secret = pyotp.random_base32(32)  # 160 bits, as RFC 4226 recommends
        conn.execute("UPDATE users SET totp_secret = %s, totp_last_step = NULL WHERE id = %s", (secret, who.user_id))
    uri = pyotp.TOTP(secret).provisioning_uri(name=user["email"], issuer_name="slotstack")
    return {"secret": secret, "otpauth_uri": uri}


class CodeIn(BaseModel):
    code: str = Field(max_length=12)
    password: str | None = Field(default=None, max_length=1024)


@router.post("/v1/account/totp/confirm")
def totp_confirm(body: CodeIn, request: Request) -> dict[str, bool]:
    """Enable TOTP once the app's first code matches; from then on sign-in needs a code."""
    ctx = ctx_of(request)
    with ctx.authed(request) as (conn, who):
        user = conn.execute("SELECT totp_secret, totp_last_step FROM users WHERE id = %s", (who.user_id,)).fetchone()
        if user is None or user["totp_secret"] is None:
            raise ApiError(409, "no TOTP enrolment in progress; POST /v1/account/totp first")
        step = verify_totp(user["totp_secret"], body.code, ctx.clock(), user["totp_last_step"])
        if step is None:
            raise ApiError(422, "code does not match; check the device's clock and enter the current code")
        conn.execute("UPDATE users SET mfa_enabled = true, totp_last_step = %s WHERE id = %s", (step, who.user_id))
        end_login_tokens(conn, who.user_id)  # a token issued on the password alone must not outlive the new factor
        record(conn, who.tenant_id, f"user:{who.user_id}", "mfa.enabled", "", address_of(request))
    return {"mfa_enabled": True}


@router.post("/v1/account/totp/disable")
def totp_disable(body: CodeIn, request: Request) -> dict[str, bool]:
    """Disable TOTP with a current code and the password, which must then meet the single-factor rules."""
    ctx = ctx_of(request)
    with ctx.authed(request) as (conn, who):
        user = conn.execute("SELECT u.*, t.name, t.slug FROM users u JOIN tenants t ON t.id = u.tenant_id "
                            "WHERE u.id = %s", (who.user_id,)).fetchone()
        assert user is not None
        if not user["mfa_enabled"]:
            raise ApiError(409, "TOTP is not enabled")
        account, address = f"{user['slug']}:{user['email']}", address_of(request)
        ctx.throttle.check(account, address)  # a stolen session must not become a password oracle
        if not body.password or not verify_password(user["password_hash"], body.password)[0]:
            ctx.throttle.failed(account, address)
            raise ApiError(403, "wrong password")
        if verify_totp(user["totp_secret"], body.code, ctx.clock(), user["totp_last_step"]) is None:
            ctx.throttle.failed(account, address)
            raise ApiError(403, "wrong or already used TOTP code")
        ctx.throttle.succeeded(account)
        check_password(body.password, context=(user["name"], user["slug"], user["email"]), field="password")
        conn.execute("UPDATE users SET mfa_enabled = false, totp_secret = NULL, totp_last_step = NULL WHERE id = %s",
                     (who.user_id,))
        record(conn, who.tenant_id, f"user:{who.user_id}", "mfa.disabled", "", address_of(request))
    return {"mfa_enabled": False}


class PasswordIn(BaseModel):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


@router.put("/v1/account/password")
def change_password(body: PasswordIn, request: Request) -> dict[str, int]:
    """Change the password (8 characters suffice with TOTP enabled, else 15); ends every web session."""
    from booking.auth.passwords import hash_password

    ctx = ctx_of(request)
    with ctx.authed(request) as (conn, who):
        user = conn.execute("SELECT u.*, t.name, t.slug FROM users u JOIN tenants t ON t.id = u.tenant_id "
                            "WHERE u.id = %s", (who.user_id,)).fetchone()
        assert user is not None
        account, address = f"{user['slug']}:{user['email']}", address_of(request)
        ctx.throttle.check(account, address)  # a stolen session must not become a password oracle
        if not verify_password(user["password_hash"], body.current_password)[0]:
            ctx.throttle.failed(account, address)
            raise ApiError(403, "current_password is wrong")
        ctx.throttle.succeeded(account)
        check_password(body.new_password, mfa=user["mfa_enabled"],
                       context=(user["name"], user["slug"], user["email"]), field="new_password")
        conn.execute("UPDATE users SET password_hash = %s WHERE id = %s",
                     (hash_password(body.new_password), who.user_id))
        n = conn.execute("DELETE FROM web_sessions WHERE user_id = %s", (who.user_id,)).rowcount
        tokens = end_login_tokens(conn, who.user_id)
        record(conn, who.tenant_id, f"user:{who.user_id}", "password.changed", "", address_of(request))
    return {"sessions_ended": n, "tokens_ended": tokens}
