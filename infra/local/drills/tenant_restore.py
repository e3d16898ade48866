"""Restore one tenant's rows as of a past moment into the live database, leaving other tenants alone.

The cell is recovered to TIME in a scratch cluster; the tenant's rows are copied out of it (binary
COPY) and, in one transaction on the live primary, the tenant's current rows are deleted (children
first) and the old ones inserted (parents first). Tenant-owned tables are found from the catalog:
every table whose primary key starts with `tenant_id`.
"""

from __future__ import annotations

import shutil
import time
from datetime import datetime
from graphlib import CycleError, TopologicalSorter
from typing import Any

import psycopg
from psycopg import sql

from infra.errors import SlotstackError
from infra.local.db.cluster import CellDatabase
from infra.local.drills import pitr

DATABASE = "booking"


def tenant_tables(conn: psycopg.Connection[Any]) -> list[str]:
    """Tenant-owned tables, parents before children (by foreign keys)."""
    tables = [r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0] "
        "WHERE i.indisprimary AND n.nspname = 'public' AND a.attname = 'tenant_id' ORDER BY 1")]
    graph: dict[str, set[str]] = {t: set() for t in tables}
    for child, parent in conn.execute(
            "SELECT cl.relname, ref.relname FROM pg_constraint co JOIN pg_class cl ON cl.oid = co.conrelid "
            "JOIN pg_class ref ON ref.oid = co.confrelid WHERE co.contype = 'f'"):
        if child in graph and parent in graph and child != parent:
            graph[child].add(parent)
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise SlotstackError(f"tenant tables have a foreign-key cycle {exc.args[1]}; the restore drill cannot "
                             "order them") from None


def _columns(conn: psycopg.Connection[Any], table: str) -> sql.Composed:
    names = [r[0] for r in conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
        "AND attgenerated = '' ORDER BY attnum", (f"public.{table}",))]
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def _copy_rows(source: psycopg.Connection[Any], target: psycopg.Connection[Any], table: str, where: str,
               value: object) -> int:
    """Copy the rows of `table` matching `where = value` from source to target; returns the count."""
    cols = _columns(source, table)
    ident = sql.Identifier("public", table)
    out = sql.SQL("COPY (SELECT {} FROM {} WHERE {} = {}) TO STDOUT (FORMAT binary)").format(
        cols, ident, sql.Identifier(where), sql.Literal(value))
    chunks: list[bytes] = []
    with source.cursor().copy(out) as copy:
        chunks.extend(bytes(block) for block in copy)
    with target.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(ident, cols)) as copy:
        for block in chunks:
            copy.write(block)
    row = target.execute(sql.SQL("SELECT count(*) FROM {} WHERE {} = %s").format(ident, sql.Identifier(where)),
                         (value,)).fetchone()
    return int(row[0]) if row else 0


def restore_tenant(db: CellDatabase, slug: str, at: datetime) -> dict[str, Any]:
    """Run the drill; returns the report (durations and per-table row counts)."""
    started = time.monotonic()
    scratch_dir = db.state.scratch(db.cell) / "tenant-restore"
    node = pitr.recover(db, at, scratch_dir, log=db.state.logs / f"restore-{db.cell}.log")
    recovered = time.monotonic()
    try:
        with psycopg.connect(node.dsn(DATABASE), autocommit=True) as old, \
                psycopg.connect(db.primary().dsn(DATABASE)) as live:
            row = old.execute("SELECT id FROM tenants WHERE slug = %s", (slug,)).fetchone()
            if row is None:
                raise SlotstackError(f"tenant {slug!r} did not exist in cell {db.cell} at {at.isoformat()}; "
                                     "check the slug (`GET /v1/directory/SLUG`) and the time")
            tenant_id = row[0]
            tables = tenant_tables(old)
            counts: dict[str, dict[str, int]] = {}
            with live.transaction():
                if live.execute("SELECT 1 FROM tenants WHERE id = %s", (tenant_id,)).fetchone() is None:
                    # The tenant itself was deleted: bring back its own row first.
                    _copy_rows(old, live, "tenants", "id", tenant_id)
                for table in reversed(tables):
                    deleted = live.execute(sql.SQL("DELETE FROM {} WHERE tenant_id = %s").format(
                        sql.Identifier("public", table)), (tenant_id,)).rowcount
                    counts[table] = {"before": deleted}
                for table in tables:
                    counts[table]["restored"] = _copy_rows(old, live, table, "tenant_id", tenant_id)
        replaced = time.monotonic()
    finally:
        node.stop()
        shutil.rmtree(scratch_dir, ignore_errors=True)
    return {
        "cell": db.cell,
        "tenant": slug,
        "tenant_id": str(tenant_id),
        "at": at.isoformat(),
        "recovery_seconds": round(recovered - started, 2),
        "replace_seconds": round(replaced - recovered, 3),
        "total_seconds": round(time.monotonic() - started, 2),
        "tables": {t: counts[t] for t in tables},
    }
