"""Signing in with email, password and (when enabled) a TOTP code; shared by the JSON API and the form."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from fastapi import Request

from booking.audit import address_of, record
from booking.auth.passwords import HASHER, verify_password
from booking.auth.sessions import create_session, verify_totp
from booking.auth.throttle import LoginThrottle
from booking.auth.tokens import TokenHasher
from booking.db import Conn
from booking.errors import ApiError

# verified against when the email is unknown, so a wrong email costs as much time as a wrong password
_DUMMY_HASH = HASHER.hash("not a password anyone has: timing equaliser")


class SignInContext(Protocol):
    """What signing in needs of the app's Context (booking.context.Context provides it); a protocol, so
    that this package stays below booking.context, which builds on it."""

    @property
    def clock(self) -> Callable[[], datetime]: ...

    @property
    def tokens(self) -> TokenHasher: ...

    @property
    def throttle(self) -> LoginThrottle: ...

    def public(self, request: Request, slug: str) -> AbstractContextManager[tuple[Conn, uuid.UUID]]: ...


class LoginRefused(Exception):
    """Wrong credentials or a missing/wrong second factor; `mfa_required` tells the client to ask for a code."""

    def __init__(self, detail: str, *, mfa_required: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.mfa_required = mfa_required


def sign_in(ctx: SignInContext, request: Request, slug: str, email: str, password: str,
            totp: str | None) -> tuple[uuid.UUID, str]:
    """Check the credentials and open a web session; returns (tenant id, session cookie value).

    Throttled per account and per address (429 with Retry-After); every outcome is audited.
    """
    address = address_of(request)
    account = f"{slug}:{email.strip().lower()}"
    ctx.throttle.check(account, address)
    now: datetime = ctx.clock()
    try:
        with ctx.public(request, slug) as (conn, tenant_id):
            outcome = _check(ctx, conn, tenant_id, email, password, totp, now, address)
    except ApiError as exc:
        if exc.status == 404:  # guessing at businesses counts against the address too
            ctx.throttle.failed(account, address)
        raise
    # raised only after the transaction committed, so the audit record of a failure stays
    if isinstance(outcome, LoginRefused):
        ctx.throttle.failed(account, address)
        raise outcome
    ctx.throttle.succeeded(account)
    return tenant_id, outcome


def _check(ctx: SignInContext, conn: Conn, tenant_id: uuid.UUID, email: str, password: str, totp: str | None,
           now: datetime, address: str) -> str | LoginRefused:
    """The new session's cookie, or why the sign-in is refused (audited either way)."""
    user = conn.execute("SELECT id, password_hash, mfa_enabled, totp_secret, totp_last_step FROM users "
                        "WHERE email = %s", (email.strip().lower(),)).fetchone()
    # an invited account has no password until it accepts: it is refused like an unknown email
    stored = user["password_hash"] if user is not None else None
    ok, rehashed = verify_password(stored or _DUMMY_HASH, password)
    if user is None or stored is None or not ok:
        record(conn, tenant_id, f"user:{user['id']}" if user else "anonymous", "login.failed", "", address)
        return LoginRefused("wrong email or password")
    actor = f"user:{user['id']}"
    if user["mfa_enabled"]:
        step = verify_totp(user["totp_secret"], totp, now, user["totp_last_step"]) if totp else None
        if step is None:
            record(conn, tenant_id, actor, "login.failed", "totp", address)
            return LoginRefused("this account needs the 6-digit code of its authenticator app in `totp`"
                                if not totp else "wrong or already used TOTP code", mfa_required=True)
        conn.execute("UPDATE users SET totp_last_step = %s WHERE id = %s", (step, user["id"]))
    if rehashed is not None:  # parameters changed since this hash was made: upgrade it now
        conn.execute("UPDATE users SET password_hash = %s WHERE id = %s", (rehashed, user["id"]))
    record(conn, tenant_id, actor, "login", "", address)
    return create_session(conn, ctx.tokens, tenant_id, user["id"], now)
