"""Run a Python snippet inside a network namespace of its own: whatever it connects to cannot leave the machine.

`unshare -n` gives the child an empty network stack; only its loopback is brought up, plus any address the test
adds to it (a "public" address that, in there, is just another name for loopback).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_isolated(code: str, *, addresses: tuple[str, ...] = (), timeout_s: float = 60) -> Any:
    """Run `code` with `unshare -n`; it must print one JSON line last, which is returned."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.fail("these attack tests need `unshare` and `ip` (util-linux, iproute2) and root")
    setup = ["ip link set lo up"] + [f"ip addr add {a}/32 dev lo" for a in addresses]
    script = "import subprocess\n" + "".join(f"subprocess.run({c.split()!r}, check=True)\n" for c in setup)
    script += textwrap.dedent(code)
    done = subprocess.run(["unshare", "-n", sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=timeout_s, cwd=ROOT)
    assert done.returncode == 0, f"the isolated snippet failed:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1])
