"""`slotstack restore CELL --at TIME`: put the whole cell back to a moment (point-in-time restore).

The cloud counterpart is Azure Flexible Server's point-in-time restore into a new server followed by
repointing the app. Locally: recover into a new data directory, then swap it in as the primary
(the old one is kept beside it, not deleted) and clone a fresh standby from it.
"""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from infra.local.db.cluster import CellDatabase
from infra.local.drills import pitr
from infra.local.drills.tenant_restore import DATABASE, tenant_tables


def row_counts(dsn: str) -> dict[str, int]:
    """Rows per tenant-owned table, plus tenants."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = ["tenants", *tenant_tables(conn)]
        counts = {}
        for table in tables:
            row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("public", table))).fetchone()
            counts[table] = int(row[0]) if row else 0
    return counts


def restore_cell(db: CellDatabase, at: datetime) -> dict[str, Any]:
    """Replace the cell's database with its state at `at`; returns the report."""
    started = time.monotonic()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = db.state.data(db.cell) / "restoring"
    node = pitr.recover(db, at, target, log=db.state.logs / f"restore-{db.cell}.log")
    try:
        counts = row_counts(node.dsn(DATABASE))
    finally:
        node.stop()
    recovered = time.monotonic()
    primary, standby = db.primary(), db.standby()
    before = row_counts(primary.dsn(DATABASE)) if primary.pid() is not None else {}
    db.stop()
    kept = db.state.data(db.cell) / f"pre-restore-{stamp}"
    shutil.move(primary.datadir, kept)
    shutil.move(target, primary.datadir)
    db.configure_primary(primary, with_standby=False)
    primary.start()
    serving = time.monotonic()
    db.clone_standby(standby, primary)
    standby.start()
    db.wait_streaming()
    return {
        "cell": db.cell,
        "at": at.isoformat(),
        "recovery_seconds": round(recovered - started, 2),
        "downtime_seconds": round(serving - recovered, 2),
        "total_seconds": round(time.monotonic() - started, 2),
        "rows_before": before,
        "rows_after": counts,
        "previous_data_kept_at": str(kept),
    }
