"""A cell's database: two nodes, one primary and one streaming standby on a physical slot.

The nodes are called `a` and `b` and keep their ports for life; which one is primary is read from
the data directories (a standby has `standby.signal`), so a failover needs no bookkeeping beyond
PostgreSQL's own. The booking service connects to both ports with `target_session_attrs=read-write`
and so always finds the primary.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from infra.errors import SlotstackError
from infra.local.db.postgres import SUPERUSER, Node, give_to_db_user, run_as_db_user
from infra.local.paths import StateDir

SLOT = "replica"
APPLICATION_NAME = "replica"  # what synchronous_standby_names waits for


@dataclass(frozen=True)
class CellDatabase:
    """The two nodes of one cell and where their WAL is archived."""

    cell: str
    state: StateDir
    a: Node
    b: Node
    synchronous: bool

    @classmethod
    def of(cls, state: StateDir, cell: str, ports: tuple[int, int], synchronous: bool) -> CellDatabase:
        """The pair of `cell` in `state`, nodes a and b on `ports`."""
        nodes = [Node(f"{cell}-{name}", state.node_dir(cell, name), port, state.logs / f"postgres-{cell}-{name}.log")
                 for name, port in zip(("a", "b"), ports, strict=True)]
        return cls(cell, state, nodes[0], nodes[1], synchronous)

    @property
    def nodes(self) -> tuple[Node, Node]:
        return (self.a, self.b)

    def primary(self) -> Node:
        """The node that is (or was last) the primary."""
        candidates = [n for n in self.nodes if n.initialized and not n.is_standby]
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            return self.a
        # Both look like primaries only after a crash in the middle of a failover: prefer the running one.
        running = [n for n in candidates if n.pid() is not None]
        if len(running) == 1:
            return running[0]
        raise SlotstackError(f"cell {self.cell}: both {self.a.datadir} and {self.b.datadir} are primaries; "
                             f"keep the newer one and delete the other, then run `slotstack up` to rebuild it")

    def standby(self) -> Node:
        """The node that is not the primary."""
        primary = self.primary()
        return self.b if primary is self.a else self.a

    def dsn_all(self, database: str, user: str) -> str:
        """A multi-host URL that always reaches the primary, whichever node it is."""
        hosts = ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)
        return f"postgresql://{user}@{hosts}/{database}?target_session_attrs=read-write&connect_timeout=3"

    def settings_for(self, node: Node, *, primary_port: int | None, sync_names: str) -> dict[str, str | int]:
        """slotstack.conf of `node`: a primary when `primary_port` is None, else its standby."""
        archive = self.state.wal_archive(self.cell)
        return {
            "listen_addresses": "127.0.0.1",
            "port": node.port,
            "unix_socket_directories": "",
            "max_connections": 60,
            "shared_buffers": "32MB",
            "wal_level": "replica",
            "max_wal_senders": 10,
            "max_replication_slots": 10,
            "hot_standby": "on",
            # Archive every finished segment; a quiet cell still archives at least once a minute. Never
            # overwrite (a segment is immutable once archived), but accept a byte-identical copy: a
            # promoted standby may offer segments the old primary already archived, and a plain
            # "refuse if present" would block its archiving for good. Copy, then rename: atomic.
            "archive_mode": "on",
            "archive_command": (f"test ! -f '{archive}/%f' && cp %p '{archive}/%f.tmp' && "
                                f"mv '{archive}/%f.tmp' '{archive}/%f' || cmp -s %p '{archive}/%f'"),
            "archive_timeout": 60,
            "synchronous_standby_names": sync_names,
            "primary_conninfo": (f"host=127.0.0.1 port={primary_port} user={SUPERUSER} "
                                 f"application_name={APPLICATION_NAME}") if primary_port else "",
            "primary_slot_name": SLOT if primary_port else "",
            "log_line_prefix": "%m [%p] ",
        }

    def configure_primary(self, node: Node, *, with_standby: bool) -> None:
        """Write `node`'s settings as primary; synchronous only if a standby exists to wait for."""
        # With no standby to wait for, a synchronous setting would hang every commit: degrade until rebuilt.
        names = APPLICATION_NAME if self.synchronous and with_standby else ""
        node.configure(self.settings_for(node, primary_port=None, sync_names=names))

    def configure_standby(self, node: Node, primary: Node) -> None:
        """Write `node`'s settings as standby of `primary` and mark it one (standby.signal)."""
        node.configure(self.settings_for(node, primary_port=primary.port, sync_names=""))
        signal = node.datadir / "standby.signal"
        signal.touch()
        shutil.chown(signal, node.datadir.owner(), node.datadir.group())

    def start(self, progress: Callable[[str], None] | None = None) -> None:
        """Start (creating on first use) the primary, then the standby; wait until it streams."""
        say = progress or (lambda _msg: None)
        give_to_db_user(self.state.data(self.cell))
        give_to_db_user(self.state.wal_archive(self.cell), 0o750)
        primary = self.primary()
        if not primary.initialized:
            say(f"{self.cell}: creating the primary {primary.datadir}")
            primary.initdb()
        standby = self.standby()
        self.configure_primary(primary, with_standby=standby.initialized)
        say(f"{self.cell}: starting the primary on port {primary.port}")
        primary.start()
        if not standby.initialized:
            say(f"{self.cell}: cloning the replica with pg_basebackup")
            self.clone_standby(standby, primary)
        self.configure_standby(standby, primary)
        say(f"{self.cell}: starting the {'synchronous' if self.synchronous else 'asynchronous'} replica "
            f"on port {standby.port}")
        standby.start()
        self.wait_streaming()

    def clone_standby(self, standby: Node, primary: Node) -> None:
        """A fresh standby from a base backup of the primary, on the replication slot."""
        if standby.pid() is not None:
            standby.kill()
        shutil.rmtree(standby.datadir, ignore_errors=True)
        with psycopg.connect(primary.dsn(), autocommit=True) as conn:
            conn.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                         "WHERE slot_name = %s AND NOT active", (SLOT,))
        run_as_db_user(["pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", SUPERUSER,
                        "-D", str(standby.datadir), "-X", "stream", "-c", "fast", "-C", "-S", SLOT],
                       timeout=600, what=f"pg_basebackup of {standby.name}")
        standby.ensure_include()
        self.configure_standby(standby, primary)

    def wait_streaming(self, timeout: float = 60) -> dict[str, object]:
        """Wait until the standby streams (and, for a synchronous cell, is the sync standby); enable sync."""
        primary = self.primary()
        want = "sync" if self.synchronous else "async"
        deadline = time.monotonic() + timeout
        row: tuple[object, ...] | None = None
        while time.monotonic() < deadline:
            with psycopg.connect(primary.dsn(), autocommit=True) as conn:
                row = conn.execute("SELECT state, sync_state FROM pg_stat_replication "
                                   "WHERE application_name = %s", (APPLICATION_NAME,)).fetchone()
                if row is not None and row[0] == "streaming":
                    if self.synchronous and row[1] != "sync":
                        self.configure_primary(primary, with_standby=True)
                        primary.reload()
                    else:
                        return {"state": row[0], "sync_state": row[1]}
            time.sleep(0.2)
        raise SlotstackError(f"cell {self.cell}: the replica on port {self.standby().port} is not streaming "
                             f"({want} wanted, saw {row}) after {timeout:.0f} s; see {self.standby().log}")

    def stop(self) -> None:
        """Primary first (a fast shutdown hands its last WAL to the standby), then the standby."""
        for node in (self.primary(), self.standby()):
            node.stop()

    def running(self) -> bool:
        """True if either node runs."""
        return any(n.pid() is not None for n in self.nodes)
