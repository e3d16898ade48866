"""Stopping a recorded process group never signals a group that is not ours."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from infra.local import procs


def test_stop_leaves_a_recycled_pid_and_pid_zero_alone(tmp_path: Path) -> None:
    proc, record = procs.spawn("sleeper", ["sleep", "30"], env={"PATH": "/usr/bin:/bin"}, log=tmp_path / "s.log")
    try:
        # the state file says this pid is ours but with another start time: the pid was recycled
        stranger = procs.ProcessRecord("old", record.pid, record.started + 1, record.log)
        procs.stop(stranger, grace=0.2)
        assert proc.poll() is None, "stop() killed a process group that merely reuses a recorded pid"
        procs.stop(procs.ProcessRecord("zero", 0, 0, record.log), grace=0.2)  # would be our own group
        procs.stop(record, grace=5, proc=proc)  # the real record: stopped
        assert proc.wait(timeout=5) is not None
    finally:
        if proc.poll() is None:
            proc.kill()


def test_stop_kills_the_leftovers_of_a_group_whose_leader_died(tmp_path: Path) -> None:
    # a shell (the leader) that starts a child in its group and exits: the child is the leftover
    proc, record = procs.spawn("leader", ["sh", "-c", "sleep 30 & echo $! > child.pid"],
                               env={"PATH": "/usr/bin:/bin"}, log=tmp_path / "l.log", cwd=tmp_path)
    proc.wait(timeout=5)
    deadline = time.monotonic() + 5
    while not (tmp_path / "child.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int((tmp_path / "child.pid").read_text())
    assert child in procs.group_members(record.pid)
    procs.stop(record, grace=0.2)
    assert child not in procs.group_members(record.pid)
    subprocess.run(["true"], check=True)  # we are still alive, our group untouched
