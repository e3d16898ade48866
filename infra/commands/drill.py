"""`slotstack drill failover|restore CELL`: rehearse the disaster-recovery runbooks on the local stack."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from infra.commands.up import add_state_dir, say
from infra.local.drills import failover, pitr
from infra.local.drills.context import open_cell
from infra.local.drills.tenant_restore import restore_tenant
from infra.local.lifecycle import tenants
from infra.local.lifecycle.state import write_json
from infra.local.paths import StateDir


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("drill", help="rehearse a disaster-recovery runbook on the local stack",
                                   description="Run a disaster-recovery drill against a running `slotstack up`.")
    drills = parser.add_subparsers(dest="drill", metavar="DRILL", required=True)
    fo = drills.add_parser(
        "failover", help="kill the cell's primary under load, promote the replica, report RTO/RPO",
        description="Under a steady booking write load, kill -9 the cell's PostgreSQL primary, promote the "
                    "replica, let the service reconnect, report RTO, RPO, client errors and what the monitor "
                    "sent, then rebuild a replica with pg_basebackup.")
    fo.add_argument("cell", metavar="CELL")
    fo.add_argument("--promote-after", type=float, default=0.0, metavar="S",
                    help="wait S seconds between the kill and the promotion (a slow or manual failover); "
                         "over ~12 s the monitor pages on-call")
    fo.add_argument("--monitor-wait", type=float, default=None, metavar="S",
                    help="wait up to S seconds for the monitor's page and recovery notice "
                         "(default: 60 with --promote-after, else 0)")
    fo.add_argument("--json", action="store_true", help="print the report as JSON only")
    add_state_dir(fo)
    fo.set_defaults(func=run_failover)
    rs = drills.add_parser(
        "restore", help="restore one tenant's rows as of a past time, other tenants untouched",
        description="Recover the cell to TIME in a scratch cluster (base backup + WAL archive), export the "
                    "tenant's rows and replace its live rows with them in one transaction.")
    rs.add_argument("cell", metavar="CELL")
    rs.add_argument("--tenant", required=True, metavar="SLUG")
    rs.add_argument("--at", required=True, metavar="TIME",
                    help="ISO 8601, e.g. 2026-11-27T09:30:00Z (UTC if no offset)")
    rs.add_argument("--json", action="store_true", help="print the report as JSON only")
    add_state_dir(rs)
    rs.set_defaults(func=run_restore)


def _save(state_dir: StateDir, kind: str, cell: str, report: dict[str, Any]) -> str:
    folder = state_dir.root / "drills"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{kind}-{cell}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    write_json(path, report)
    return str(path)


def run_failover(args: argparse.Namespace) -> int:
    state_dir = StateDir.at(args.state_dir)
    ctx = open_cell(state_dir, args.cell)
    quiet = (lambda _m: None) if args.json else say
    tenant = tenants.drill(ctx.url, ctx.name, ctx.cell.residency, ctx.secret(f"demo_password_{ctx.name}"))
    wait = args.monitor_wait if args.monitor_wait is not None else (60.0 if args.promote_after else 0.0)
    report = failover.run(ctx.db, ctx.url, tenant, outbox=state_dir.outbox, say=quiet,
                          promote_after_s=args.promote_after, monitor_wait_s=wait)
    ctx.save_roles()
    report["report_file"] = _save(state_dir, "failover", ctx.name, report)
    if args.json:
        print(json.dumps(report))
        return 0
    monitor = report["monitor"]
    print(f"""
failover drill, cell {report['cell']} ({report['replication']} replication)
  primary {report['old_primary']['node']} killed; {report['new_primary']['node']} promoted in {report['promote_s']} s
  RTO  {report['rto_s']} s (last acknowledged booking before the kill -> first after)
  RPO  {report['rpo_bookings']} acknowledged booking(s) missing of {report['acknowledged_bookings']}; \
replica lag at the kill: {report['lag_bytes_at_failure']} bytes
  client errors  {report['client_errors']} {report['client_error_kinds'] or ''}
  replica rebuilt with pg_basebackup in {report['replica_rebuilt_s']} s: {report['replica']}
  monitor  {len(monitor['emails'])} email(s), {len(monitor['sms'])} SMS{_no_page(report)}""")
    for item in monitor["sms"]:
        print(f"    SMS to {item['to']}: {item['text']}")
    for item in monitor["emails"]:
        print(f"    email to {item['to']}: {item['subject']}")
    print(f"  report  {report['report_file']}")
    return 0


def _no_page(report: dict[str, Any]) -> str:
    if report["monitor"]["sms"] or report["monitor"]["emails"]:
        return ""
    return (f" (no page: the outage was shorter than the monitor's detection window of "
            f"{report['monitor']['detection_window_s']} s, as it should be; --promote-after 20 shows a page)")


def run_restore(args: argparse.Namespace) -> int:
    state_dir = StateDir.at(args.state_dir)
    at = pitr.parse_time(args.at)
    ctx = open_cell(state_dir, args.cell)
    if not args.json:
        say(f"{ctx.name}: recovering the cell to {at.isoformat()} in a scratch cluster")
    report = restore_tenant(ctx.db, args.tenant, at)
    report["report_file"] = _save(state_dir, "restore", ctx.name, report)
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"\ntenant restore drill: {report['tenant']} in cell {report['cell']} as of {report['at']}")
    print(f"  recovery {report['recovery_seconds']} s, replace {report['replace_seconds']} s, "
          f"total {report['total_seconds']} s")
    for table, counts in report["tables"].items():
        print(f"  {table:<24} {counts['before']:>6} rows before -> {counts['restored']:>6} restored")
    print(f"  report  {report['report_file']}")
    return 0
