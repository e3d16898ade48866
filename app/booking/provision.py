"""Create the two database roles and the database, given an administrator connection.

The owner role owns the schema and runs migrations; the service role owns nothing, is not a superuser and
cannot bypass row-level security. In the cloud the platform team runs this once per server; the embedded
default and the local stack run it on every start (it is idempotent).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class DatabaseUrls:
    """Connection URLs for the owner (migrations) and the service role (the running app)."""

    owner_url: str
    app_url: str


def _with(url: str, *, user: str, database: str) -> str:
    """Swap user and database in a libpq URL, keeping host, port and query (e.g. a socket ?host=)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"{user}@{host}", f"/{database}", parts.query, ""))


def provision(
    admin_url: str,
    *,
    database: str = "booking",
    owner: str = "booking_owner",
    app_role: str = "booking_app",
) -> DatabaseUrls:
    """Ensure roles `owner` and `app_role` and database `database` exist; return their URLs.

    The URLs carry no password: the embedded cluster trusts local socket connections. Against a server
    that needs passwords, set them in the URLs you pass to `booking migrate` and DATABASE_URL instead.
    """
    for role in (owner, app_role):
        if not ROLE_NAME.fullmatch(role):
            raise ValueError(f"role name {role!r} is invalid; use lower-case letters, digits and '_'")
    if not ROLE_NAME.fullmatch(database):
        raise ValueError(f"database name {database!r} is invalid; use lower-case letters, digits and '_'")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        existing = {r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolname IN (%s, %s)",
                                               (owner, app_role))}
        if owner not in existing:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEROLE NOBYPASSRLS").format(
                sql.Identifier(owner)))
        if app_role not in existing:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS").format(
                sql.Identifier(app_role)))
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(database), sql.Identifier(owner)))
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database)))
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            sql.Identifier(database), sql.Identifier(app_role)))
    return DatabaseUrls(
        owner_url=_with(admin_url, user=owner, database=database),
        app_url=_with(admin_url, user=app_role, database=database),
    )


def ensure_app_role(owner_url: str, app_url: str) -> str:
    """Make the service role of `app_url` exist with that URL's password; returns the role's name.

    The cloud's path (the owner URL is the server's administrator, the passwords come from Key Vault): it
    runs at every start, so a rotated password reaches the server with the next rolling restart. Creating
    roles needs CREATEROLE, which Azure's administrator login has.
    """
    parts = urlsplit(app_url)
    role, password = unquote(parts.username or ""), unquote(parts.password or "")
    database = parts.path.lstrip("/")
    if not ROLE_NAME.fullmatch(role):
        raise ValueError(f"the service role {role!r} in DATABASE_URL is invalid; use lower-case letters, digits "
                         "and '_'")
    if not password:
        raise ValueError(f"DATABASE_URL for role {role!r} has no password; the cloud's URL must carry one")
    with psycopg.connect(owner_url, autocommit=True) as conn:
        found = conn.execute("SELECT rolsuper OR rolbypassrls OR rolcreaterole AS powerful FROM pg_roles "
                             "WHERE rolname = %s", (role,)).fetchone()
        # Only a SCRAM verifier travels, computed here by libpq: a statement that fails is written to the
        # server's log with its text (log_min_error_statement), and those logs are shipped to Log Analytics.
        # Utility statements take no bind parameters, so the verifier goes in as a quoted literal.
        verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()
        if found is None:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS "
                                 "PASSWORD {}").format(sql.Identifier(role), sql.Literal(verifier)))
        elif found[0]:  # row-level security would not hold for it: refuse rather than serve
            raise ValueError(f"the service role {role!r} is a superuser or may bypass row-level security or "
                             f"create roles; remove that with ALTER ROLE {role} NOSUPERUSER NOBYPASSRLS "
                             "NOCREATEROLE as an administrator")
        else:  # only what a CREATEROLE administrator may change on a role it made (PostgreSQL 16+)
            conn.execute(sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(verifier)))
        if database:
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(database), sql.Identifier(role)))
    return role
