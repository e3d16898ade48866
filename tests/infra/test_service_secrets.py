"""The booking service's secrets in each cell's Key Vault (infra/storage/service_secrets.py).

The names and URL shapes are the contract app/booking/vault.py reads at boot; the values must be
Pulumi secrets and the URLs must follow the failover switch to the promoted replica.
"""

from __future__ import annotations

import json
import re
import string
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockResourceArgs

from infra import cli, environment, mocks, program
from infra.compute.settings import DeploySettings, Wheel
from infra.storage.postgres import ADMIN_LOGIN
from infra.storage.service_secrets import PEER_KEY_NAME, VAULT_NAMES, connection_url
from tests.plans import of_cell

VAULT = "azure-native:keyvault:Vault"
SECRET = "azure-native:keyvault:Secret"
SERVER = "azure-native:dbforpostgresql:Server"
PASSWORD = "random:index/randomPassword:RandomPassword"
NAMES = ("booking-database-url", "booking-owner-url", "booking-secret-key",  # the contract, spelled out
         "booking-peer-key")
URL = re.compile(r"^postgresql://(?P<login>[^:@/]+):(?P<password>[^@/]+)@(?P<hosts>[^/]+)/booking"
                 r"\?sslmode=require&target_session_attrs=read-write&connect_timeout=3$")
Env = tuple[environment.Environment, mocks.Plan]


def _unwrap(value: Any) -> tuple[Any, bool]:
    """`value` without the engine's secret wrapper around it, and whether there was one."""
    if isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig:
        return value["value"], True
    return value, False


def _at(inputs: dict[str, Any], *path: str) -> tuple[Any, bool]:
    """The recorded input at `path`, and whether a secret wrapper on the way hides it in state."""
    value: Any = inputs
    secret = False
    for key in path:
        value, wrapped = _unwrap(value[key])
        secret = secret or wrapped
    return value, secret


def _properties(secret: mocks.Recorded) -> dict[str, Any]:
    props: dict[str, Any] = _at(secret.inputs, "properties")[0]
    return {key: _at(props, key)[0] for key in props if key != rpc._special_sig_key}


def _service_secrets(plan: mocks.Plan, cell: str) -> dict[str, mocks.Recorded]:
    return {s.inputs["secretName"]: s for s in of_cell(plan, cell, SECRET) if s.inputs["secretName"] in NAMES}


def _fqdns(plan: mocks.Plan, cell: str) -> dict[str, str]:
    """createMode ("Create" primary, "Replica") -> FQDN the mock engine gave the cell's servers."""
    return {s.inputs["createMode"]: s.outputs["fullyQualifiedDomainName"] for s in of_cell(plan, cell, SERVER)}


def _url(secret: mocks.Recorded) -> re.Match[str]:
    value = _properties(secret)["value"]
    found = URL.match(value)
    assert found, f"{secret.name}: {value!r} is not postgresql://login:password@host:5432[,...]/booking?sslmode=..."
    return found


def _hosts(found: re.Match[str]) -> list[str]:
    """The URL's servers in order, each checked to name port 5432."""
    hosts = []
    for item in found["hosts"].split(","):
        host, _, port = item.rpartition(":")
        assert port == "5432", found.string
        hosts.append(host)
    return hosts


def test_each_cells_vault_holds_the_four_secrets_the_service_reads(env_plan: Env) -> None:
    env, plan = env_plan
    for cell in env.cells:
        [vault] = of_cell(plan, cell, VAULT)
        found = _service_secrets(plan, cell)
        assert sorted(found) == sorted(NAMES), f"{env.name}/{cell}: service secrets {sorted(found)}"
        for secret in found.values():
            assert secret.inputs["vaultName"] == vault.inputs["vaultName"], f"{secret.name}: not the cell's vault"
            assert secret.inputs["resourceGroupName"] == vault.inputs["resourceGroupName"], secret.name


def test_values_are_pulumi_secrets(env_plan: Env) -> None:
    env, plan = env_plan
    for cell in env.cells:
        for secret in _service_secrets(plan, cell).values():
            value, is_secret = _at(secret.inputs, "properties", "value")
            assert value, f"{secret.name}: empty value"
            assert is_secret, f"{secret.name}: the value would be stored in plain text in state"


def test_urls_reach_the_primary_as_the_app_role_and_the_admin(env_plan: Env) -> None:
    env, plan = env_plan
    generated = "mock-password-not-a-secret-0123456789"  # what RecordingMocks hands back as `result`
    for cell in env.cells:
        servers = _fqdns(plan, cell)
        expected = [servers["Create"], *([servers["Replica"]] if "Replica" in servers else [])]
        secrets = _service_secrets(plan, cell)
        app, owner = _url(secrets["booking-database-url"]), _url(secrets["booking-owner-url"])
        assert (app["login"], _hosts(app)) == ("booking_app", expected), f"{env.name}/{cell}: {app.string}"
        assert (owner["login"], _hosts(owner)) == (ADMIN_LOGIN, expected), f"{env.name}/{cell}: owner URL"
        assert app["password"] == owner["password"] == quote(generated, safe="")


def test_expiry_and_content_type_follow_the_admin_password_secret(env_plan: Env) -> None:
    env, plan = env_plan
    for cell in env.cells:
        [admin] = [s for s in of_cell(plan, cell, SECRET) if s.name == f"{cell}-pg-admin-secret"]
        expires = admin.inputs["properties"]["attributes"]["expires"]
        for secret in _service_secrets(plan, cell).values():
            props = _properties(secret)
            assert props["attributes"] == {"enabled": True, "expires": expires}, f"{secret.name}: expiry"
            assert props["contentType"].startswith("text/plain; "), f"{secret.name}: content type"


def test_failover_points_the_urls_at_the_promoted_replica(changed_prod: Env) -> None:
    env, plan = changed_prod
    for cell in env.cells:
        servers = _fqdns(plan, cell)
        promoted = env.cells[cell].active_region == "secondary"
        writer, other = ("Replica", "Create") if promoted else ("Create", "Replica")
        secrets = _service_secrets(plan, cell)
        for name in ("booking-database-url", "booking-owner-url"):
            hosts = _hosts(_url(secrets[name]))
            assert hosts == [servers[writer], servers[other]], f"prod/{cell} {name}: writer first, then the other"
    eu = [s for s in of_cell(plan, "eu", SERVER) if s.inputs["createMode"] == "Replica"]
    assert eu[0].inputs["replica"]["promoteMode"] == "Standalone", "the URLs moved without a promotion"


def _realistic(length: int, special: bool, override: str) -> str:
    """A deterministic password of the requested length using every character class it allows."""
    alphabet = string.ascii_letters + string.digits + ((override or "!@#$%&*()-_=+[]{}<>:?") if special else "")
    return "".join(alphabet[(i * 7) % len(alphabet)] for i in range(length))


@pytest.fixture
def realistic_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """RandomPassword results of the requested length and characters, a different one for every password
    (the default mock is one fixed string): two passwords of the same shape get different rotations."""
    original = mocks.RecordingMocks.new_resource
    handed_out: set[str] = set()
    lock = threading.Lock()

    def new_resource(self: mocks.RecordingMocks, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        resource_id, outputs = original(self, args)
        if args.typ == PASSWORD:
            given = args.inputs
            value = _realistic(int(given["length"]), bool(given.get("special", True)),
                               str(given.get("overrideSpecial", "")))
            with lock:
                # A rotation keeps the length and every character, so the classes asked for stay in.
                rotations = (value[k:] + value[:k] for k in range(len(value)))
                value = next(r for r in rotations if r not in handed_out)
                handed_out.add(value)
            outputs["result"] = value
        return resource_id, outputs

    monkeypatch.setattr(mocks.RecordingMocks, "new_resource", new_resource)


@pytest.mark.usefixtures("realistic_passwords")
def test_passwords_are_quoted_and_the_secret_key_has_64_characters(deploy_settings: DeploySettings) -> None:
    env = environment.load("dev")
    plan = mocks.evaluate("dev", lambda: program.build(env, deploy_settings))
    results = {p.name: p.outputs["result"] for p in plan.of_type(PASSWORD)}
    admin = results["us-pg-admin-password"]
    assert set(admin) & set("!#%*=+"), "the stand-in admin password must need quoting"
    secrets = _service_secrets(plan, "us")
    owner = _url(secrets["booking-owner-url"])
    assert owner["password"] == quote(admin, safe=""), "the admin password must be URL-quoted"
    assert unquote(owner["password"]) == admin
    app = _url(secrets["booking-database-url"])
    assert unquote(app["password"]) == results["us-booking-secrets-app-password"]
    assert len(results["us-booking-secrets-app-password"]) == 40
    key = _properties(secrets["booking-secret-key"])["value"]
    assert key == results["us-booking-secrets-secret-key"]
    assert len(key) == 64, "SECRET_KEY: 64 characters"
    assert key.isalnum(), "SECRET_KEY: alphanumeric"


@pytest.mark.parametrize("password", ["p@ss/w:rd#?%+ &=é", "plain0123", "!#%*-_=+"])
def test_connection_url_quotes_any_password(password: str) -> None:
    url = connection_url("booking_app", password, ["db.example.com"])
    parts = urlsplit(url)
    assert (parts.scheme, parts.hostname, parts.port, parts.path, parts.query) == (
        "postgresql", "db.example.com", 5432, "/booking", "sslmode=require&target_session_attrs=read-write&"
        "connect_timeout=3")
    assert parts.username == "booking_app"
    assert unquote(parts.password or "") == password
    assert URL.match(url), url


def test_generators_stay_stable_across_deploys(plan_of: Callable[[str], mocks.Plan]) -> None:
    """No keepers: the app password and SECRET_KEY change only when someone replaces them on purpose."""
    plan = plan_of("prod")
    for name in ("us-booking-secrets-app-password", "us-booking-secrets-secret-key"):
        given = plan.named(name).inputs
        assert "keepers" not in given, f"{name}: a keeper would regenerate it (and log everyone out)"
    assert plan.named("us-booking-secrets-app-password").inputs["length"] == 40
    assert plan.named("us-booking-secrets-secret-key").inputs["length"] == 64


def test_plan_lists_the_secrets_but_never_their_values(
    fixture_wheel: Wheel, fixture_uptime_wheel: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["plan", "prod", "--wheel", str(fixture_wheel.path), "--monitor-wheel", str(fixture_uptime_wheel)]
    assert cli.main([*argv, "--json"]) == 0
    out = capsys.readouterr().out
    env = environment.load("prod")
    doc = json.loads(out)
    for cell, spec in env.cells.items():
        listed = {r["name"]: r["region"] for r in doc["cells"][cell]["resources"] if r["type"] == SECRET}
        for name in NAMES:
            assert listed.get(f"{cell}-kv-secret-{name}") == spec.primary_region, f"prod/{cell}: {name} not listed"
    assert "postgresql://" not in out, "a database URL was printed"
    assert "mock-password" not in out, "a generated password was printed"


def test_the_names_are_the_contract_with_the_service() -> None:
    """app/booking/vault.py reads exactly these names into these variables; renaming one breaks boot."""
    expected = {"DATABASE_URL": NAMES[0], "DATABASE_OWNER_URL": NAMES[1], "SECRET_KEY": NAMES[2],
                "PEER_KEY": NAMES[3]}
    assert dict(VAULT_NAMES) == expected


def _peer_keys(plan: mocks.Plan) -> list[mocks.Recorded]:
    """The RandomPasswords behind PEER_KEY: the environment's, outside every cell."""
    return [p for p in plan.of_type(PASSWORD) if "peer-key" in p.name]


def test_one_peer_key_per_environment_and_every_cell_holds_it(env_plan: Env) -> None:
    """PEER_KEY signs the calls between the cells: one generated value per stack, in every cell's vault."""
    env, plan = env_plan
    [password] = _peer_keys(plan)
    assert password.name == PEER_KEY_NAME
    assert not any(password.name.startswith(f"{cell}-") for cell in env.cells), "the peer key is no cell's own"
    given = password.inputs
    assert (given["length"], given["special"]) == (64, False), f"{env.name}: 64 alphanumeric characters"
    assert "keepers" not in given, f"{env.name}: a keeper would regenerate it and break every cross-cell call"
    for cell in env.cells:
        secret = _service_secrets(plan, cell)["booking-peer-key"]
        value, is_secret = _at(secret.inputs, "properties", "value")
        assert value == password.outputs["result"], f"{env.name}/{cell}: not the environment's peer key"
        assert is_secret, f"{env.name}/{cell}: the peer key would be stored in plain text in state"
        assert _properties(secret)["contentType"] == "text/plain; booking-peer-key"


@pytest.mark.usefixtures("realistic_passwords")
@pytest.mark.parametrize("name", ["staging", "prod"])
def test_all_cells_share_the_peer_key_and_it_is_not_a_secret_key(name: str, deploy_settings: DeploySettings) -> None:
    """With a distinct result per password: the same value in every cell, and none of the cells' SECRET_KEYs."""
    env = environment.load(name)
    plan = mocks.evaluate(name, lambda: program.build(env, deploy_settings))
    assert len(env.cells) > 1, f"{name}: a single cell proves nothing about sharing"
    results = {p.name: p.outputs["result"] for p in plan.of_type(PASSWORD)}
    peer = {cell: _properties(_service_secrets(plan, cell)["booking-peer-key"])["value"] for cell in env.cells}
    secret_keys = {cell: _properties(_service_secrets(plan, cell)["booking-secret-key"])["value"]
                   for cell in env.cells}
    assert set(peer.values()) == {results[PEER_KEY_NAME]}, f"{name}: cells disagree on PEER_KEY: {peer}"
    assert len(results[PEER_KEY_NAME]) >= 32, "PEER_KEY: the service wants at least 32 characters"
    assert results[PEER_KEY_NAME] not in secret_keys.values(), f"{name}: PEER_KEY must not be a cell's SECRET_KEY"
    assert secret_keys == {cell: results[f"{cell}-booking-secrets-secret-key"] for cell in env.cells}


def test_a_url_with_both_servers_is_what_libpq_and_the_service_read() -> None:
    from psycopg.conninfo import conninfo_to_dict

    url = connection_url("booking_app", "p@ss:w/rd", ["a.postgres.example", "b.postgres.example"])
    parsed = conninfo_to_dict(url)
    assert parsed["host"] == "a.postgres.example,b.postgres.example"
    assert parsed["port"] == "5432,5432"
    assert (parsed["user"], parsed["password"], parsed["dbname"]) == ("booking_app", "p@ss:w/rd", "booking")
    assert (parsed["sslmode"], parsed["target_session_attrs"]) == ("require", "read-write")
    parts = urlsplit(url)  # how the service takes role and password apart (booking.provision.ensure_app_role)
    assert (parts.username, unquote(parts.password or ""), parts.path) == ("booking_app", "p@ss:w/rd", "/booking")
