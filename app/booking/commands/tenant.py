"""`booking tenant export|import|verify|erase|plan` and `booking retention run`: moving, erasing, plans."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from booking.archive import checksums, export_tenant, import_tenant, read_manifest
from booking.db import Conn, global_tx, make_pool, tenant_tx
from booking.embedded import start_migrated
from booking.errors import ApiError
from booking.migrate import head_revision
from booking.secrets.keystore import KeyStore, LocalKeyStore


class TenantCliError(Exception):
    """Configuration the command needs is missing; the message says what to set."""


@contextmanager
def _pool(args: argparse.Namespace) -> Iterator[Any]:
    url = os.environ.get("DATABASE_URL")
    if not url:
        if not getattr(args, "data_dir", None):
            raise TenantCliError("set DATABASE_URL (the service role's URL) or pass --data-dir")
        _server, _owner, url = start_migrated(args.data_dir)
    pool = make_pool(url, min_size=1, max_size=2)
    pool.open(wait=True, timeout=30)
    try:
        yield pool
    finally:
        pool.close()


def _keys(args: argparse.Namespace) -> KeyStore | None:
    key_dir = os.environ.get("KEY_DIR") or (str(Path(args.data_dir) / "keys") if args.data_dir else "")
    return LocalKeyStore(Path(key_dir)) if key_dir else None


def _tenant_id(conn: Conn, slug: str, cell: str) -> uuid.UUID:
    row = conn.execute("SELECT tenant_id, home_cell FROM tenant_directory WHERE slug = %s", (slug,)).fetchone()
    if row is None or row["home_cell"] != cell:
        raise ApiError(404, f"no tenant {slug!r} is homed in cell {cell!r}")
    return uuid.UUID(str(row["tenant_id"]))


def cmd_export(args: argparse.Namespace) -> int:
    """Write the tenant's archive (for a move) and print its manifest summary."""
    cell = os.environ.get("CELL", "us")
    with _pool(args) as pool:
        with global_tx(pool) as conn:
            tenant_id = _tenant_id(conn, args.slug, cell)
        with tenant_tx(pool, tenant_id) as conn:
            archive = export_tenant(conn, tenant_id, head_revision(), scope="move")
    Path(args.out).write_bytes(archive)
    os.chmod(args.out, 0o600)  # it holds personal data and password hashes
    manifest = read_manifest(archive)
    print(json.dumps({"out": args.out, "sha256": hashlib.sha256(archive).hexdigest(), "tenant_id": str(tenant_id),
                      "tables": manifest["tables"]}))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Import an archive into this cell, verify it in the same transaction, and make this cell its home."""
    cell = os.environ.get("CELL", "us")
    archive = Path(args.archive).read_bytes()
    manifest = read_manifest(archive)
    tenant_id = uuid.UUID(manifest["tenant_id"])
    with _pool(args) as pool, tenant_tx(pool, tenant_id) as conn:
        found = conn.execute("SELECT home_cell FROM tenant_directory WHERE slug = %s", (manifest["slug"],)).fetchone()
        if found is not None and found["home_cell"] == cell:
            raise ApiError(409, f"tenant {manifest['slug']!r} already lives in cell {cell!r}")
        import_tenant(conn, archive, head_revision(), cell)
        conn.execute("INSERT INTO tenant_directory (slug, tenant_id, home_cell) VALUES (%s, %s, %s) "
                     "ON CONFLICT (slug) DO UPDATE SET home_cell = EXCLUDED.home_cell, updated_at = now()",
                     (manifest["slug"], tenant_id, cell))
    print(json.dumps({"imported": manifest["slug"], "tenant_id": str(tenant_id), "cell": cell, "verified": True,
                      "tables": manifest["tables"]}))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Compare what this cell holds for the archive's tenant with the archive (exit 1 on any difference)."""
    archive = Path(args.archive).read_bytes()
    manifest = read_manifest(archive)
    with _pool(args) as pool, tenant_tx(pool, uuid.UUID(manifest["tenant_id"])) as conn:
        found = checksums(conn)
    diff = sorted(t for t, v in manifest["tables"].items() if found[t] != v)
    print(json.dumps({"tenant_id": manifest["tenant_id"], "matches": not diff, "differs": diff}))
    return 0 if not diff else 1


def cmd_erase(args: argparse.Namespace) -> int:
    """Erase a tenant in this cell (after a verified import elsewhere, pass --moved-to that cell)."""
    from booking.privacy import erase_tenant
    from booking.providers import http_revoker

    cell = os.environ.get("CELL", "us")
    with _pool(args) as pool:
        with global_tx(pool) as conn:
            tenant_id = _tenant_id(conn, args.slug, cell)
        result = erase_tenant(pool, _keys(args), http_revoker(), tenant_id, actor="system:cli", moved_to=args.moved_to)
    print(json.dumps(result))
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    """Change a tenant's plan (after billing says so); moving to free disconnects its integrations."""
    from booking.plans import change_plan
    from booking.providers import http_revoker

    cell = os.environ.get("CELL", "us")
    with _pool(args) as pool:
        with global_tx(pool) as conn:
            tenant_id = _tenant_id(conn, args.slug, cell)
        result = change_plan(pool, _keys(args), http_revoker(), tenant_id, args.plan, actor="system:cli")
    print(json.dumps(result, default=str))
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    """Apply every tenant's retention setting now (run daily, e.g. from a systemd timer)."""
    from booking.privacy import apply_retention
    from booking.retention_job import ping_heartbeat

    with _pool(args) as pool:
        done = apply_retention(pool, os.environ.get("CELL", "us"), datetime.now(UTC))
    print(json.dumps({"erased": done}))
    ping_heartbeat(os.environ.get("RETENTION_HEARTBEAT_URL"))
    return 0


def add_parsers(sub: Any) -> None:
    """Register the subcommands on the `booking` parser."""
    t = sub.add_parser("tenant", help="move, erase or re-plan a tenant: export, import, verify, erase, plan")
    tsub = t.add_subparsers(dest="tenant_command", required=True)
    e = tsub.add_parser("export", help="write the tenant's archive")
    e.add_argument("--slug", required=True)
    e.add_argument("--out", required=True)
    i = tsub.add_parser("import", help="import an archive into this cell ($CELL) and verify it")
    i.add_argument("archive")
    v = tsub.add_parser("verify", help="compare this cell's copy of a tenant with its archive")
    v.add_argument("archive")
    x = tsub.add_parser("erase", help="erase a tenant in this cell and shred its data key")
    x.add_argument("--slug", required=True)
    x.add_argument("--moved-to", help="cell the tenant now lives in; this cell then answers 421 towards it")
    pl = tsub.add_parser("plan", help="change a tenant's plan (an operator's decision, not a tenant API)")
    pl.add_argument("--slug", required=True)
    pl.add_argument("--plan", required=True, help="free or pro; free disconnects every integration")
    for p, func in ((e, cmd_export), (i, cmd_import), (v, cmd_verify), (x, cmd_erase), (pl, cmd_plan)):
        p.add_argument("--data-dir", help="embedded PostgreSQL data directory (used when DATABASE_URL is unset)")
        p.set_defaults(func=func)
    r = sub.add_parser("retention", help="erase bookings and customers older than each tenant's retention")
    rsub = r.add_subparsers(dest="retention_command", required=True)
    run = rsub.add_parser("run", help="apply retention now")
    run.add_argument("--data-dir")
    run.set_defaults(func=cmd_retention)
