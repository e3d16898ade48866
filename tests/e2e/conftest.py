"""One real local stack for the e2e module: `slotstack up` in the foreground, in a fresh temp dir.

Ports come from a block found free at test time (`--port-base`), so the suite never collides with a
`make up` running on the same machine, nor with another test run.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.local import procs
from infra.local.lifecycle import ports

CELLS = 3
BLOCK = 2 + ports.PORTS_PER_CELL * CELLS
STARTUP_TIMEOUT_S = 300
ROOT = Path(__file__).resolve().parents[2]


def slotstack(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run the real CLI, as a user would."""
    return subprocess.run([sys.executable, "-m", "infra.cli", *args], capture_output=True, text=True,
                          timeout=timeout, check=False, cwd=ROOT)


def free_port_base() -> int:
    """A base with BLOCK consecutive free ports on 127.0.0.1 (bounded number of attempts)."""
    for _ in range(200):
        # Below the kernel's ephemeral range (32768+), so ports other tests bind to port 0 never land in it.
        base = random.randrange(20000, 32768 - BLOCK)
        if not any(ports.in_use(base + i) for i in range(BLOCK)):
            return base
    raise RuntimeError(f"no block of {BLOCK} free ports found")


@dataclass
class Stack:
    """A running stack: its state dir, port base, the foreground `slotstack up` and its output file."""

    state_dir: Path
    port_base: int
    process: subprocess.Popen[str]
    output: Path

    def state(self) -> dict[str, Any]:
        return json.loads((self.state_dir / "state.json").read_text())

    def cli(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return slotstack(*args, "--state-dir", str(self.state_dir), timeout=timeout)


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that mention `text` (e.g. the state dir)."""
    found = []
    for pid, _ in procs.live_processes():
        cmdline = procs.command_line(pid) if pid != os.getpid() else None
        if cmdline is not None and text in cmdline:
            found.append(f"{pid}: {cmdline.strip()}")
    return found


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    # Not under pytest's tmp_path: every new pytest session on the machine resets its base folder to
    # 0700, which would lock the unprivileged PostgreSQL user out of its data in the middle of the run.
    top = Path(tempfile.mkdtemp(prefix="slotstack-e2e-"))
    state_dir = top / "state"
    base = free_port_base()
    output = state_dir.parent / "up.out"
    with open(output, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "infra.cli", "up", "local", "--state-dir", str(state_dir), "--port-base", str(base)],
            stdout=out, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    running = Stack(state_dir, base, process, output)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"slotstack up exited with {process.returncode}:\n{output.read_text()}")
            if "press Ctrl-C to stop" in output.read_text():
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"slotstack up did not finish starting in {STARTUP_TIMEOUT_S} s:\n{output.read_text()}")
        yield running
    finally:
        # Whatever the tests did, leave nothing running.
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
        if (state_dir / "state.json").exists():
            slotstack("down", "--state-dir", str(state_dir))
        # Keep the last run's logs (git-ignored) for whoever has to explain a failure.
        artifacts = ROOT / "tests" / "artifacts" / "e2e-logs"
        shutil.rmtree(artifacts, ignore_errors=True)
        if (state_dir / "logs").exists():
            shutil.copytree(state_dir / "logs", artifacts)
            shutil.copy(output, artifacts / "slotstack-up.out")
        shutil.rmtree(top, ignore_errors=True)
