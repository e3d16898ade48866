"""Web sessions in `__Host-` cookies, their CSRF tokens, and TOTP verification for sign-in.

The cookie holds `bks_<tenant>_<secret>`; the database keeps only its keyed hash. The CSRF token is an
HMAC of the session token, so it needs no storage, changes with every session and cannot be derived
from a database copy.
"""

from __future__ import annotations

import hmac
import uuid
from datetime import datetime, timedelta

import pyotp

from booking.auth.tokens import SESSION, Principal, TokenHasher, new_token
from booking.db import Conn
from booking.errors import ApiError

COOKIE = "__Host-session"
TTL = timedelta(hours=12)
TOTP_STEP_S = 30


def cookie_header(token: str, max_age: int) -> str:
    """Set-Cookie value: `__Host-` requires Secure, Path=/ and no Domain, so it cannot be set by a subdomain."""
    return f"{COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={max_age}"


def create_session(conn: Conn, hasher: TokenHasher, tenant_id: uuid.UUID, user_id: uuid.UUID,
                   now: datetime) -> str:
    """Store a new session (inside the tenant's transaction) and return the cookie value."""
    token = new_token("bks", tenant_id)
    conn.execute("INSERT INTO web_sessions (tenant_id, user_id, token_hash, expires_at) VALUES (%s, %s, %s, %s)",
                 (tenant_id, user_id, hasher.digest(token), now + TTL))
    return token


def session_tenant(cookie: str) -> uuid.UUID:
    """The tenant a session cookie belongs to, or 401."""
    match = SESSION.fullmatch(cookie)
    if match is None:
        raise ApiError(401, "malformed session cookie; sign in again at /login")
    return uuid.UUID(match.group(1))


def session_principal(conn: Conn, hasher: TokenHasher, tenant_id: uuid.UUID, cookie: str,
                      now: datetime) -> Principal:
    """The signed-in user of a session cookie, or 401 if it is unknown, logged out or expired."""
    row = conn.execute("SELECT s.user_id, u.role, u.staff_id FROM web_sessions s JOIN users u ON u.id = s.user_id "
                       "WHERE s.token_hash = %s AND s.expires_at > %s", (hasher.digest(cookie), now)).fetchone()
    if row is None:
        raise ApiError(401, "session expired or logged out; sign in again at /login")
    return Principal(tenant_id, uuid.UUID(str(row["user_id"])), via="session", role=row["role"],
                     staff_id=row["staff_id"])


def csrf_token(hasher: TokenHasher, cookie: str) -> str:
    """The CSRF token that forms and cookie-authenticated API calls must send back."""
    return hasher.digest("csrf:" + cookie)


def check_csrf(hasher: TokenHasher, cookie: str, presented: str | None) -> None:
    """403 unless `presented` is this session's CSRF token."""
    if not presented or not hmac.compare_digest(presented.encode(), csrf_token(hasher, cookie).encode()):
        raise ApiError(403, "missing or wrong CSRF token: send the csrf_token of this session in the "
                            "X-CSRF-Token header (or the csrf_token form field)")


def verify_totp(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step `code` belongs to (current +-1 for clock skew), or None; a step is accepted only once."""
    if not code.isascii() or not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // TOTP_STEP_S
    for step in (current - 1, current, current + 1):
        fresh = last_step is None or step > last_step
        if fresh and hmac.compare_digest(totp.at(step * TOTP_STEP_S).encode(), code.encode()):
            return step
    return None
