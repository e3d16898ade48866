"""`slotstack down`: stop the stack recorded in state.json, from any terminal.

The foreground `slotstack up`, if there is one, is asked to stop (SIGTERM) and stops its own
children; then every recorded process and every database node still running is stopped, so
`down` also cleans up after an `up` that was killed outright.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from infra import environment
from infra.errors import SlotstackError
from infra.local import procs
from infra.local.lifecycle import ports, state
from infra.local.lifecycle.stack import Say, databases, stop_in_order
from infra.local.paths import StateDir


def down(state_dir: StateDir, *, say: Say) -> int:
    """Stop the stack recorded in state.json: the foreground `up` if any, then every process and database."""
    data = state.load(state_dir)
    supervisor = data.get("supervisor")
    stopped = 0
    if supervisor:
        record = procs.ProcessRecord.from_json(supervisor)
        if procs.is_running(record):
            say(f"asking `slotstack up` (pid {record.pid}) to stop")
            os.kill(record.pid, signal.SIGTERM)
            stopped += 1
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and procs.is_running(record):
                time.sleep(0.1)
    records = [procs.ProcessRecord.from_json(r) for r in data.get("processes", [])]
    alive = [(r, None) for r in records if procs.is_running(r) or procs.group_members(r.pid)]
    env = environment.load(data.get("environment", "local"))
    dbs = [db for db in databases(state_dir, env, recorded_plan(data, env)).values() if db.running()]
    stop_in_order(alive, dbs, say)
    stopped += len(alive) + len(dbs)
    state.mark_stopped(state_dir)
    say("stopped" if stopped else "nothing was running")
    return 0


def recorded_plan(data: dict[str, Any], env: environment.Environment) -> ports.PortPlan:
    """The ports the recorded stack really uses (it may have been started with --port-base)."""
    try:
        recorded = data["ports"]
        cells = {name: ports.CellPorts(int(p["service"]), int(p["db_a"]), int(p["db_b"]))
                 for name, p in recorded["cells"].items() if name in env.cells}
        return ports.PortPlan(int(recorded["smtp"]), int(recorded["monitor"]), cells)
    except (KeyError, TypeError, ValueError) as exc:
        raise SlotstackError(f"state.json has no usable 'ports' ({exc}); stop leftover processes by hand "
                             "(`ps -ef | grep slotstack`) and delete the state directory's state.json") from None
