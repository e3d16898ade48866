"""ServiceSecrets: what the booking service reads from the cell's Key Vault at boot.

cloud-init gives the VMs only public facts (cell, cell URLs, vault URI, identity client id), so the
service's secrets live in the vault, where the fleet's identity reads them (Key Vault Secrets User,
granted in infra/cell.py). The names and URL shapes are a contract with app/booking/vault.py:

- `booking-database-url`: the app role `booking_app` on the cell's servers (writer first, libpq picks the
  one that takes writes), with a password generated here;
  the role itself is created by the service at boot through the owner URL, not by Pulumi;
- `booking-owner-url`: the server admin (ADMIN_LOGIN, the admin password of infra/storage/postgres.py)
  on the same servers, for migrations and for creating the app role;
- `booking-secret-key`: the SECRET_KEY every VM of the cell shares (link signing, token HMAC keys).
  RandomPassword keeps it stable across deploys; replacing it logs everyone out;
- `booking-peer-key`: the PEER_KEY that signs the calls between the cells of one environment (HMAC-SHA256,
  e.g. "is this tenant slug free?"). Unlike the others it is not the cell's own: the program generates it
  once per environment (`peer_key_password`, in infra/program.py) and every cell's vault holds the same value.

Every value is a Pulumi secret, so neither state nor `slotstack plan` shows it in plain text.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import pulumi
import pulumi_random as random
from pulumi import Output

from infra.environment import Cell
from infra.failover import failover_plan
from infra.storage.keyvault import KeyVault
from infra.storage.postgres import ADMIN_LOGIN, DATABASE, PostgresServer

# The service's environment variable -> its secret in the vault (app/booking/vault.py has the same map).
VAULT_NAMES = {
    "DATABASE_URL": "booking-database-url",
    "DATABASE_OWNER_URL": "booking-owner-url",
    "SECRET_KEY": "booking-secret-key",
    "PEER_KEY": "booking-peer-key",
}
APP_LOGIN = "booking_app"
PORT = 5432
APP_PASSWORD_LENGTH = 40
SECRET_KEY_LENGTH = 64
PEER_KEY_LENGTH = 64
PEER_KEY_NAME = "shared-peer-key"  # the environment's one RandomPassword (a "shared-" piece of the program)


def peer_key_password(opts: pulumi.ResourceOptions | None = None) -> random.RandomPassword:
    """The environment's PEER_KEY generator: one per stack, handed to every cell as `peer_key`.

    No keepers, so it stays put across deploys; rotating it is `pulumi up --replace` of this resource, and
    until every cell's fleet has restarted with the new value the cells reject each other's calls
    (docs/deploy.md). Alphanumeric, like SECRET_KEY.
    """
    return random.RandomPassword(PEER_KEY_NAME, length=PEER_KEY_LENGTH, special=False, opts=opts)


# libpq tries the hosts in order and keeps the one that takes writes; a dead host costs at most this long
# (shorter than the pool's 5 s wait, so a request does not fail just because the first host is gone).
QUERY = "sslmode=require&target_session_attrs=read-write&connect_timeout=3"


def connection_url(login: str, password: str, hosts: list[str]) -> str:
    """A libpq URL to the booking database over TLS, listing every server of the cell, writer first.

    Listing the replica too is what makes a failover need no change here: while the primary region is down
    its Key Vault may be read-only, so the URL must already work the moment the replica is promoted
    (docs/runbooks/failover.md). The password is quoted whatever it holds.
    """
    where = ",".join(f"{host}:{PORT}" for host in hosts)
    return f"postgresql://{login}:{quote(password, safe='')}@{where}/{DATABASE}?{QUERY}"


def server_fqdns(cell: Cell, postgres: PostgresServer) -> Output[list[str]]:
    """FQDNs of the cell's servers, the one that takes writes first.

    Which one that is, `failover_plan` decides: the switch Traffic Manager, the fleets and the alerts follow,
    so the order changes in the same `pulumi up` that promotes the replica.
    """
    primary = postgres.server.fully_qualified_domain_name
    if postgres.replica is None:
        return Output.all(primary).apply(list)
    replica = postgres.replica.fully_qualified_domain_name
    if failover_plan(cell).replica_promoted:
        return Output.all(replica, primary).apply(list)
    return Output.all(primary, replica).apply(list)


@dataclass
class ServiceSecretsArgs:
    """Inputs of the booking service's secrets of one cell."""

    cell: Cell
    """The environment's cell: its `active_region` decides which server the URLs point at."""
    key_vault: KeyVault
    """The cell's vault; the fleet's identity already reads its secrets."""
    postgres: PostgresServer
    """The cell's PostgreSQL: the writer's FQDN, the admin password and its secret's expiry."""
    peer_key: pulumi.Input[str]
    """The environment's PEER_KEY (`peer_key_password(...).result`): the same in every cell of the stack."""


class ServiceSecrets(pulumi.ComponentResource):
    """The four secrets of the booking service in the cell's vault, and the cell's passwords behind them.

    Attributes: `app_password` and `secret_key` (RandomPassword), `database_url`, `owner_url`,
    `secret_key_secret` and `peer_key_secret` (the keyvault.Secret resources). The peer key's generator is
    not here: it is the environment's, shared by all cells (`peer_key_password`).
    """

    def __init__(self, name: str, args: ServiceSecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slotstack:storage:ServiceSecrets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        postgres = args.postgres
        hosts = server_fqdns(args.cell, postgres)
        # No keepers: both stay put across deploys. Rotating one is a deliberate replace (docs/deploy.md).
        # Alphanumeric only, so no character needs care in a URL, a shell or a config file.
        self.app_password = random.RandomPassword(
            f"{name}-app-password", length=APP_PASSWORD_LENGTH, special=False,
            min_lower=2, min_upper=2, min_numeric=2, opts=child)
        self.secret_key = random.RandomPassword(
            f"{name}-secret-key", length=SECRET_KEY_LENGTH, special=False, opts=child)

        def url(login: str, password: Output[str]) -> Output[str]:
            return Output.secret(Output.all(password, hosts).apply(lambda v: connection_url(login, v[0], v[1])))

        # The admin password rotates per window (postgres.py) and the owner URL follows it, so every
        # secret here takes that secret's expiry; each deploy in a new window moves it on.
        vault, expires = args.key_vault, postgres.secret_expires
        self.database_url = vault.secret(
            VAULT_NAMES["DATABASE_URL"], url(APP_LOGIN, self.app_password.result),
            content_type=f"text/plain; postgresql-url; login={APP_LOGIN}", expires=expires, opts=child)
        self.owner_url = vault.secret(
            VAULT_NAMES["DATABASE_OWNER_URL"], url(ADMIN_LOGIN, postgres.admin_password.result),
            content_type=f"text/plain; postgresql-url; login={ADMIN_LOGIN}", expires=expires, opts=child)
        self.secret_key_secret = vault.secret(
            VAULT_NAMES["SECRET_KEY"], Output.secret(self.secret_key.result),
            content_type="text/plain; booking-secret-key", expires=expires, opts=child)
        self.peer_key_secret = vault.secret(
            VAULT_NAMES["PEER_KEY"], Output.secret(args.peer_key),
            content_type="text/plain; booking-peer-key", expires=expires, opts=child)
        self.register_outputs({"database_url_id": self.database_url.id, "owner_url_id": self.owner_url.id,
                               "secret_key_id": self.secret_key_secret.id,
                               "peer_key_id": self.peer_key_secret.id})
