"""`slotstack restore CELL --at TIME`: point-in-time restore of a whole cell of the local stack."""

from __future__ import annotations

import argparse
import json

from infra.commands.up import add_state_dir, say
from infra.errors import SlotstackError
from infra.local.drills import pitr
from infra.local.drills.cell_restore import restore_cell
from infra.local.drills.context import open_cell
from infra.local.paths import StateDir


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "restore", help="restore a whole cell of the local stack to a point in time",
        description="Recover CELL's database to TIME from its newest earlier base backup and the WAL archive, "
                    "swap it in as the primary (the current data is kept beside it) and rebuild the replica. "
                    "Everything written after TIME in this cell is undone.")
    parser.add_argument("cell", metavar="CELL")
    parser.add_argument("--at", required=True, metavar="TIME",
                        help="ISO 8601, e.g. 2026-11-27T09:30:00Z (UTC if no offset)")
    parser.add_argument("--yes", action="store_true", help="confirm that writes after TIME in CELL are undone")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    add_state_dir(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    at = pitr.parse_time(args.at)
    ctx = open_cell(StateDir.at(args.state_dir), args.cell)
    if not args.yes:
        raise SlotstackError(f"restoring cell {ctx.name} to {at.isoformat()} undoes every write after it; "
                             "run again with --yes to confirm (or use `slotstack drill restore` for one tenant)")
    if not args.json:
        say(f"{ctx.name}: recovering to {at.isoformat()}")
    report = restore_cell(ctx.db, at)
    ctx.save_roles()
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"cell {report['cell']} restored to {report['at']}: recovery {report['recovery_seconds']} s, "
          f"database unavailable {report['downtime_seconds']} s, total {report['total_seconds']} s")
    for table, count in report["rows_after"].items():
        print(f"  {table:<24} {report['rows_before'].get(table, '?'):>6} -> {count:>6} rows")
    print(f"  previous data kept at {report['previous_data_kept_at']} (delete it when satisfied)")
    return 0
