"""Bearer tokens: format, keyed hashing, issuing, checking scopes, expiry and revocation.

A token is `<prefix>_<tenant id hex>_<secret>` with 256 random bits of secret. The prefix says what it is
(`bk` from signup or a login, `bkp` a personal access token, `bka` an OAuth client-credentials access
token, `bks` a web session) so leaked tokens are recognisable by secret scanners. The tenant part lets the
service scope the lookup to that tenant under row-level security (there is no global token table). The
database holds only HMAC-SHA256(server key, token): a copy of the database alone cannot forge or check one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from booking.db import Conn
from booking.errors import ApiError

TOKEN = re.compile(r"^(bk|bkp|bka)_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")
SESSION = re.compile(r"^bks_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")
INVITE = re.compile(r"^bki_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")
OWNER, STAFF = "owner", "staff"
ROLES = (OWNER, STAFF)
ALL = "*"
# scope = area:access; `*` (login tokens and web sessions) is everything, including managing credentials
SCOPES = ("bookings:read", "bookings:write", "catalog:read", "catalog:write", "tenant:read")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user of one tenant, with what the credential allows."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID
    scopes: tuple[str, ...] = (ALL,)
    via: str = "token"
    # what the user may do at all (booking.auth.roles); scopes can only narrow it further
    role: str = STAFF  # fail closed: a Principal built without its role gets the least
    staff_id: uuid.UUID | None = None

    def allows(self, scope: str) -> bool:
        """Whether this credential may do `scope` (`area:read` is implied by `area:write`)."""
        if ALL in self.scopes:
            return True
        area, _, access = scope.partition(":")
        return scope in self.scopes or (access == "read" and f"{area}:write" in self.scopes)


class TokenHasher:
    """Keyed hashes of secrets; the key is derived from SECRET_KEY and never stored in the database."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the token hashing key must be at least 32 bytes")
        self._key = key

    @classmethod
    def from_secret_key(cls, secret_key: str) -> TokenHasher:
        """Derive the hashing key from the service's SECRET_KEY (domain-separated from its other uses)."""
        return cls(hmac.new(secret_key.encode(), b"booking/token-hash/v1", hashlib.sha256).digest())

    def digest(self, token: str) -> str:
        """What the database stores for `token`."""
        return hmac.new(self._key, token.encode(), hashlib.sha256).hexdigest()


def new_token(prefix: str, tenant_id: uuid.UUID) -> str:
    """A fresh token with 256 random bits."""
    return f"{prefix}_{tenant_id.hex}_{secrets.token_urlsafe(32)}"


def check_scopes(scopes: Sequence[str]) -> tuple[str, ...]:
    """Validate requested scopes, naming the unknown one."""
    if not scopes:
        raise ApiError(422, f"scopes must not be empty; allowed: {list(SCOPES)}")
    for scope in scopes:
        if scope not in SCOPES:
            raise ApiError(422, f"scope {scope!r} is unknown; allowed: {list(SCOPES)}")
    return tuple(sorted(set(scopes)))


def issue_token(conn: Conn, hasher: TokenHasher, tenant_id: uuid.UUID, user_id: uuid.UUID, *,
                kind: str = "login", name: str = "", scopes: Sequence[str] = (ALL,),
                expires_at: datetime | None = None, client_id: uuid.UUID | None = None) -> tuple[str, str]:
    """Store a new token (inside that tenant's transaction); returns (id, token). The token is shown once."""
    token = new_token({"login": "bk", "pat": "bkp", "oauth": "bka"}[kind], tenant_id)
    row = conn.execute(
        "INSERT INTO api_tokens (tenant_id, user_id, token_hash, kind, name, scopes, expires_at, client_id) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (tenant_id, user_id, hasher.digest(token), kind, name, list(scopes), expires_at, client_id)).fetchone()
    assert row is not None
    return str(row["id"]), token


def parse_bearer(header: str | None) -> tuple[uuid.UUID, str]:
    """Split an Authorization header into tenant id and token, or raise 401."""
    if not header or not header.startswith("Bearer "):
        raise ApiError(401, "missing bearer token: send 'Authorization: Bearer <access_token from signup>'")
    token = header.removeprefix("Bearer ").strip()
    match = TOKEN.fullmatch(token)
    if match is None:
        raise ApiError(401, "malformed bearer token: expected the access_token returned by signup, a personal "
                            "access token (bkp_...) or an OAuth access token (bka_...)")
    return uuid.UUID(match.group(2)), token


def authenticate(conn: Conn, hasher: TokenHasher, tenant_id: uuid.UUID, token: str, now: datetime) -> Principal:
    """The principal owning `token` in the tenant the transaction is scoped to, or raise 401.

    A revoked token's row is gone, so revocation takes effect on the very next request.
    """
    row = conn.execute("SELECT t.id, t.user_id, t.scopes, t.expires_at, t.last_used_at, u.role, u.staff_id "
                       "FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = %s",
                       (hasher.digest(token),)).fetchone()
    if row is None:
        raise ApiError(401, "invalid or revoked token")
    if row["expires_at"] is not None and row["expires_at"] <= now:
        raise ApiError(401, f"token expired at {row['expires_at'].isoformat()}; create a new one")
    last = row["last_used_at"]
    if last is None or (now - last).total_seconds() >= 60:  # at most one write a minute per token
        conn.execute("UPDATE api_tokens SET last_used_at = %s WHERE id = %s", (now, row["id"]))
    return Principal(tenant_id, uuid.UUID(str(row["user_id"])), tuple(row["scopes"]), role=row["role"],
                     staff_id=row["staff_id"])


def end_login_tokens(conn: Conn, user_id: uuid.UUID) -> int:
    """Delete the user's sign-in tokens (from signup, login or an invitation), as a password change, log-out
    everywhere or a new second factor must; personal access tokens and OAuth grants are managed on their own."""
    return conn.execute("DELETE FROM api_tokens WHERE user_id = %s AND kind = 'login'", (user_id,)).rowcount
