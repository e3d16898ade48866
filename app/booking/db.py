"""Connection pool and the per-transaction tenant scope that row-level security relies on."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

Conn = psycopg.Connection[dict]


def make_pool(url: str, *, min_size: int = 2, max_size: int = 20, timeout: float = 5.0) -> ConnectionPool[Conn]:
    """A pool of service-role connections; opened lazily so the service starts even when the DB is down."""
    return ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        open=False,
        timeout=timeout,
        kwargs={"row_factory": dict_row},
        connection_class=psycopg.Connection,
        name="booking",
    )


@contextmanager
def tenant_tx(pool: ConnectionPool[Conn], tenant_id: uuid.UUID | str) -> Iterator[Conn]:
    """One transaction scoped to one tenant.

    `set_config(..., true)` is transaction-local, so a pooled connection can never carry a tenant into the
    next request: outside this block `app.tenant_id` is empty and every policy reads nothing.
    """
    with pool.connection() as conn, conn.transaction():
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant_id),))
        yield conn


@contextmanager
def global_tx(pool: ConnectionPool[Conn]) -> Iterator[Conn]:
    """A transaction with no tenant set: only the global tenant directory is visible."""
    with pool.connection() as conn, conn.transaction():
        yield conn
