"""`slotstack backup CELL`: a base backup, the WAL archive and a logical dump, each with sha256 sums.

Layout under `.slotstack/backups/<cell>/`:
  wal/                    every WAL segment, copied by the servers' archive_command
  base/<stamp>/           pg_basebackup (plain format) + manifest.json (sha256 of every file)
  logical/<stamp>.dump    pg_dump -Fc of the booking database + <stamp>.dump.sha256

A base backup plus the WAL archive is the local analogue of the cloud's point-in-time restore; the
logical dump is what a tenant export or a cross-version restore would start from.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from infra.errors import SlotstackError
from infra.local.db.cluster import CellDatabase
from infra.local.db.postgres import SUPERUSER, give_to_db_user, run_as_db_user
from infra.local.lifecycle.state import write_json

STAMP = "%Y%m%dT%H%M%S%fZ"


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class BaseBackup:
    """One base backup: where it is and when it became consistent (restores can start after that)."""

    path: Path
    finished_at: datetime

    @property
    def manifest(self) -> Path:
        return self.path / "manifest.json"


def write_manifest(folder: Path, extra: dict[str, Any]) -> dict[str, Any]:
    """sha256 of every file under `folder` (except the manifest itself), written to manifest.json."""
    files = {str(p.relative_to(folder)): sha256_of(p) for p in sorted(folder.rglob("*"))
             if p.is_file() and p.name != "manifest.json"}
    manifest = {**extra, "algorithm": "sha256", "files": files}
    write_json(folder / "manifest.json", manifest, mode=0o600)
    return manifest


def verify(backup: BaseBackup) -> int:
    """Check every file against the manifest; raise naming the first mismatch. Returns the file count."""
    try:
        manifest = json.loads(backup.manifest.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SlotstackError(f"{backup.manifest}: unreadable manifest ({exc}); this backup cannot be trusted, "
                             "take a new one with `slotstack backup CELL`") from None
    for name, expected in manifest["files"].items():
        path = backup.path / name
        if not path.is_file():
            raise SlotstackError(f"backup {backup.path.name}: {name} is missing; take a new backup")
        if sha256_of(path) != expected:
            raise SlotstackError(f"backup {backup.path.name}: {name} does not match its sha256 in the manifest "
                                 "(corrupted or modified); restore from an older backup or take a new one")
    return len(manifest["files"])


def base_backups(db: CellDatabase) -> list[BaseBackup]:
    """The cell's base backups, oldest first."""
    root = db.state.backups(db.cell) / "base"
    found = []
    for manifest in sorted(root.glob("*/manifest.json")):
        data = json.loads(manifest.read_text())
        found.append(BaseBackup(manifest.parent, datetime.fromisoformat(data["finished_at"])))
    return sorted(found, key=lambda b: b.finished_at)


def force_archive(db: CellDatabase, timeout: float = 30) -> str:
    """Commit a marker transaction, switch WAL and wait until that segment is archived.

    After this, everything committed up to now is in the archive, and there is a commit record newer
    than any earlier moment, which point-in-time recovery needs to know that it reached its target.
    """
    with psycopg.connect(db.primary().dsn(), autocommit=True) as conn:
        conn.execute("SELECT pg_current_xact_id()")  # a transaction with an xid writes a timestamped commit
        row = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
        assert row is not None
        segment = str(row[0])
        deadline = time.monotonic() + timeout
        stat: tuple[object, ...] | None = None
        while time.monotonic() < deadline:
            stat = conn.execute("SELECT last_archived_wal, last_failed_wal FROM pg_stat_archiver").fetchone()
            assert stat is not None
            # Names sort by timeline then position: at or past our segment means it is archived.
            if stat[0] is not None and str(stat[0])[:24] >= segment:
                return segment
            time.sleep(0.1)
    raise SlotstackError(f"cell {db.cell}: WAL segment {segment} was not archived within {timeout:.0f} s "
                         f"(last failure: {stat[1] if stat else None}); "
                         f"check {db.primary().log} for archive_command errors")


def take(db: CellDatabase) -> dict[str, Any]:
    """Base backup + logical dump of a running cell; returns what was written, with timings."""
    primary = db.primary()
    if primary.pid() is None:
        raise SlotstackError(f"cell {db.cell}: the primary (port {primary.port}) is not running; "
                             "start the stack with `slotstack up`")
    started = time.monotonic()
    stamp = datetime.now(UTC).strftime(STAMP)
    base_root = db.state.backups(db.cell) / "base"
    give_to_db_user(db.state.backups(db.cell), 0o750)
    give_to_db_user(base_root, 0o750)
    target = base_root / stamp
    run_as_db_user(["pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", SUPERUSER, "-D", str(target),
                    "-Fp", "-X", "stream", "-c", "fast", "--manifest-checksums=SHA256", "-l", f"slotstack {stamp}"],
                   timeout=900, what=f"base backup of cell {db.cell}")
    run_as_db_user(["pg_verifybackup", "-n", str(target)], what=f"pg_verifybackup of {target}")
    finished = datetime.now(UTC)
    segment = force_archive(db)
    manifest = write_manifest(target, {"cell": db.cell, "kind": "base", "finished_at": finished.isoformat(),
                                       "source_port": primary.port, "archived_through": segment})
    base_seconds = time.monotonic() - started
    logical_root = db.state.backups(db.cell) / "logical"
    give_to_db_user(logical_root, 0o750)
    dump = logical_root / f"{stamp}.dump"
    run_as_db_user(["pg_dump", "-h", "127.0.0.1", "-p", str(primary.port), "-U", SUPERUSER, "-Fc", "-f", str(dump),
                    "booking"], timeout=900, what=f"logical dump of cell {db.cell}")
    dump_sum = sha256_of(dump)
    dump.with_name(dump.name + ".sha256").write_text(f"{dump_sum}  {dump.name}\n")
    return {
        "cell": db.cell,
        "base_backup": str(target),
        "base_files": len(manifest["files"]),
        "base_bytes": sum(p.stat().st_size for p in target.rglob("*") if p.is_file()),
        "base_seconds": round(base_seconds, 2),
        "finished_at": finished.isoformat(),
        "logical_dump": str(dump),
        "logical_sha256": dump_sum,
        "wal_archive": str(db.state.wal_archive(db.cell)),
        "wal_segments": sum(1 for _ in db.state.wal_archive(db.cell).glob("0*")),
        "seconds": round(time.monotonic() - started, 2),
    }


def _start_segment(backup: BaseBackup) -> str:
    """The first WAL segment a base backup needs, from its backup_label."""
    label = (backup.path / "backup_label").read_text()
    found = re.search(r"START WAL LOCATION: \S+ \(file ([0-9A-F]{24})\)", label)
    if found is None:
        raise SlotstackError(f"{backup.path}/backup_label has no START WAL LOCATION; not pruning anything")
    return found.group(1)


def prune(db: CellDatabase, keep: int) -> dict[str, Any]:
    """Keep the newest `keep` base backups (and their dumps); drop WAL older than the oldest kept one.

    Like the cloud's retention period: a restore can only go back to the oldest kept base backup.
    """
    if keep < 1:
        raise SlotstackError(f"--keep {keep}: keep at least 1 base backup, or nothing could be restored")
    kept = base_backups(db)
    dropped = kept[:-keep]
    kept = kept[-keep:]
    for backup in dropped:
        shutil.rmtree(backup.path)
        for dump in (db.state.backups(db.cell) / "logical").glob(f"{backup.path.name}.dump*"):
            dump.unlink()
    removed = 0
    if kept:
        archive = db.state.wal_archive(db.cell)
        before = sum(1 for _ in archive.iterdir())
        run_as_db_user(["pg_archivecleanup", str(archive), _start_segment(kept[0])],
                       what=f"pruning the WAL archive of cell {db.cell}")
        removed = before - sum(1 for _ in archive.iterdir())
    return {"base_backups_removed": len(dropped), "wal_segments_removed": removed,
            "oldest_restorable": kept[0].finished_at.isoformat() if kept else None}
