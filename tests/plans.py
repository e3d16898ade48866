"""Shared fixtures of the infra and policy tests: a small fixture wheel and each committed environment planned once.

Planning runs the whole program under Pulumi's mock engine (infra.mocks.evaluate); it is done once
per environment per test process and the recorded plan is shared read-only by every test.
"""

from __future__ import annotations

import dataclasses
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from infra import environment, mocks, program
from infra.compute.settings import DeploySettings, Wheel
from policy.rules.common import Resource

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
def plan_env(deploy_settings: DeploySettings) -> Callable[[environment.Environment], mocks.Plan]:
    """Plan any environment through the real program (once per distinct environment per test process)."""

    def plan(env: environment.Environment) -> mocks.Plan:
        # Environments are frozen dataclasses whose repr lists every field, so it identifies one exactly.
        key = repr(env)
        if key not in _PLANS:
            _PLANS[key] = mocks.evaluate(env.name, lambda: program.build(env, deploy_settings))
        return _PLANS[key]

    return plan


@pytest.fixture(scope="session")
def plan_of(plan_env: Callable[[environment.Environment], mocks.Plan]) -> Callable[[str], mocks.Plan]:
    """Plan a committed environment (once per test process) and return the recorded resources."""
    return lambda name: plan_env(environment.load(name))


def failed_over(env: environment.Environment, *cells: str) -> environment.Environment:
    """`env` with `cells` switched to their secondary region (`active_region: secondary`)."""
    specs = dict(env.cells)
    for name in cells:
        specs[name] = dataclasses.replace(specs[name], active_region="secondary")
    return dataclasses.replace(env, cells=specs)


# The receiver `changed_prod` adds: whoever joins the rota must be paged without touching the program.
EXTRA_RECEIVER = environment.Receiver("Dee Third", "dee@example.com", "+447700900123")
CHANGED_ALERTS = {"cpu_percent": 65, "storage_percent": 70, "replica_lag_seconds": 120, "gateway_5xx_percent": 0.5,
                  "waf_blocked_per_5m": 999, "failed_connections_per_5m": 7, "availability_locations": 7,
                  "unhealthy_minutes": 7}


def changed_prod_env() -> environment.Environment:
    """prod with eu and au failed over, every alert threshold changed and a fourth receiver."""
    env = failed_over(environment.load("prod"), "eu", "au")
    oncall = dataclasses.replace(env.oncall, receivers=(*env.oncall.receivers, EXTRA_RECEIVER))
    return dataclasses.replace(env, alerts=dataclasses.replace(env.alerts, **CHANGED_ALERTS), oncall=oncall)


@pytest.fixture(scope="session")
def changed_prod(plan_env: Callable[[environment.Environment], mocks.Plan]
                 ) -> tuple[environment.Environment, mocks.Plan]:
    """`changed_prod_env()` and its plan: the one extra plan the "follows the environment" tests share."""
    env = changed_prod_env()
    return env, plan_env(env)


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


def as_resources(plan: mocks.Plan) -> list[Resource]:
    """The recorded plan as the policy pack sees a stack (AWS resources carry their provider's region)."""
    return [Resource(type=r.type, name=r.name, props=r.inputs, aws_region=plan.aws_region_of(r))
            for r in plan.resources]
