"""The stack's long-running programs: SMTP sink, one booking service per cell, the monitor.

Each is started through its own command-line interface (`booking ...`, `uptime run`), exactly as an
operator would, with logs under `.slotstack/logs/`.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests

from infra.errors import SlotstackError
from infra.local import procs

Started = tuple[subprocess.Popen[bytes], procs.ProcessRecord]


def program(name: str) -> str:
    """A console script of our virtualenv (next to this Python), else from PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise SlotstackError(f"the `{name}` command is not installed; run `make setup` (pip install -e app "
                             "-e monitoring) and try again")
    return found


def _tail(log: Path, lines: int = 8) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_until(check: Callable[[], bool], *, what: str, timeout: float, started: Started | None = None) -> None:
    """Poll `check` until true; fail early with the log's tail if the process died meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if started is not None and started[0].poll() is not None:
            record = started[1]
            raise SlotstackError(f"{what}: {record.name} exited with code {started[0].returncode}; "
                                 f"its log {record.log} ends with: {_tail(Path(record.log))}")
        time.sleep(0.1)
    log = f"; see {started[1].log}" if started else ""
    raise SlotstackError(f"{what}: not ready after {timeout:.0f} s{log}")


def http_ok(url: str) -> Callable[[], bool]:
    """A check for `wait_until`: GET `url` answers 200."""
    def check() -> bool:
        try:
            return requests.get(url, timeout=2).status_code == 200
        except requests.RequestException:
            return False
    return check


def port_open(port: int) -> Callable[[], bool]:
    """A check for `wait_until`: something accepts TCP connections on 127.0.0.1:`port`."""
    def check() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False
    return check


def _booking(args: list[str], *, cell: str, log: Path, env: dict[str, str] | None = None) -> str:
    """Run one `booking` subcommand; its stderr goes to `log`, its stdout (JSON) is returned."""
    with open(log, "ab") as err:
        try:
            done = subprocess.run([program("booking"), *args], stdout=subprocess.PIPE, stderr=err, timeout=180,
                                  check=False, env=procs.process_env(env or {}))
        except subprocess.TimeoutExpired:
            raise SlotstackError(f"cell {cell}: `booking {args[0]}` did not finish in 180 s; see {log} and the "
                                 "PostgreSQL logs next to it") from None
    if done.returncode != 0:
        raise SlotstackError(f"cell {cell}: `booking {args[0]}` failed (exit {done.returncode}): {_tail(log)}")
    return done.stdout.decode()


def migrate(cell: str, admin_dsn: str, log: Path) -> None:
    """Create the roles and the database, then migrate as the owner role (both idempotent)."""
    urls = json.loads(_booking(["provision", "--admin-url", admin_dsn], cell=cell, log=log))
    _booking(["migrate", "--database-url", urls["owner_url"]], cell=cell, log=log)


def create_tenant(cell: str, *, slug: str, name: str, timezone: str, password: str, env: dict[str, str],
                  log: Path) -> None:
    """`booking create-tenant --demo`: a tenant homed in `cell` with staff, hours and a service."""
    _booking(["create-tenant", "--slug", slug, "--name", name, "--timezone", timezone, "--residency", cell,
              "--owner-email", f"owner@{slug}.example.com", f"--owner-password={password}", "--demo"],
             cell=cell, log=log, env=env)


# The sink runs as `python -m infra...`: from the checkout, so it runs this tree's code, not an installed copy.
CHECKOUT = Path(__file__).resolve().parents[3]


def start_smtp(port: int, outbox: Path, log: Path) -> Started:
    """The SMTP sink (infra.local.lifecycle.smtp_sink), once it accepts connections."""
    started = procs.spawn("smtp", [sys.executable, "-m", "infra.local.lifecycle.smtp_sink", "--port", str(port),
                                   "--outbox", str(outbox)], env=procs.process_env({}), log=log,
                          cwd=CHECKOUT)
    wait_until(port_open(port), what="SMTP sink", timeout=20, started=started)
    return started


def booking_env(cell: str, database_url: str, cell_urls: dict[str, str], *, peer_key: str) -> dict[str, str]:
    """What the booking service and its CLI need to know about their cell and its peers.

    `peer_key` is the stack's PEER_KEY (`peer_key` in secrets.json), the same for every cell: it signs
    the calls between cells (a signup asks the others whether the slug is free), so the CLI needs it too.
    """
    return {"CELL": cell, "CELL_URLS": json.dumps(cell_urls), "DATABASE_URL": database_url, "PEER_KEY": peer_key}


def start_booking(cell: str, port: int, *, database_url: str, secret_key: str, peer_key: str,
                  cell_urls: dict[str, str], log: Path, smtp_port: int | None = None) -> Started:
    """`booking serve` for one cell (not waited for: the caller polls /readyz); its email goes to the sink."""
    env = procs.process_env({**booking_env(cell, database_url, cell_urls, peer_key=peer_key),
                             "SECRET_KEY": secret_key, "DB_POOL_MIN": "1", "DB_POOL_MAX": "10",
                             # every customer of the load generator and the drills comes from 127.0.0.1
                             "PUBLIC_RATE_PER_MINUTE": "1000000", "PUBLIC_RATE_BURST": "1000000",
                             **({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port),
                                 "MAIL_FROM": f"slotstack <bookings@{cell}.slotstack.localhost>"}
                                if smtp_port else {"SMTP_HOST": ""})})
    argv = [program("booking"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    return procs.spawn(f"booking-{cell}", argv, env=env, log=log)


def start_monitor(config: Path, ack_secret: str, log: Path) -> Started:
    """`uptime run` with the generated config (not waited for: the caller polls /status/)."""
    env = procs.process_env({"UPTIME_ACK_SECRET": ack_secret})
    return procs.spawn("monitor", [program("uptime"), "run", "--config", str(config)], env=env, log=log)
