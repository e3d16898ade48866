"""Nothing lands outside its cell's geography, except the listed global resources; also after a failover.

The tags and the per-cell geography of every resource are checked in test_program.py; here the stricter
rules of the exemption lists (infra/observability/exempt.py) and the property names the engine receives.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from infra import environment, tags
from infra.environment import Environment
from infra.mocks import Plan
from infra.observability.exempt import EXTENSION_RESOURCES, GLOBAL_RESOURCES
from infra.residency import RESIDENCIES
from infra.statement import EXEMPT
from tests.plans import ENVIRONMENTS

SNAKE = re.compile(r"^[a-z]+(_[a-z0-9]+)+$")


@pytest.fixture(scope="module")
def plans(plan_of: Callable[[str], Plan]) -> dict[str, tuple[Environment, Plan]]:
    return {name: (environment.load(name), plan_of(name)) for name in ENVIRONMENTS}


def _azure(plan: Plan) -> list[Any]:
    return [r for r in plan.resources if r.type.startswith("azure-native:")]


def _owner(env: Environment, name: str) -> str | None:
    for cell in env.cells:
        if name.startswith(f"{cell}-"):
            return cell
    return None


def _check_geography(env: Environment, plan: Plan) -> None:
    for resource in _azure(plan):
        where = f"{env.name}: {resource.type} {resource.name}"
        if resource.type in EXTENSION_RESOURCES:
            assert "location" not in resource.inputs, f"{where}: extension resources have no location"
            continue
        location = resource.location
        if not location:
            continue  # a child resource in its parent's location (test_program.py checks which may omit it)
        if resource.type in GLOBAL_RESOURCES:
            assert location == "global", f"{where}: exempt global resources are 'global', not {location}"
            continue
        if location == "global":
            assert resource.type in EXEMPT, f"{where}: 'global' only for the exempt types of infra/statement.py"
            continue
        cell = _owner(env, resource.name)
        if cell is None:
            # The environment's shared resource group holds only the global action groups: no customer data.
            assert resource.tags.get("data-classification") == tags.OPERATIONAL, (
                f"{where}: a regional resource outside every cell may hold no customer data")
            continue
        residency = env.cells[cell].residency
        assert location in RESIDENCIES[residency].azure_regions, (
            f"{where}: {location} is outside residency {residency!r}; customer data must stay in the geography")


def test_everything_is_in_its_cells_geography_or_an_exempt_global_resource(plans) -> None:
    for env, plan in plans.values():
        _check_geography(env, plan)


def test_still_in_the_geography_after_a_failover(changed_prod: tuple[Environment, Plan]) -> None:
    env, plan = changed_prod
    assert {c.name for c in env.cells.values() if c.active_region == "secondary"} == {"eu", "au"}
    _check_geography(env, plan)


def _snake_keys(value: Any, path: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and SNAKE.match(key) and key != "tags":
                found.append(f"{path}.{key}")
            if key != "tags":
                found += _snake_keys(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _snake_keys(item, f"{path}[{index}]")
    return found


def test_the_engine_receives_azure_property_names(plans) -> None:
    # A plain dict inside a union-typed input reaches Azure with Python names (all_of instead of allOf),
    # which Azure silently ignores or rejects; every nested key must arrive in camelCase.
    for env, plan in plans.values():
        for resource in _azure(plan):
            assert not _snake_keys(resource.inputs), (
                f"{env.name}: {resource.type} {resource.name} sends Python names {_snake_keys(resource.inputs)}")
