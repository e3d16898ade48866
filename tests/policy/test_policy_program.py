"""The residency verdict on the assembled program (`infra.program.build`): every data resource is placed.

That every rule of the pack passes on the program is in test_policy.py, rule by rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from infra.environment import load
from infra.mocks import Plan
from infra.statement import EXEMPT, assess
from tests.plans import ENVIRONMENTS


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_programs_data_resources_are_placed_in_their_cells(plan_of: Callable[[str], Plan], name: str) -> None:
    env = load(name)
    found = assess(env, plan_of(name))
    assert found.ok, f"{name}: {[(p.resource, p.problem) for c in found.cells for p in c.violations]}"
    kinds: dict[str, Any] = {c.name: {p.type for p in c.data} for c in found.cells}
    for cell, types in kinds.items():
        assert "azure-native:network:ApplicationGateway" in types, f"{name}/{cell}: no gateway classified"
        assert "azure-native:keyvault:Vault" in types, f"{name}/{cell}: no vault classified"


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_every_global_resource_of_the_program_is_exempt_with_a_reason(plan_of: Callable[[str], Plan],
                                                                      name: str) -> None:
    """Anything placed at location 'global' must be on the explicit exempt list, or be data-bearing and fail."""
    unexplained = {r.type for r in plan_of(name).resources
                   if (r.location or "").lower() == "global" and r.type not in EXEMPT}
    assert not unexplained, f"{name}: global resources without an exemption reason: {sorted(unexplained)}"
