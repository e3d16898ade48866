"""Run and inspect schema migrations (alembic, raw SQL, as the owner role)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).parent / "migrations"


def sqlalchemy_url(url: str) -> str:
    """Alembic goes through SQLAlchemy, which needs the psycopg 3 driver named in the scheme."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    raise ValueError(f"database URL {url.split('@')[-1]!r} must start with postgresql://")


def alembic_config(owner_url: str, app_role: str = "booking_app") -> Config:
    """An in-memory alembic config pointing at the packaged migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation treats % specially (URL-encoded passwords contain it)
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(owner_url).replace("%", "%%"))
    cfg.attributes["app_role"] = app_role
    cfg.attributes["libpq_url"] = owner_url  # what env.py connects with (see there why)
    return cfg


# Held while migrating: every VM of a fleet migrates at start, and they start together.
MIGRATION_LOCK = 0x626F6F6B  # "book"


@contextmanager
def migration_lock(owner_url: str) -> Iterator[None]:
    """A session advisory lock serialising every VM's start-up work on one database.

    The first holder does the work, the others wait and then find nothing to do. It is released when the
    lock's own connection closes, also if this process dies.
    """
    with psycopg.connect(owner_url, autocommit=True) as lock:
        lock.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        yield


def upgrade(owner_url: str, app_role: str = "booking_app") -> None:
    """Migrate the database to the newest schema; must run as the owner role."""
    with migration_lock(owner_url):
        command.upgrade(alembic_config(owner_url, app_role), "head")


def prepare(owner_url: str, app_url: str) -> str:
    """The cloud's start: the service role of `app_url` with its password, then migrations; returns the role.

    Both under the migration lock: a fleet starts together, and concurrent CREATE/ALTER ROLE fail.
    """
    from booking.provision import ensure_app_role

    with migration_lock(owner_url):
        role = ensure_app_role(owner_url, app_url)
        command.upgrade(alembic_config(owner_url, role), "head")
    return role


@cache
def head_revision() -> str:
    """The newest revision this build of the service expects.

    Cached: the migrations ship inside the package, so they cannot change under a running process, and
    parsing them on every /readyz probe made readiness ten times costlier than a booking.
    """
    script = ScriptDirectory.from_config(alembic_config("postgresql://unused@localhost/unused"))
    head = script.get_current_head()
    assert head is not None, "the package ships no migrations"
    return head


def current_revision(conn: psycopg.Connection[Any]) -> str | None:
    """The revision the database is at, or None if it was never migrated."""
    try:
        with conn.transaction():
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except psycopg.errors.UndefinedTable:
        return None
    if row is None:
        return None
    return str(row["version_num"] if isinstance(row, dict) else row[0])
