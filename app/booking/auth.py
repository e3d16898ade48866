"""Owner credentials and bearer tokens.

A token is `bk_<tenant id hex>_<secret>`: the tenant part lets the service scope the lookup to that
tenant under row-level security (there is no global token table to leak), and only a SHA-256 of the
256-bit secret is stored.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass

from argon2 import PasswordHasher

from booking.db import Conn
from booking.errors import ApiError

TOKEN = re.compile(r"^bk_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")
MIN_PASSWORD = 15  # NIST SP 800-63B-4 minimum for single-factor passwords
MAX_PASSWORD = 128

_hasher = PasswordHasher()


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user of one tenant."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID


def hash_password(password: str) -> str:
    """argon2id hash of a password that passed `check_password`."""
    return _hasher.hash(password)


def check_password(password: str) -> None:
    """Refuse passwords outside the allowed length, naming the rule."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ApiError(422, f"owner.password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long, "
                            f"got {len(password)}; a passphrase of several words works well")


def token_hash(secret: str) -> str:
    """What the database stores for a token secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(conn: Conn, tenant_id: uuid.UUID, user_id: uuid.UUID) -> str:
    """Create a token for a user (inside that tenant's transaction) and return it; it is shown once."""
    secret = secrets.token_urlsafe(32)
    conn.execute("INSERT INTO api_tokens (tenant_id, user_id, token_hash) VALUES (%s, %s, %s)",
                 (tenant_id, user_id, token_hash(secret)))
    return f"bk_{tenant_id.hex}_{secret}"


def parse_bearer(header: str | None) -> tuple[uuid.UUID, str]:
    """Split an Authorization header into tenant id and secret, or raise 401."""
    if not header or not header.startswith("Bearer "):
        raise ApiError(401, "missing bearer token: send 'Authorization: Bearer <access_token from signup>'")
    match = TOKEN.match(header.removeprefix("Bearer ").strip())
    if match is None:
        raise ApiError(401, "malformed bearer token: expected the access_token returned by signup")
    return uuid.UUID(match.group(1)), match.group(2)


def authenticate(conn: Conn, secret: str) -> uuid.UUID:
    """Return the user id owning `secret` in the tenant the transaction is scoped to, or raise 401."""
    row = conn.execute("SELECT user_id FROM api_tokens WHERE token_hash = %s", (token_hash(secret),)).fetchone()
    if row is None:
        raise ApiError(401, "invalid or revoked token")
    return uuid.UUID(str(row["user_id"]))
