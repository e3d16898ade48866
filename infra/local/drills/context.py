"""Open one cell of a running local stack for a drill, a backup or a restore, from state.json."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra import environment
from infra.errors import SlotstackError, UsageError
from infra.local.db.cluster import CellDatabase
from infra.local.lifecycle import state
from infra.local.lifecycle.stack import databases
from infra.local.lifecycle.teardown import recorded_plan
from infra.local.paths import StateDir


@dataclass
class CellContext:
    """A cell of the stack: its database pair, its URL, and the state it was started with."""

    state_dir: StateDir
    data: dict[str, Any]
    name: str
    cell: environment.Cell
    db: CellDatabase

    @property
    def url(self) -> str:
        return str(self.data["cells"][self.name]["url"])

    def secret(self, key: str) -> str:
        return state.stack_secrets(self.state_dir, list(self.data["cells"]))[key]

    def save_roles(self) -> None:
        """Record which node is primary now (after a failover or a restore)."""
        entry = self.data["cells"][self.name]
        primary, standby = self.db.primary(), self.db.standby()
        for role, node in (("primary", primary), ("replica", standby)):
            entry["database"][role] = {"node": node.name, "port": node.port, "dsn": node.dsn("booking"),
                                       "pid": node.pid()}
        entry["pids"].update({"primary": primary.pid(), "replica": standby.pid()})
        state.save(self.state_dir, self.data)


def open_cell(state_dir: StateDir, name: str, *, running: bool = True) -> CellContext:
    """The cell `name` of the stack in `state_dir`; with `running`, refuse if the stack is stopped."""
    data = state.load(state_dir)
    cells = data.get("cells") or {}
    if name not in cells:
        known = ", ".join(cells) or "none (the stack never finished starting)"
        raise UsageError(f"cell {name!r} is not part of the stack in {state_dir.root}; cells: {known}")
    if running and data.get("status") != "running":
        raise SlotstackError(f"the stack in {state_dir.root} is {data.get('status', 'stopped')}; "
                             "start it with `slotstack up` first")
    env = environment.load(data.get("environment", "local"))
    db = databases(state_dir, env, recorded_plan(data, env))[name]
    return CellContext(state_dir, data, name, env.cells[name], db)
