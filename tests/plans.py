"""Shared fixtures of the infra and policy tests: a small fixture wheel and each committed environment planned once.

Planning runs the whole program under Pulumi's mock engine (infra.mocks.evaluate); it is done once
per environment per test process and the recorded plan is shared read-only by every test.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from infra import environment, mocks, program
from infra.compute.settings import DeploySettings, Wheel

ENVIRONMENTS = ("dev", "staging", "prod")
# A public key of the right shape; no one holds its private half.
TEST_SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestKeyForSlotstackInfraTestsOnly00000000 tests@slotstack"

_PLANS: dict[str, mocks.Plan] = {}


def make_wheel(directory: Path, version: str = "1.2.3", payload: bytes = b"print('booking')\n") -> Path:
    """A tiny but real zip named like a booking wheel, so tests do not need app/ to build."""
    path = directory / f"booking-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("booking/__init__.py", payload)
    return path


@pytest.fixture(scope="session")
def fixture_wheel(tmp_path_factory: pytest.TempPathFactory) -> Wheel:
    return Wheel.from_file(make_wheel(tmp_path_factory.mktemp("wheel")))


FIXTURE_BOOTSTRAP = "#!/bin/sh\n# fixture bootstrap for the infra tests\necho bootstrap \"$@\"\n"
FIXTURE_UNIT = "[Service]\nExecStart=/opt/booking/current/bin/booking serve\n"


@pytest.fixture(scope="session")
def fixture_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in for app/deploy/bootstrap.sh (and its booking.service), so tests do not need app/."""
    directory = tmp_path_factory.mktemp("deploy")
    (directory / "booking.service").write_text(FIXTURE_UNIT, encoding="utf-8")
    script = directory / "bootstrap.sh"
    script.write_text(FIXTURE_BOOTSTRAP, encoding="utf-8")
    return script


@pytest.fixture(scope="session")
def fixture_uptime_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny zip named like the monitor's wheel, so tests do not need monitoring/ to build."""
    path = tmp_path_factory.mktemp("uptime-wheel") / "uptime-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("uptime/__init__.py", b"")
    return path


@pytest.fixture(scope="session")
def deploy_settings(fixture_wheel: Wheel, fixture_bootstrap: Path, fixture_uptime_wheel: Path) -> DeploySettings:
    return DeploySettings(wheel=fixture_wheel, ssh_public_keys=(TEST_SSH_KEY,), bootstrap=fixture_bootstrap,
                          monitor_wheel=fixture_uptime_wheel)


@pytest.fixture(scope="session")
def plan_of(deploy_settings: DeploySettings) -> Callable[[str], mocks.Plan]:
    """Plan a committed environment (once per test process) and return the recorded resources."""

    def plan(name: str) -> mocks.Plan:
        if name not in _PLANS:
            env = environment.load(name)
            _PLANS[name] = mocks.evaluate(name, lambda: program.build(env, deploy_settings))
        return _PLANS[name]

    return plan


@pytest.fixture(params=ENVIRONMENTS)
def env_plan(request: pytest.FixtureRequest,
             plan_of: Callable[[str], mocks.Plan]) -> tuple[environment.Environment, mocks.Plan]:
    """(environment, plan) for each of dev, staging and prod."""
    name: str = request.param
    return environment.load(name), plan_of(name)


def of_cell(plan: mocks.Plan, cell: str, type_: str) -> list[mocks.Recorded]:
    """Resources of `type_` that belong to `cell` (every child of a Cell is named `<cell>-...`)."""
    return [r for r in plan.of_type(type_) if r.name.startswith(f"{cell}-")]


def by_id(plan: mocks.Plan) -> dict[str, mocks.Recorded]:
    """Every recorded resource by its (mock) id, to follow references between resources."""
    return {r.id: r for r in plan.resources}
