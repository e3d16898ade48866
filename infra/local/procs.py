"""Start and stop the stack's long-running processes, each in its own process group.

A process is remembered by pid *and* start time (from /proc), so `slotstack down` in another
terminal never signals an unrelated process that happens to reuse a pid. Stopping signals the whole
group (SIGTERM, then SIGKILL after a grace period), so workers a server forked die with it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ProcessRecord:
    """What state.json keeps about one supervised process."""

    name: str
    pid: int
    started: int
    log: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProcessRecord:
        return cls(str(data["name"]), int(data["pid"]), int(data["started"]), str(data["log"]))


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    if fields[0] == "Z":
        return None
    return int(fields[19])


def live_processes() -> Iterator[tuple[int, list[str]]]:
    """(pid, the fields of /proc/PID/stat after the command name) of every live (non-zombie) process."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone between listing and reading
        if fields[0] != "Z":
            yield int(entry.name), fields


def command_line(pid: int) -> str | None:
    """The process's command line with spaces between arguments, or None if it is gone."""
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None


def group_members(pgid: int) -> list[int]:
    """Live processes in process group `pgid`."""
    return [pid for pid, fields in live_processes() if int(fields[2]) == pgid]


def spawn(name: str, argv: list[str], *, env: Mapping[str, str], log: Path,
          cwd: Path | None = None) -> tuple[subprocess.Popen[bytes], ProcessRecord]:
    """Start `argv` in a new session (so Ctrl-C reaches only us) with output appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, env=dict(env), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                cwd=cwd, start_new_session=True)
    ticks = start_ticks(proc.pid) or 0
    return proc, ProcessRecord(name, proc.pid, ticks, str(log))


def is_running(record: ProcessRecord) -> bool:
    """True if the recorded process (same pid and start time) is still alive."""
    return start_ticks(record.pid) == record.started


def stop(record: ProcessRecord, *, grace: float = 10.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """SIGTERM the process group, wait up to `grace` seconds, then SIGKILL whatever is left of it.

    Leftovers of a group whose leader died (e.g. workers after a crash) are ours to kill; a group whose
    leader pid now belongs to another process (a recycled pid, other start time) is not, and neither is
    pid 0 or 1 (killpg(0) would signal our own group).
    """
    if record.pid <= 1:
        return
    if is_running(record):
        _signal_group(record.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and is_running(record):
            if proc is not None:
                proc.poll()  # reap our own child so it does not linger as a zombie
            time.sleep(0.05)
    leader = start_ticks(record.pid)
    if leader is not None and leader != record.started:
        return
    _signal_group(record.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and group_members(record.pid):
        time.sleep(0.05)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def process_env(extra: Mapping[str, str]) -> dict[str, str]:
    """Our environment plus `extra`, with Python output unbuffered so logs are live."""
    env = dict(os.environ)
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env
