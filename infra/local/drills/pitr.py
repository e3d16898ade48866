"""Point-in-time recovery of a cell into a separate cluster: base backup + archived WAL up to TIME.

Used by the tenant restore drill (into a scratch cluster that is thrown away) and by the whole-cell
restore (whose result replaces the cell's primary).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from infra.errors import SlotstackError
from infra.local.db.cluster import CellDatabase
from infra.local.db.postgres import Node, give_to_db_user
from infra.local.drills import backups
from infra.local.lifecycle.ports import free_port


def parse_time(text: str) -> datetime:
    """ISO 8601 (a time without offset is UTC), or 'now'; the error shows the accepted forms."""
    if text.strip().lower() == "now":
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise SlotstackError(f"--at {text!r} is not a time; use ISO 8601 like 2026-11-27T09:30:00Z or "
                             "2026-11-27 10:30:00+01:00 (no offset means UTC)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)




def choose_backup(db: CellDatabase, at: datetime) -> backups.BaseBackup:
    """The newest base backup that finished before `at` (recovery cannot stop inside a backup)."""
    if at > datetime.now(UTC):
        raise SlotstackError(f"--at {at.isoformat()} is in the future; choose a moment that has passed")
    candidates = backups.base_backups(db)
    usable = [b for b in candidates if b.finished_at < at]
    if not usable:
        known = ", ".join(b.finished_at.isoformat(timespec="seconds") for b in candidates) or "none"
        raise SlotstackError(f"cell {db.cell} has no base backup that finished before {at.isoformat()} "
                             f"(backups: {known}); restore to a later time, or take backups regularly with "
                             f"`slotstack backup {db.cell}`")
    return usable[-1]


def recover(db: CellDatabase, at: datetime, target: Path, *, log: Path, timeout: float = 300) -> Node:
    """Start a new cluster in `target` recovered to `at`, promoted and accepting writes; return it.

    The caller stops the node (and removes `target`) when done.
    """
    backup = choose_backup(db, at)
    backups.verify(backup)
    if db.primary().pid() is not None:
        backups.force_archive(db)  # the WAL up to now must be in the archive for the target to be reachable
    if target.exists():
        shutil.rmtree(target)
    give_to_db_user(target.parent, 0o700)
    # cp -a keeps the database user's ownership and the 0700/0600 modes PostgreSQL insists on.
    subprocess.run(["cp", "-a", str(backup.path), str(target)], check=True)
    for stale in ("manifest.json", "backup_manifest", "standby.signal", "postmaster.pid"):
        (target / stale).unlink(missing_ok=True)
    node = Node(f"{db.cell}-restore", target, free_port(), log)
    node.ensure_include()
    archive = db.state.wal_archive(db.cell)
    # Same limits as the cell's servers (recovery refuses lower ones), but this copy archives nothing.
    node.configure({
        **db.settings_for(node, primary_port=None, sync_names=""),
        "archive_mode": "off",
        "restore_command": f"cp '{archive}/%f' %p",
        "recovery_target_time": at.isoformat(),
        "recovery_target_timeline": "latest",
        "recovery_target_action": "promote",
    })
    signal = target / "recovery.signal"
    signal.touch()
    shutil.chown(signal, target.owner(), target.group())
    node.start(timeout=timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if node.pid() is None:
            raise SlotstackError(f"recovery of cell {db.cell} to {at.isoformat()} stopped; see {log}")
        try:
            with psycopg.connect(node.dsn(), autocommit=True, connect_timeout=3) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                if row is not None and not row[0]:
                    return node
        except psycopg.OperationalError:
            pass
        time.sleep(0.2)
    node.stop()
    raise SlotstackError(f"recovery of cell {db.cell} to {at.isoformat()} did not finish in {timeout:.0f} s; see {log}")
