"""Nothing of issue 6 lands outside its cell's geography, except the listed global resources."""

from __future__ import annotations

import re
from typing import Any

import pytest

from infra.environment import Environment
from infra.mocks import Plan
from infra.observability.exempt import EXTENSION_RESOURCES, GLOBAL_RESOURCES
from infra.residency import RESIDENCIES
from tests.infra.test_observability_standins import committed, observe, with_cell

ENVIRONMENTS = ("dev", "staging", "prod")
CELL_TAGS = ("environment", "cell", "residency", "data-classification", "managed-by")
SNAKE = re.compile(r"^[a-z]+(_[a-z0-9]+)+$")


@pytest.fixture(scope="module")
def plans() -> dict[str, tuple[Environment, Plan]]:
    return {name: committed(name) for name in ENVIRONMENTS}


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
        assert location, f"{where}: every Azure resource sets its location explicitly"
        if resource.type in GLOBAL_RESOURCES:
            assert location == "global", f"{where}: exempt global resources are 'global', not {location}"
            continue
        assert location != "global", f"{where}: 'global' is allowed only for {sorted(GLOBAL_RESOURCES)}"
        cell = _owner(env, resource.name)
        assert cell is not None, f"{where}: a regional resource must belong to a cell"
        residency = env.cells[cell].residency
        assert location in RESIDENCIES[residency].azure_regions, (
            f"{where}: {location} is outside residency {residency!r}; customer data must stay in the geography")


def test_everything_is_in_its_cells_geography_or_an_exempt_global_resource(plans) -> None:
    for env, plan in plans.values():
        _check_geography(env, plan)


def test_still_in_the_geography_after_a_failover() -> None:
    env, _plan = committed("prod")
    for cell in env.cells:
        env = with_cell(env, cell, active_region="secondary")
    _check_geography(env, observe(env))


def test_every_taggable_resource_carries_the_cell_tags(plans) -> None:
    for env, plan in plans.values():
        for resource in _azure(plan):
            if resource.type in EXTENSION_RESOURCES:
                continue
            cell = _owner(env, resource.name)
            wanted = CELL_TAGS if cell else ("environment", "managed-by")
            missing = [tag for tag in wanted if tag not in resource.tags]
            assert not missing, f"{env.name}: {resource.type} {resource.name} lacks tags {missing}"
            if cell:
                assert resource.tags["cell"] == cell, f"{resource.name}: tagged with another cell"


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
