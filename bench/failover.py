"""Failover benchmark: RTO, RPO and client errors of `slotstack drill failover` on this machine.

Starts a fresh local stack (temporary state dir, free ports), runs the failover drill RUNS times on
the synchronous cell `us` and once on the asynchronous cell `au` for comparison, stops the stack.
Reported: the median RTO of the `us` runs, the worst RPO and the worst client error count among them.
Last line: JSON {"rto_s", "rpo_bookings", "client_errors"}.
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from infra.local.lifecycle import ports

RUNS = 3
ROOT = Path(__file__).resolve().parents[1]
BLOCK = 11


def slotstack(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "infra.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=600, check=False)


def free_base() -> int:
    for _ in range(200):
        base = random.randrange(20000, 60000 - BLOCK)
        if not any(ports.in_use(base + i) for i in range(BLOCK)):
            return base
    raise SystemExit("no free block of ports")


def drill(state: Path, cell: str) -> dict[str, Any]:
    done = slotstack("drill", "failover", cell, "--json", "--state-dir", str(state))
    if done.returncode != 0:
        raise SystemExit(f"drill failover {cell} failed: {done.stderr}")
    return dict(json.loads(done.stdout))


def main() -> None:
    top = Path(tempfile.mkdtemp(prefix="slotstack-bench-"))
    state = top / "state"
    started = slotstack("up", "--detach", "--state-dir", str(state), "--port-base", str(free_base()))
    if started.returncode != 0:
        raise SystemExit(f"slotstack up failed: {started.stdout}{started.stderr}")
    try:
        runs = [drill(state, "us") for _ in range(RUNS)]
        async_run = drill(state, "au")
    finally:
        slotstack("down", "--state-dir", str(state))
        shutil.rmtree(top, ignore_errors=True)
    print(f"{'cell':<5} {'replication':<13} {'RTO s':>7} {'promote s':>9} {'RPO':>4} {'acked':>6} {'errors':>6}  kinds")
    for run in [*runs, async_run]:
        print(f"{run['cell']:<5} {run['replication']:<13} {run['rto_s']:>7.3f} {run['promote_s']:>9.3f} "
              f"{run['rpo_bookings']:>4} {run['acknowledged_bookings']:>6} {run['client_errors']:>6}  "
              f"{run['client_error_kinds']}")
    print(f"async cell au: replication lag at the kill {async_run['lag_bytes_at_failure']} bytes, "
          f"RPO {async_run['rpo_bookings']} bookings")
    print(json.dumps({
        "rto_s": round(statistics.median(r["rto_s"] for r in runs), 3),
        "rpo_bookings": max(r["rpo_bookings"] for r in runs),
        "client_errors": max(r["client_errors"] for r in runs),
    }))


if __name__ == "__main__":
    main()
