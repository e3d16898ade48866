"""One `pulumi up` from nothing: every reference in the plan points at something the program creates
(or at a listed prerequisite), including the gateway's certificate, which is a generated placeholder."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from infra import environment, mocks
from infra.cell import TLS_CERTIFICATE
from tests.plans import of_cell

SECRET = "azure-native:keyvault:Secret"
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # Pulumi's wire marker of a secret value
# What exists before the first `pulumi up` and is not the program's to create (docs/deploy.md, checklist).
PREREQUISITES = (
    re.compile(r"^/subscriptions/[^/]+/providers/Microsoft\.Authorization/roleDefinitions/[0-9a-f-]{36}$"),
)
VAULT_SECRET = re.compile(r"^https://(?P<vault>[^.]+)\.vault\.azure\.net/secrets/(?P<name>[^/]+)$")


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{path}[{i}]")
    elif isinstance(value, str):
        yield path, value


def dangling(plan: mocks.Plan) -> list[str]:
    """Every ARM id or Key Vault secret URL in an input that no planned resource (or prerequisite) answers."""
    ids = [r.id for r in plan.resources if r.id.startswith("/subscriptions/")]
    secrets = {(r.inputs.get("vaultName"), r.inputs.get("secretName")) for r in plan.of_type(SECRET)}
    vault_names = {r.id: r.inputs.get("vaultName") for r in plan.of_type("azure-native:keyvault:Vault")}
    secrets |= {(vault_names.get(v), n) for v, n in secrets}
    found = []
    for resource in plan.resources:
        for path, value in _strings(resource.inputs):
            if value.startswith("/subscriptions/"):
                known = any(value == i or value.startswith(i + "/") for i in ids)
                if not known and not any(p.match(value) for p in PREREQUISITES):
                    found.append(f"{resource.name}{path}: {value}")
            elif (match := VAULT_SECRET.match(value)) and (match["vault"], match["name"]) not in secrets:
                found.append(f"{resource.name}{path}: {value} (a secret nobody creates)")
    return found


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_every_reference_is_to_something_the_program_creates(plan_of: Callable[[str], mocks.Plan], name: str) -> None:
    assert dangling(plan_of(name)) == []


def test_the_walk_finds_a_reference_to_a_missing_certificate(plan_of: Callable[[str], mocks.Plan]) -> None:
    plan = plan_of("dev")
    without = mocks.Plan(stack="dev", resources=[r for r in plan.resources if r.type != SECRET])
    assert any("gateway-tls (a secret nobody creates)" in line for line in dangling(without))


def test_each_vault_gets_a_placeholder_certificate_the_gateway_can_read(plan_of: Callable[[str], mocks.Plan]) -> None:
    env = environment.load("staging")
    plan = plan_of("staging")
    for cell in env.cells.values():
        [secret] = [s for s in of_cell(plan, cell.name, SECRET) if s.inputs["secretName"] == TLS_CERTIFICATE]
        properties = secret.inputs["properties"]
        if SECRET_SIG in properties:  # the value is a Pulumi secret: the engine hands the object over wrapped
            properties = properties["value"]
        assert properties["contentType"] == "application/x-pkcs12"
        key, certificate, _ = pkcs12.load_key_and_certificates(base64.b64decode(properties["value"]), None)
        assert key is not None
        assert certificate is not None
        [common_name] = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        assert common_name.value == cell.hostname
        for gateway in of_cell(plan, cell.name, "azure-native:network:ApplicationGateway"):
            [ssl] = gateway.inputs["sslCertificates"]
            assert ssl["keyVaultSecretId"].endswith(f"/secrets/{TLS_CERTIFICATE}"), "versionless: renewals apply"
