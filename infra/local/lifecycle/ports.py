"""Which TCP port every process of the stack listens on, and the check that they are all free.

By default a cell's booking service listens on `cell.local.port` from the environment file and its
two PostgreSQL nodes on that port + 1000 and + 2000 (us: 8101, 9101, 10101); the SMTP sink is on
8025 and the monitor on 8470. `--port-base N` packs everything into N, N+1, ... instead, which is
how tests and a second stack on the same machine avoid the defaults.
"""

from __future__ import annotations

import errno
import socket
import time
from dataclasses import dataclass

from infra.environment import Environment
from infra.errors import SlotstackError

SMTP_PORT = 8025
MONITOR_PORT = 8470
PORTS_PER_CELL = 3


@dataclass(frozen=True)
class CellPorts:
    """A cell's booking service and its two PostgreSQL nodes."""

    service: int
    db_a: int
    db_b: int


@dataclass(frozen=True)
class PortPlan:
    """Every port of a stack."""

    smtp: int
    monitor: int
    cells: dict[str, CellPorts]

    def owners(self) -> list[tuple[int, str]]:
        """Every port with who uses it, e.g. (9101, 'cell us: PostgreSQL node a')."""
        listed = [(self.smtp, "the SMTP sink"), (self.monitor, "the uptime monitor")]
        for name, ports in self.cells.items():
            listed += [(ports.service, f"cell {name}: booking service"),
                       (ports.db_a, f"cell {name}: PostgreSQL node a"),
                       (ports.db_b, f"cell {name}: PostgreSQL node b")]
        return listed


def plan(env: Environment, port_base: int | None = None) -> PortPlan:
    """The ports for `env`; with `port_base`, a block of 2 + 3 * cells consecutive ports."""
    if port_base is None:
        cells = {name: CellPorts(c.local.port, c.local.port + 1000, c.local.port + 2000)
                 for name, c in env.cells.items()}
        result = PortPlan(SMTP_PORT, MONITOR_PORT, cells)
    else:
        last = port_base + 2 + PORTS_PER_CELL * len(env.cells) - 1
        if port_base < 1024 or last > 65535:
            raise SlotstackError(f"--port-base {port_base} needs ports {port_base}-{last}; "
                                 "choose a base between 1024 and 65535 minus the block size")
        cells = {}
        for index, name in enumerate(env.cells):
            first = port_base + 2 + PORTS_PER_CELL * index
            cells[name] = CellPorts(first, first + 1, first + 2)
        result = PortPlan(port_base, port_base + 1, cells)
    seen: dict[int, str] = {}
    for port, owner in result.owners():
        if port > 65535:
            raise SlotstackError(f"{owner} would get port {port}, above 65535; lower local.port in the "
                                 "environment file or use --port-base")
        if port in seen:
            raise SlotstackError(f"port {port} would be used by both {seen[port]} and {owner}; "
                                 "space the cells' local.port values apart or use --port-base")
        seen[port] = owner
    return result


def free_port() -> int:
    """A port the kernel just reported free on 127.0.0.1 (for short-lived servers and scratch clusters)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    """Return once something accepts connections on 127.0.0.1:port; SlotstackError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SlotstackError(f"nothing listens on 127.0.0.1:{port} after {timeout:g}s; see the process's log")


def in_use(port: int) -> bool:
    """True if something already listens on 127.0.0.1:port (we try to bind it ourselves)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Like the servers themselves: connections in TIME_WAIT from a previous run do not block the port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def check_free(ports: PortPlan) -> None:
    """Refuse to start anything if one of the ports is taken, naming the port and who needs it."""
    busy = [(port, owner) for port, owner in ports.owners() if in_use(port)]
    if busy:
        lines = "; ".join(f"port {port} ({owner}) is already in use" for port, owner in busy)
        first = busy[0][0]
        raise SlotstackError(f"{lines}. Nothing was started. Find the other process with `ss -ltnp 'sport = :{first}'` "
                             "and stop it, or move the whole stack with `slotstack up --port-base N`")
