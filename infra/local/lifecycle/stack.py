"""`slotstack up`: start every cell of an environment on this machine (stopping is in teardown.py).

Order of start: the ports are checked (nothing starts if one is taken), then per cell the database
pair and its migrations, the SMTP sink, the booking services, the demo tenants, the monitor. Stop is
the reverse. Anything that fails part-way stops what this run had started, so a failed `up` leaves
the machine as it was (the data directories stay for the next attempt).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from infra import environment
from infra.errors import SlotstackError
from infra.local import procs
from infra.local.db.cluster import CellDatabase
from infra.local.db.postgres import Node
from infra.local.lifecycle import monitor_config, ports, services, state, tenants
from infra.local.lifecycle.report import url_table
from infra.local.paths import StateDir

Say = Callable[[str], None]


@dataclass
class Running:
    """What this `up` has started so far, so that a failure or Ctrl-C can stop exactly that."""

    state_dir: StateDir
    databases: list[CellDatabase] = field(default_factory=list)
    started: list[services.Started] = field(default_factory=list)

    def stop(self, say: Say) -> None:
        """Stop everything started so far (see stop_in_order)."""
        stop_in_order([(r, p) for p, r in self.started], self.databases, say)
        self.started.clear()
        self.databases.clear()


def stop_in_order(processes: Sequence[tuple[procs.ProcessRecord, subprocess.Popen[bytes] | None]],
                  dbs: Sequence[CellDatabase], say: Say) -> None:
    """The monitor first (so it pages nobody about the shutdown), then the other processes side by
    side, then the cells' databases side by side (each primary before its replica)."""
    first = [item for item in processes if item[0].name == "monitor"]
    rest = [item for item in processes if item[0].name != "monitor"]

    def stop_process(item: tuple[procs.ProcessRecord, subprocess.Popen[bytes] | None]) -> None:
        say(f"stopping {item[0].name} (pid {item[0].pid})")
        procs.stop(item[0], proc=item[1])

    def stop_db(db: CellDatabase) -> None:
        say(f"stopping PostgreSQL of cell {db.cell}")
        db.stop()

    for item in first:
        stop_process(item)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(stop_process, rest))
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(stop_db, dbs))


def databases(state_dir: StateDir, env: environment.Environment, plan: ports.PortPlan) -> dict[str, CellDatabase]:
    """The database pair of every cell, from the environment and the port plan."""
    return {name: CellDatabase.of(state_dir, name, (plan.cells[name].db_a, plan.cells[name].db_b),
                                  cell.local.replication == "synchronous")
            for name, cell in env.cells.items()}


def refuse_if_running(state_dir: StateDir) -> None:
    """One stack per state directory: refuse if any of its processes or database nodes still runs."""
    previous = state.load_or_empty(state_dir)
    alive = [f"{r.name} (pid {r.pid})" for r in _records(previous) if procs.is_running(r)]
    for datadir in sorted(state_dir.root.glob("data/*/[ab]")):
        pid = Node(f"{datadir.parent.name}-{datadir.name}", datadir, 0, datadir).pid()
        if pid is not None:
            alive.append(f"PostgreSQL {datadir.parent.name}-{datadir.name} (pid {pid})")
    if alive:
        names = ", ".join(alive)
        raise SlotstackError(f"a stack from {state_dir.root} is already running: {names}; "
                             "stop it with `slotstack down` first")


def up(env_name: str, state_dir: StateDir, *, port_base: int | None, say: Say,
       channels: dict[str, Any] | None = None) -> tuple[Running, dict[str, Any]]:
    """Start everything; return what runs and the state written to state.json.

    `channels` (from `--channels FILE`) replace the monitor's local email and SMS sinks.
    """
    env = environment.load(env_name)
    plan = ports.plan(env, port_base)
    refuse_if_running(state_dir)
    ports.check_free(plan)
    state_dir.create()
    secret = state.stack_secrets(state_dir, list(env.cells))
    running = Running(state_dir)
    try:
        return running, _start(env, plan, state_dir, secret, running, say, channels)
    except BaseException:
        say("start failed; stopping what was started")
        running.stop(say)
        state.mark_stopped(state_dir)
        raise


def _start(env: environment.Environment, plan: ports.PortPlan, state_dir: StateDir, secret: dict[str, str],
           running: Running, say: Say, channels: dict[str, Any] | None) -> dict[str, Any]:
    t0 = time.monotonic()
    monitor_url = f"http://127.0.0.1:{plan.monitor}"
    data: dict[str, Any] = {
        "environment": env.name,
        "state_dir": str(state_dir.root),
        "status": "starting",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "supervisor": None,
        "ports": {"smtp": plan.smtp, "monitor": plan.monitor,
                  "cells": {n: {"service": p.service, "db_a": p.db_a, "db_b": p.db_b} for n, p in plan.cells.items()}},
        "smtp": {"host": "127.0.0.1", "port": plan.smtp, "outbox": str(state_dir.outbox)},
        "monitor": {"url": monitor_url, "status_page": f"{monitor_url}/status/",
                    "sms_outbox": str(state_dir.sms_outbox)},
        "cells": {},
        "processes": [],
    }
    state.save(state_dir, data)  # from here on `slotstack down` can clean up even if this process dies

    def track(started: services.Started) -> services.Started:
        running.started.append(started)
        data["processes"].append(started[1].to_json())
        state.save(state_dir, data)
        return started

    dbs = databases(state_dir, env, plan)
    running.databases.extend(dbs.values())

    def database_of(name: str) -> None:
        dbs[name].start(say)
        say(f"{name}: migrating the booking schema")
        services.migrate(name, dbs[name].primary().dsn(), state_dir.logs / f"migrate-{name}.log")

    # Cells are independent: start their databases side by side (initdb and migrations wait on disk).
    with ThreadPoolExecutor(max_workers=len(dbs)) as pool:
        for future in [pool.submit(database_of, name) for name in dbs]:
            future.result()
    say(f"starting the SMTP sink on port {plan.smtp}")
    track(services.start_smtp(plan.smtp, state_dir.outbox, state_dir.logs / "smtp.log"))
    urls = {name: f"http://127.0.0.1:{plan.cells[name].service}" for name in env.cells}
    booking: dict[str, services.Started] = {}
    peer_key = secret[state.PEER_KEY]  # one for the stack: every cell signs and checks cross-cell calls with it
    for name, db in dbs.items():
        say(f"{name}: starting the booking service on {urls[name]}")
        booking[name] = track(services.start_booking(
            name, plan.cells[name].service, database_url=db.dsn_all("booking", "booking_app"),
            secret_key=secret[f"secret_key_{name}"], peer_key=peer_key, cell_urls=urls,
            log=state_dir.logs / f"booking-{name}.log", smtp_port=plan.smtp))
    # every cell must answer before any tenant is created: signup asks all the others whether the slug is
    # free, and refuses (503) while one of them cannot be asked
    for name in env.cells:
        services.wait_until(services.http_ok(f"{urls[name]}/readyz"), what=f"booking service of cell {name}",
                            timeout=90, started=booking[name])
    demo: dict[str, tenants.Tenant] = {}
    for name, cell in env.cells.items():
        demo[name] = tenants.demo(urls[name], name, cell.residency, secret[f"demo_password_{name}"],
                                  env=services.booking_env(name, dbs[name].dsn_all("booking", "booking_app"), urls,
                                                           peer_key=peer_key),
                                  log=state_dir.logs / f"booking-cli-{name}.log")
        say(f"{name}: ready, demo tenant {demo[name].slug}")
    config = monitor_config.write(env, plan, state_dir, channels)
    data["monitor"]["config"] = str(config)
    say(f"starting the monitor on port {plan.monitor}")
    monitor = track(services.start_monitor(config, secret["ack_secret"], state_dir.logs / "monitor.log"))
    services.wait_until(services.http_ok(f"{monitor_url}/status/"), what="uptime monitor", timeout=60,
                        started=monitor)
    data["cells"] = {name: _cell_state(env.cells[name], urls[name], dbs[name], demo[name], booking[name][1])
                     for name in env.cells}
    data["status"] = "running"
    data["startup_seconds"] = round(time.monotonic() - t0, 1)
    state.save(state_dir, data)
    return data


def _cell_state(cell: environment.Cell, url: str, db: CellDatabase, demo: tenants.Tenant,
                service: procs.ProcessRecord) -> dict[str, Any]:
    primary, standby = db.primary(), db.standby()
    return {
        "url": url,
        "residency": cell.residency,
        "hostname": cell.hostname,
        "replication": cell.local.replication,
        "demo_tenant": {**demo.to_json(), "page": f"{url}/{demo.slug}"},
        "database": {
            "app_dsn": db.dsn_all("booking", "booking_app"),
            "primary": {"node": primary.name, "port": primary.port, "dsn": primary.dsn("booking"),
                        "pid": primary.pid()},
            "replica": {"node": standby.name, "port": standby.port, "dsn": standby.dsn("booking"),
                        "pid": standby.pid()},
        },
        "pids": {"service": service.pid, "primary": primary.pid(), "replica": standby.pid()},
    }


def _records(data: dict[str, Any]) -> list[procs.ProcessRecord]:
    records = [procs.ProcessRecord.from_json(r) for r in data.get("processes", [])]
    if data.get("supervisor"):
        records.append(procs.ProcessRecord.from_json(data["supervisor"]))
    return records


def serve_foreground(running: Running, data: dict[str, Any], say: Say) -> None:
    """Block until Ctrl-C, SIGTERM (what `slotstack down` sends) or a process dying; then stop all."""
    me = procs.ProcessRecord("slotstack-up", os.getpid(), procs.start_ticks(os.getpid()) or 0, "")
    data["supervisor"] = me.to_json()
    state.save(running.state_dir, data)

    def terminate(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # Explicit handlers: a shell that starts us in the background would otherwise leave SIGINT ignored.
    previous = {sig: signal.signal(sig, terminate) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            dead = [(p, r) for p, r in running.started if p.poll() is not None]
            if dead:
                proc, record = dead[0]
                say(f"{record.name} exited with code {proc.returncode} (log {record.log}); stopping the stack")
                break
            time.sleep(0.5)
    except KeyboardInterrupt:
        say("stopping (Ctrl-C)")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        running.stop(say)
        state.mark_stopped(running.state_dir)
        say("stopped; the data stays in " + str(running.state_dir.root) + " for the next `slotstack up`")


__all__ = ["Running", "databases", "serve_foreground", "up", "url_table"]
