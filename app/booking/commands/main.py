"""The `booking` command: serve, migrate, create-tenant, provision."""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
import sqlalchemy.exc

from booking import migrate
from booking.commands.tenant import TenantCliError
from booking.embedded import start_migrated
from booking.errors import ApiError
from booking.settings import SettingsError, parse_cell_urls

log = logging.getLogger("booking.commands.main")


class CliError(Exception):
    """A command failed in a way the user can fix; the message says how."""


def _from_key_vault(*, prepare: bool) -> bool:
    """In the cloud (KEY_VAULT_URI set, DATABASE_URL not): DATABASE_URL and SECRET_KEY from Key Vault.

    With `prepare`, also make the service role match its Key Vault password and migrate, with the owner URL,
    under the migration lock: every VM does this at start, so a new release or a rotated password needs no
    separate step. Every secret is read before the database is touched. The owner URL (the server's
    administrator, who could switch row-level security off) is used here and never put into the
    environment the web workers inherit.
    """
    if not os.environ.get("KEY_VAULT_URI") or os.environ.get("DATABASE_URL"):
        return False
    from booking.secrets import vault

    try:
        found = vault.load(os.environ)
    except vault.VaultError as exc:
        raise CliError(str(exc)) from exc
    owner_url = found.pop("DATABASE_OWNER_URL")
    for variable, value in found.items():
        if not os.environ.get(variable):  # an explicit setting wins, e.g. an operator's SECRET_KEY override
            os.environ[variable] = value
    log.info("secrets read from Key Vault", extra={"fields": {"secrets": sorted(vault.SECRETS.values())}})
    if prepare:
        try:
            role = migrate.prepare(owner_url, os.environ["DATABASE_URL"])
        except ValueError as exc:
            raise CliError(f"{exc} (secret {vault.SECRETS['DATABASE_URL']!r})") from exc
        except (psycopg.Error, sqlalchemy.exc.DBAPIError) as exc:
            raise CliError(f"preparing the database with secret {vault.SECRETS['DATABASE_OWNER_URL']!r} failed: "
                           f"{_scrubbed(exc, owner_url, os.environ['DATABASE_URL'])}; it must name the server's "
                           "administrator (CREATEROLE) and the booking database, and the server must allow the "
                           "btree_gist extension (azure.extensions)") from exc
        log.info("database prepared", extra={"fields": {"role": role, "revision": migrate.head_revision()}})
    return True


def _scrubbed(exc: BaseException, *urls: str) -> str:
    """The first line of an error, with every password of `urls` blanked (libpq may echo a bad URL)."""
    text = str(getattr(exc, "orig", None) or exc).splitlines()[0] if str(exc) else type(exc).__name__
    for url in urls:
        password = urlsplit(url).password
        for secret in filter(None, {password, unquote(password or "")}):
            text = text.replace(secret, "***")
    return text


def _keep_demo_tenant() -> None:
    """A cloud cell keeps its `demo-<cell>` tenant (the availability tests' page) without an operator."""
    from booking.cells import make_directory
    from booking.commands.demo import keep_demo_tenant
    from booking.db import make_pool
    from booking.settings import Settings

    settings = Settings.from_env()  # the same validated CELL, CELL_URLS and PEER_KEY the web workers get

    def pool() -> Any:
        made = make_pool(settings.database_url, min_size=1, max_size=1)
        made.open(wait=True, timeout=30)
        return made

    cells = make_directory(settings.cell, settings.cell_urls or {settings.cell: ""}, peer_key=settings.peer_key,
                           timeout_s=settings.peer_timeout_s)
    keep_demo_tenant(pool, cells, settings.cell)


def _secret_key(data_dir: str | None) -> str:
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    if data_dir is None:
        raise CliError("SECRET_KEY is not set; every instance of a cell needs the same one: put it in the "
                       "service's environment file (from Key Vault in the cloud)")
    path = Path(data_dir) / "secret_key"
    if not path.exists():  # the embedded default keeps one per data directory so links survive restarts
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the HTTP service (starting embedded PostgreSQL when DATABASE_URL is unset)."""
    import uvicorn

    from booking.observability import configure_logging

    configure_logging()
    server = None
    if _from_key_vault(prepare=True):
        _keep_demo_tenant()
    embedded = not os.environ.get("DATABASE_URL")
    if embedded:
        if not args.data_dir:
            raise CliError("set DATABASE_URL (the service role's URL) or pass --data-dir for embedded PostgreSQL")
        server, _owner, app_url = start_migrated(args.data_dir)
        os.environ["DATABASE_URL"] = app_url
    # A generated key is only safe for a single embedded instance; a fleet must share one (from Key Vault).
    os.environ["SECRET_KEY"] = _secret_key(args.data_dir if embedded else None)
    if embedded and not os.environ.get("KEY_DIR"):  # the embedded default keeps its key store beside the data
        os.environ["KEY_DIR"] = str(Path(args.data_dir) / "keys")
    if embedded and not os.environ.get("IMAGES_DIR") and not os.environ.get("IMAGES_S3_BUCKET"):
        os.environ["IMAGES_DIR"] = str(Path(args.data_dir) / "images")
    cell = os.environ.setdefault("CELL", "us")
    if not os.environ.get("CELL_URLS"):
        os.environ["CELL_URLS"] = f"{cell}=http://{args.host}:{args.port}"
    # uvicorn shuts down gracefully on SIGTERM and then re-raises it; exiting through SystemExit instead of
    # dying by the signal lets us stop the embedded PostgreSQL cleanly afterwards.
    signal.signal(signal.SIGTERM, _exit_quietly)
    try:
        uvicorn.run("booking.app:create_app_from_env", factory=True, host=args.host, port=args.port,
                    # X-Forwarded-For is read by booking.clientaddr from TRUSTED_PROXIES only, never by uvicorn
                    workers=args.workers, log_config=None, access_log=False, proxy_headers=False)
    except SystemExit:
        pass
    finally:
        if server is not None:
            server.cleanup()
    return 0


def _exit_quietly(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def cmd_migrate(args: argparse.Namespace) -> int:
    """Migrate the schema as the owner role."""
    if args.data_dir:
        start_migrated(args.data_dir)
        print(json.dumps({"migrated": migrate.head_revision(), "data_dir": args.data_dir}))
        return 0
    if not args.database_url and _from_key_vault(prepare=True):  # on a VM: role and migrations done
        print(json.dumps({"migrated": migrate.head_revision(), "source": "key-vault"}))
        return 0
    url = args.database_url or os.environ.get("DATABASE_OWNER_URL")
    if not url:
        raise CliError("pass --database-url postgresql://OWNER@HOST/DB or set DATABASE_OWNER_URL (or "
                       "KEY_VAULT_URI on a VM)")
    migrate.upgrade(url, app_role=args.app_role)
    print(json.dumps({"migrated": migrate.head_revision()}))
    return 0


def cmd_provision(args: argparse.Namespace) -> int:
    """Create owner and service roles and the database with an administrator URL; print both URLs."""
    from booking.provision import provision

    urls = provision(args.admin_url, database=args.database, owner=args.owner_role, app_role=args.app_role)
    print(json.dumps({"owner_url": urls.owner_url, "app_url": urls.app_url}))
    return 0


def cmd_create_tenant(args: argparse.Namespace) -> int:
    """Create a tenant (optionally with demo staff, hours and a service) and print its token."""
    from booking.auth.tokens import TokenHasher
    from booking.cells import make_directory
    from booking.commands.demo import add_demo
    from booking.db import make_pool
    from booking.tenants import NewTenant, create_tenant

    _from_key_vault(prepare=False)
    url = os.environ.get("DATABASE_URL")
    if not url:
        if not args.data_dir:
            raise CliError("set DATABASE_URL (the service role's URL) or pass --data-dir")
        _server, _owner, url = start_migrated(args.data_dir)
    # tokens are stored as HMACs keyed by SECRET_KEY: without it the tenant is created but no token printed
    key = os.environ.get("SECRET_KEY") or (_secret_key(args.data_dir) if args.data_dir else None)
    if key is None:
        print("booking create-tenant: SECRET_KEY is not set, so no access_token is issued; set it to the "
              "service's SECRET_KEY to get one", file=sys.stderr)
    cell = os.environ.get("CELL", "us")
    cell_urls = parse_cell_urls(os.environ.get("CELL_URLS", "")) or {cell: ""}
    password = args.owner_password or os.environ.get("BOOKING_OWNER_PASSWORD") or secrets.token_urlsafe(18)
    t = NewTenant(slug=args.slug, name=args.name, residency=args.residency or cell, timezone=args.timezone,
                  owner_email=args.owner_email, owner_password=password, plan=args.plan)
    pool = make_pool(url, min_size=1, max_size=2)
    pool.open(wait=True, timeout=30)
    try:
        cells = make_directory(cell, cell_urls, peer_key=os.environ.get("PEER_KEY", ""))
        tenant, token = create_tenant(pool, cells, cell, t,
                                      None if key is None else TokenHasher.from_secret_key(key))
        out: dict[str, Any] = {"tenant": tenant, "access_token": token}
        if args.demo:
            out.update(add_demo(pool, tenant["id"], args.timezone))
    finally:
        pool.close()
    print(json.dumps(out))
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    """Start a new key-encryption key version and re-wrap every tenant data key with it (service keeps running)."""
    from booking.secrets.keystore import KeyStoreError, LocalKeyStore

    key_dir = args.key_dir or os.environ.get("KEY_DIR") or (str(Path(args.data_dir) / "keys") if args.data_dir else "")
    if not key_dir:
        raise CliError("pass --key-dir DIR (or set KEY_DIR, or --data-dir for the embedded default)")
    if not (Path(key_dir) / "kek.json").exists():
        raise CliError(f"{key_dir} holds no kek.json; point --key-dir at the service's key store")
    store = LocalKeyStore(Path(key_dir))
    try:
        count = store.rotate()
    except KeyStoreError as exc:
        raise CliError(str(exc)) from exc
    print(json.dumps({"rewrapped": count, "kek": json.loads(store.kek_file.read_text())["current"]}))
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser of `booking`."""
    p = argparse.ArgumentParser(prog="booking", description="slotstack booking service")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the HTTP service")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--workers", type=int, default=1)
    s.add_argument("--data-dir", help="embedded PostgreSQL data directory (used when DATABASE_URL is unset)")
    s.set_defaults(func=cmd_serve)
    m = sub.add_parser("migrate", help="migrate the schema as the owner role")
    m.add_argument("--database-url", help="owner role URL (default: $DATABASE_OWNER_URL)")
    m.add_argument("--app-role", default=os.environ.get("BOOKING_APP_ROLE", "booking_app"),
                   help="service role to grant table access to")
    m.add_argument("--data-dir", help="migrate the embedded PostgreSQL under this directory instead")
    m.set_defaults(func=cmd_migrate)
    v = sub.add_parser("provision", help="create roles and database with an administrator URL")
    v.add_argument("--admin-url", required=True)
    v.add_argument("--database", default="booking")
    v.add_argument("--owner-role", default="booking_owner")
    v.add_argument("--app-role", default="booking_app")
    v.set_defaults(func=cmd_provision)
    c = sub.add_parser("create-tenant", help="create a tenant in this cell and print its access token")
    c.add_argument("--slug", required=True)
    c.add_argument("--name", required=True)
    c.add_argument("--timezone", required=True)
    c.add_argument("--owner-email", required=True)
    c.add_argument("--owner-password", help="default: $BOOKING_OWNER_PASSWORD or a random one")
    c.add_argument("--residency", help="default: this cell ($CELL)")
    c.add_argument("--plan", default="free")
    c.add_argument("--demo", action="store_true", help="add a staff member with Mon-Fri 09-17 and a service")
    c.add_argument("--data-dir", help="embedded PostgreSQL data directory (used when DATABASE_URL is unset)")
    c.set_defaults(func=cmd_create_tenant)
    k = sub.add_parser("keys", help="manage the key store of integration secrets")
    ksub = k.add_subparsers(dest="keys_command", required=True)
    r = ksub.add_parser("rotate", help="new KEK version; re-wrap every tenant data key without downtime")
    r.add_argument("--key-dir", help="local key store (default: $KEY_DIR)")
    r.add_argument("--data-dir", help="the embedded default's data directory (key store in DATA_DIR/keys)")
    r.set_defaults(func=cmd_keys_rotate)
    from booking.commands.tenant import add_parsers

    add_parsers(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; maps domain errors to exit codes (1: refused, 2: configuration)."""
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ApiError as exc:
        print(f"booking {args.command}: {exc.detail}", file=sys.stderr)
        return 1
    except (CliError, SettingsError, TenantCliError) as exc:
        print(f"booking {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
