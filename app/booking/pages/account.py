"""Sign-in, invitation and account pages: plain HTML forms, each carrying a CSRF token."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from booking.api.users import accepting
from booking.audit import address_of, record
from booking.auth.login import LoginRefused, sign_in
from booking.auth.sessions import COOKIE, TTL, cookie_header, create_session, csrf_token
from booking.context import ctx_of
from booking.errors import ApiError
from booking.pages.booking import render

router = APIRouter(include_in_schema=False)
# Before sign-in there is no session to tie a CSRF token to: a double-submit token in a __Host- cookie
# (which no other site or subdomain can set) stops login CSRF.
LOGIN_COOKIE = "__Host-login-csrf"


def _form_page(template: str, status: int = 200, headers: dict[str, str] | None = None,
               **values: str) -> HTMLResponse:
    """A pre-sign-in form with a fresh double-submit CSRF token (field and __Host- cookie)."""
    token = secrets.token_urlsafe(32)
    page = render(template, status, csrf_token=token, **values)
    page.headers.append("Set-Cookie", f"{LOGIN_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict")
    for key, value in (headers or {}).items():
        page.headers[key] = value
    return page


def _login_page(status: int = 200, error: str = "", slug: str = "", email: str = "",
                headers: dict[str, str] | None = None) -> HTMLResponse:
    return _form_page("login.html", status, headers, error=error, slug=slug, email=email)


def _form_token_ok(request: Request, presented: str) -> bool:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    return bool(expected) and hmac.compare_digest(expected.encode(), presented.encode())


def _signed_in(cookie: str) -> Response:
    """Go to the account page with a new session, dropping the pre-sign-in CSRF cookie."""
    response = RedirectResponse("/account", status_code=303)
    response.headers.append("Set-Cookie", cookie_header(cookie, int(TTL.total_seconds())))
    response.headers.append("Set-Cookie", f"{LOGIN_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
    return response


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
    if not _form_token_ok(request, csrf_token):
        return _login_page(403, "The form expired; please sign in again.", slug, email)
    try:
        _tenant, cookie = sign_in(ctx_of(request), request, slug, email, password, totp or None)
    except LoginRefused as exc:
        return _login_page(401, exc.detail, slug, email)
    except ApiError as exc:
        return _login_page(exc.status, exc.detail, slug, email, exc.headers)
    return _signed_in(cookie)


@router.get("/invite", response_class=HTMLResponse)
def invite_form(token: Annotated[str, Query(max_length=200)] = "") -> HTMLResponse:
    """The page an invitation link opens: choose a password, then you are signed in."""
    return _form_page("invite.html", token=token, error="")


@router.post("/invite")
def invite_submit(request: Request, token: Annotated[str, Form(max_length=200)],
                  password: Annotated[str, Form(max_length=1024)],
                  csrf_token: Annotated[str, Form(max_length=100)]) -> Response:
    """Accept the invitation with the chosen password and open a web session."""
    if not _form_token_ok(request, csrf_token):
        return _form_page("invite.html", 403, token=token, error="The form expired; please try again.")
    ctx = ctx_of(request)
    try:
        with accepting(ctx, request, token, password) as (conn, user):
            cookie = create_session(conn, ctx.tokens, user["tenant_id"], user["id"], ctx.clock())
            record(conn, user["tenant_id"], f"user:{user['id']}", "login", "invitation", address_of(request))
    except ApiError as exc:
        return _form_page("invite.html", exc.status, exc.headers, token=token, error=exc.detail)
    return _signed_in(cookie)


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request) -> Response:
    """Who is signed in, with the log-out forms; without a session, back to sign-in."""
    ctx = ctx_of(request)
    try:
        with ctx.authed(request) as (conn, who):
            row = conn.execute("SELECT u.email, u.role, u.mfa_enabled, t.name FROM users u JOIN tenants t "
                               "ON t.id = u.tenant_id WHERE u.id = %s", (who.user_id,)).fetchone()
    except ApiError:
        return RedirectResponse("/login", status_code=303)
    assert row is not None
    return render("account.html", tenant=row["name"], email=row["email"], role=row["role"], mfa=row["mfa_enabled"],
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
