"""Deploy settings and names: what `pulumi up` refuses, and names Azure will accept."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from infra import environment, naming
from infra.compute import settings
from infra.errors import SlotstackError
from tests.plans import ENVIRONMENTS, TEST_SSH_KEY, make_wheel


def test_wheel_is_described_by_version_and_sha256(tmp_path: Path) -> None:
    path = make_wheel(tmp_path, version="2.0.1", payload=b"x")
    wheel = settings.Wheel.from_file(path)
    assert wheel.version == "2.0.1"
    (tmp_path / "other").mkdir()
    other = settings.Wheel.from_file(make_wheel(tmp_path / "other", version="2.0.1", payload=b"y"))
    assert re.fullmatch(r"[0-9a-f]{64}", wheel.sha256)
    assert wheel.sha256 != other.sha256, "a changed wheel must get a new blob name"


def test_a_file_that_is_not_a_booking_wheel_is_refused_with_the_expected_name(tmp_path: Path) -> None:
    path = tmp_path / "uptime-1.0-py3-none-any.whl"
    path.write_bytes(b"zip")
    with pytest.raises(SlotstackError, match=r"expected a file named booking-<version>-py3-none-any\.whl"):
        settings.Wheel.from_file(path)


def test_newest_wheel_in_dist_is_taken(tmp_path: Path) -> None:
    old = make_wheel(tmp_path, version="1.0.0")
    new = make_wheel(tmp_path, version="1.1.0")
    past = time.time() - 3600
    os.utime(old, (past, past))
    assert settings.find_wheel(dist=tmp_path, app=tmp_path / "no-app").path == new


def test_no_wheel_and_nothing_to_build_from_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(SlotstackError, match=r"no booking wheel in .* and no .*pyproject\.toml to build one from"):
        settings.find_wheel(dist=tmp_path / "dist", app=tmp_path / "app")


def test_deploy_needs_a_public_ssh_key_and_never_a_private_one(tmp_path: Path) -> None:
    wheel = settings.Wheel.from_file(make_wheel(tmp_path))
    with pytest.raises(SlotstackError, match="set SLOTSTACK_SSH_PUBLIC_KEY"):
        settings.DeploySettings(wheel=wheel, ssh_public_keys=())
    with pytest.raises(SlotstackError, match="is not an OpenSSH public key"):
        settings.DeploySettings(wheel=wheel, ssh_public_keys=("-----BEGIN OPENSSH PRIVATE KEY-----",))
    assert settings.DeploySettings(wheel=wheel, ssh_public_keys=(TEST_SSH_KEY,)).ssh_public_keys == (TEST_SSH_KEY,)


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_generated_names_are_valid_for_azure_and_unique(name: str) -> None:
    env = environment.load(name)
    accounts, vaults, labels, servers = [], [], [], []
    for cell in env.cells.values():
        vaults.append(naming.key_vault(env.name, cell.name))
        for region in (cell.primary_region, cell.secondary_region):
            accounts.append(naming.storage_account("rel", env.name, cell.name, region))
            accounts.append(naming.storage_account("bak", env.name, cell.name, region))
            servers.append(naming.postgres_server(env.name, cell.name, region))
            labels.append(naming.dns_label(env.name, cell.name, region))
            assert len(naming.scoped("agw", env.name, cell.name, region)) <= 80
    assert all(re.fullmatch(r"[a-z0-9]{3,24}", a) for a in accounts), accounts
    assert all(re.fullmatch(r"[a-z][a-z0-9-]{1,22}[a-z0-9]", v) for v in vaults), vaults
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", s) for s in servers), servers
    for values in (accounts, vaults, labels, servers):
        assert len(set(values)) == len(values)


def test_globally_unique_names_are_pinned() -> None:
    # A changed rule would rename (replace) every vault and storage account of every stack: on purpose only.
    assert naming.key_vault("prod", "us") == "kv-ss-prd-us-267455"
    assert naming.storage_account("rel", "prod", "eu", "westeurope") == "ssrelprdeuweud5d21e"
