"""`.slotstack/state.json`: what is running and where, for people, `slotstack down` and the drills.

Written atomically (temp file + rename) so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.errors import SlotstackError
from infra.local.paths import StateDir


def write_json(path: Path, data: Any, mode: int = 0o644) -> None:
    """Replace `path` atomically with `data` as indented JSON."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def load(state: StateDir) -> dict[str, Any]:
    """The last written state; an error that says to run `slotstack up` if there is none."""
    try:
        data = json.loads(state.state_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SlotstackError(f"no local stack in {state.root} (no state.json); start one with `slotstack up`, "
                             "or pass the --state-dir it was started with") from None
    except json.JSONDecodeError as exc:
        raise SlotstackError(f"{state.state_file} is not valid JSON ({exc}); stop any stack with "
                             "`slotstack down` and start again with `slotstack up`") from None
    if not isinstance(data, dict):
        raise SlotstackError(f"{state.state_file} does not hold an object; run `slotstack up` again")
    return data


def load_or_empty(state: StateDir) -> dict[str, Any]:
    """The last written state, or {} if there is none or it is unreadable."""
    try:
        return load(state)
    except SlotstackError:
        return {}


def save(state: StateDir, data: dict[str, Any]) -> None:
    """Write state.json atomically."""
    write_json(state.state_file, data)


# Bytes of randomness per generated secret; PEER_KEY gets more, like its 64 characters in the cloud.
SECRET_BYTES = 32
PEER_KEY_BYTES = 48
PEER_KEY = "peer_key"  # its key in secrets.json


def stack_secrets(state: StateDir, cells: list[str]) -> dict[str, str]:
    """Per-stack secrets kept across restarts (0600): SECRET_KEY per cell, demo passwords, ack secret, and
    `peer_key`, the one PEER_KEY all cells of the stack share (it signs their calls to each other).

    A key missing from an existing file (one written before it was introduced) is generated and added;
    the others keep their values.
    """
    path = state.secrets_file
    data: dict[str, str] = {}
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
    wanted = {f"secret_key_{c}": SECRET_BYTES for c in cells}
    wanted |= {f"demo_password_{c}": SECRET_BYTES for c in cells}
    wanted |= {"ack_secret": SECRET_BYTES, PEER_KEY: PEER_KEY_BYTES}
    changed = False
    for key, size in wanted.items():
        if key not in data:
            data[key] = secrets.token_urlsafe(size)
            changed = True
    if changed:
        write_json(path, data, mode=0o600)
    return data


def mark_stopped(state_dir: StateDir) -> None:
    """Record that nothing runs any more (the data and endpoints stay for the next `up`)."""
    data = load_or_empty(state_dir)
    if data:
        data["processes"], data["supervisor"], data["status"] = [], None, "stopped"
        data["stopped_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        save(state_dir, data)
