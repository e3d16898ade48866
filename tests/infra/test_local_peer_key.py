"""The local stack's PEER_KEY (infra/local): one per stack, in secrets.json, given to every cell.

The cells of a stack sign their calls to each other (a signup asks the others whether the slug is free)
with the same PEER_KEY, so every cell's booking service and every booking CLI call that may sign up a
tenant (create-tenant) must get the stack's one key. `slotstack up` is run here with its databases and
processes replaced by stand-ins that record what they were given.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from infra import environment
from infra.local import paths, procs
from infra.local.db import cluster
from infra.local.lifecycle import ports, services, stack, state, tenants
from infra.local.paths import StateDir

MIN_PEER_KEY = 32  # what the service accepts (app/booking/settings.py)


class _Proc:
    """Stands in for a started process's Popen: alive, pid 0."""

    returncode = None

    def poll(self) -> None:
        return None


class Recorder:
    """What `slotstack up` handed to the booking services and to the booking CLI, by cell."""

    def __init__(self) -> None:
        self.serve: dict[str, dict[str, str]] = {}
        self.cli: list[tuple[list[str], dict[str, str]]] = []


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """`stack.up` without PostgreSQL, processes or HTTP: every start is recorded instead."""
    seen = Recorder()
    monkeypatch.delenv("PEER_KEY", raising=False)
    monkeypatch.setattr(paths, "open_path_to", lambda path: None)  # leave the test's tmp parents alone
    monkeypatch.setattr(ports, "check_free", lambda plan: None)
    monkeypatch.setattr(cluster.CellDatabase, "start", lambda self, progress=None: None)
    monkeypatch.setattr(cluster.CellDatabase, "stop", lambda self: None)
    monkeypatch.setattr(services, "migrate", lambda cell, admin_dsn, log: None)
    monkeypatch.setattr(services, "program", lambda name: name)
    monkeypatch.setattr(services, "wait_until", lambda check, **kw: None)

    def spawn(name: str, argv: list[str], *, env: dict[str, str], log: Path,
              cwd: Path | None = None) -> services.Started:
        if name.startswith("booking-"):
            assert argv[:2] == ["booking", "serve"], argv
            seen.serve[name.removeprefix("booking-")] = dict(env)
        return _Proc(), procs.ProcessRecord(name, 0, 0, str(log))  # type: ignore[return-value]

    monkeypatch.setattr(procs, "spawn", spawn)
    # The stand-ins have no process (pid 0 would signal our own process group): stopping them, as a failed
    # `up` does, must touch nothing; any signal at all fails the test.
    monkeypatch.setattr(procs, "stop", lambda record, **kw: None)

    def no_signal(pgid: int, sig: int) -> None:
        raise AssertionError(f"signal {sig} to process group {pgid} from a test of stand-ins")

    monkeypatch.setattr(procs, "_signal_group", no_signal)

    def booking(args: list[str], *, cell: str, log: Path, env: dict[str, str] | None = None) -> str:
        seen.cli.append((args, dict(procs.process_env(env or {}))))
        return ""

    monkeypatch.setattr(services, "_booking", booking)
    created: set[str] = set()

    def existing(base_url: str, slug: str) -> tenants.Tenant | None:
        if slug not in created:  # the first look finds nothing, so the CLI creates the demo tenant
            created.add(slug)
            return None
        return tenants.Tenant(slug, "service", ("staff",))

    monkeypatch.setattr(tenants, "existing", existing)
    return seen


def _up(state_dir: StateDir) -> dict[str, Any]:
    _running, data = stack.up("local", state_dir, port_base=None, say=lambda message: None)
    return data


def _secrets_file(state_dir: StateDir) -> dict[str, str]:
    path = state_dir.secrets_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, "secrets.json must stay readable by its owner only"
    data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _check_every_cell_got(recorder: Recorder, cells: list[str], peer_key: str) -> None:
    assert sorted(recorder.serve) == sorted(cells), "one booking service per cell"
    for cell, env in recorder.serve.items():
        assert env["PEER_KEY"] == peer_key, f"booking service of cell {cell}: not the stack's PEER_KEY"
    creates = [(args, env) for args, env in recorder.cli if args[0] == "create-tenant"]
    assert len(creates) == len(cells), "one demo tenant per cell, made by the booking CLI"
    for args, env in creates:
        assert env["PEER_KEY"] == peer_key, f"`booking {' '.join(args[:3])}`: the CLI signs up without PEER_KEY"


def test_every_cells_service_and_cli_get_the_stacks_one_peer_key(tmp_path: Path, recorder: Recorder) -> None:
    state_dir = StateDir.at(tmp_path / "stack")
    cells = list(environment.load("local").cells)
    assert len(cells) > 1, "a single cell proves nothing about sharing"
    _up(state_dir)
    saved = _secrets_file(state_dir)
    peer_key = saved["peer_key"]
    assert len(peer_key) >= MIN_PEER_KEY, "PEER_KEY: the service wants at least 32 characters"
    _check_every_cell_got(recorder, cells, peer_key)
    assert {env["PEER_KEY"] for env in recorder.serve.values()} == {peer_key}
    secret_keys = {cell: env["SECRET_KEY"] for cell, env in recorder.serve.items()}
    assert peer_key not in secret_keys.values(), "PEER_KEY is the stack's, not a cell's SECRET_KEY"
    assert len(set(secret_keys.values())) == len(cells), "SECRET_KEY stays one per cell"


def test_the_peer_key_is_kept_across_restarts(tmp_path: Path) -> None:
    state_dir = StateDir.at(tmp_path / "stack")
    state_dir.root.mkdir()
    first = state.stack_secrets(state_dir, ["us", "eu"])
    again = state.stack_secrets(state_dir, ["us", "eu"])
    assert first["peer_key"] == again["peer_key"]
    assert _secrets_file(state_dir) == again


def test_an_old_secrets_file_gains_a_peer_key_on_the_next_up(tmp_path: Path, recorder: Recorder) -> None:
    """A stack started before PEER_KEY existed: its secrets stay, and the next `up` adds the peer key."""
    state_dir = StateDir.at(tmp_path / "stack")
    cells = list(environment.load("local").cells)
    old = {f"secret_key_{c}": f"old-secret-key-of-{c}-0123456789abcdef" for c in cells}
    old |= {f"demo_password_{c}": f"old-demo-password-of-{c}" for c in cells}
    old["ack_secret"] = "old-ack-secret-0123456789abcdef"
    state_dir.root.mkdir()
    state.write_json(state_dir.secrets_file, old, mode=0o600)
    _up(state_dir)
    saved = _secrets_file(state_dir)
    assert {k: v for k, v in saved.items() if k != "peer_key"} == old, "the existing secrets must not change"
    assert len(saved["peer_key"]) >= MIN_PEER_KEY
    _check_every_cell_got(recorder, cells, saved["peer_key"])
    assert {cell: env["SECRET_KEY"] for cell, env in recorder.serve.items()} == {
        c: old[f"secret_key_{c}"] for c in cells}, "each cell keeps its SECRET_KEY (no one is logged out)"
