"""The owner's sign-in page and account page: plain HTML forms, each carrying a CSRF token."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from booking.audit import address_of, record
from booking.context import ctx_of
from booking.errors import ApiError
from booking.login import LoginRefused, sign_in
from booking.sessions import COOKIE, TTL, cookie_header, csrf_token
from booking.web import render

router = APIRouter(include_in_schema=False)
# Before sign-in there is no session to tie a CSRF token to: a double-submit token in a __Host- cookie
# (which no other site or subdomain can set) stops login CSRF.
LOGIN_COOKIE = "__Host-login-csrf"


def _login_page(status: int = 200, error: str = "", slug: str = "", email: str = "",
                headers: dict[str, str] | None = None) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    page = render("login.html", status, csrf_token=token, error=error, slug=slug, email=email)
    page.headers.append("Set-Cookie", f"{LOGIN_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict")
    for key, value in (headers or {}).items():
        page.headers[key] = value
    return page


@router.get("/login", response_class=HTMLResponse)
def login_form() -> HTMLResponse:
    """The sign-in form."""
    return _login_page()


@router.post("/login")
def login_submit(request: Request, slug: Annotated[str, Form(max_length=40)],
                 email: Annotated[str, Form(max_length=254)],
                 password: Annotated[str, Form(max_length=1024)], csrf_token: Annotated[str, Form(max_length=100)],
                 totp: Annotated[str, Form(max_length=12)] = "") -> Response:
    """Check the form's CSRF token, sign in, and go to the account page."""
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf_token.encode()):
        return _login_page(403, "The form expired; please sign in again.", slug, email)
    try:
        _tenant, cookie = sign_in(request, slug, email, password, totp or None)
    except LoginRefused as exc:
        return _login_page(401, exc.detail, slug, email)
    except ApiError as exc:
        return _login_page(exc.status, exc.detail, slug, email, exc.headers)
    response = RedirectResponse("/account", status_code=303)
    response.headers.append("Set-Cookie", cookie_header(cookie, int(TTL.total_seconds())))
    response.headers.append("Set-Cookie", f"{LOGIN_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
    return response


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request) -> Response:
    """Who is signed in, with the log-out forms; without a session, back to sign-in."""
    ctx = ctx_of(request)
    try:
        with ctx.authed(request) as (conn, who):
            row = conn.execute("SELECT u.email, u.mfa_enabled, t.name FROM users u JOIN tenants t "
                               "ON t.id = u.tenant_id WHERE u.id = %s", (who.user_id,)).fetchone()
    except ApiError:
        return RedirectResponse("/login", status_code=303)
    assert row is not None
    return render("account.html", tenant=row["name"], email=row["email"], mfa=row["mfa_enabled"],
                  csrf_token=csrf_token(ctx.tokens, request.cookies.get(COOKIE, "")))


@router.post("/account/logout-all")
def logout_all_form(request: Request, csrf_token: Annotated[str, Form(max_length=100)]) -> Response:
    """End every session of the signed-in user (needs the page's CSRF token)."""
    with ctx_of(request).authed(request, csrf=csrf_token) as (conn, who):
        conn.execute("DELETE FROM web_sessions WHERE user_id = %s", (who.user_id,))
        record(conn, who.tenant_id, f"user:{who.user_id}", "logout.everywhere", "", address_of(request))
    response = RedirectResponse("/login", status_code=303)
    response.headers.append("Set-Cookie", cookie_header("", 0))
    return response


@router.post("/logout")
def logout_form(request: Request, csrf_token: Annotated[str, Form(max_length=100)]) -> Response:
    """End this session."""
    ctx = ctx_of(request)
    with ctx.authed(request, csrf=csrf_token) as (conn, who):
        conn.execute("DELETE FROM web_sessions WHERE token_hash = %s", (ctx.tokens.digest(request.cookies[COOKIE]),))
        record(conn, who.tenant_id, f"user:{who.user_id}", "logout", "", address_of(request))
    response = RedirectResponse("/login", status_code=303)
    response.headers.append("Set-Cookie", cookie_header("", 0))
    return response
