"""Where the local stack keeps things: one state directory (default `.slotstack/` under the cwd)."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

DEFAULT_STATE_DIR = Path(".slotstack")


@dataclass(frozen=True)
class StateDir:
    """The layout of a state directory; every path the stack writes is derived here."""

    root: Path

    @classmethod
    def at(cls, path: Path | str | None) -> StateDir:
        """The state directory at `path` (absolute, so child processes can use it from anywhere)."""
        return cls(Path(path or DEFAULT_STATE_DIR).expanduser().resolve())

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def secrets_file(self) -> Path:
        return self.root / "secrets.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def outbox(self) -> Path:
        """Email lands here as .eml files; SMS under `sms/`."""
        return self.root / "outbox"

    @property
    def sms_outbox(self) -> Path:
        return self.outbox / "sms"

    @property
    def monitor(self) -> Path:
        return self.root / "monitor"

    def data(self, cell: str) -> Path:
        """Parent of the cell's PostgreSQL data directories (owned by the database user)."""
        return self.root / "data" / cell

    def node_dir(self, cell: str, node: str) -> Path:
        return self.data(cell) / node

    def backups(self, cell: str) -> Path:
        return self.root / "backups" / cell

    def wal_archive(self, cell: str) -> Path:
        return self.backups(cell) / "wal"

    def scratch(self, cell: str) -> Path:
        """Temporary clusters of restore drills; removed when the drill ends."""
        return self.root / "scratch" / cell

    def create(self) -> None:
        """Create the top-level folders, traversable by the unprivileged database user."""
        for folder in (self.root, self.logs, self.outbox, self.sms_outbox, self.monitor,
                       self.root / "data", self.root / "backups", self.root / "scratch"):
            folder.mkdir(parents=True, exist_ok=True)
        open_path_to(self.root / "data")


def open_path_to(path: Path) -> None:
    """Let other users traverse every folder leading to `path` (o+x), as PostgreSQL runs unprivileged.

    Only the execute (search) bit is added, and only where it is missing: nothing becomes listable.
    """
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(folder, mode | stat.S_IXOTH | stat.S_IXGRP)  # noqa: S103 (search bit only, see above)
