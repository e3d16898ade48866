"""The policy pack on the assembled program (`infra.program.build`) as engineer A's conftest plans it.

The data tier is checked on its own in test_policy.py; this holds the pack to whatever the program
declares today (gateways, WAF policies, fleets, vaults, release storage), so a guardrail and the
program can never silently disagree once the lead wires the data tier into `Cell`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from infra.environment import load
from infra.mocks import Plan
from infra.statement import EXEMPT, assess
from policy.pack import RESOURCE_RULES, STACK_RULES
from tests.policy.test_policy_inputs import ENVIRONMENTS, as_resources


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_program_passes_every_policy(plan_of: Callable[[str], Plan], name: str) -> None:
    resources = as_resources(plan_of(name))
    found: list[str] = []
    for rule in RESOURCE_RULES:
        found += [f"{rule.NAME} {r.name}: {m}" for r in resources for m in rule.check(r.type, r.props)]
    for stack_rule in STACK_RULES:
        found += [f"{stack_rule.NAME} {f.resource}: {f.message}" for f in stack_rule.check_stack(resources)]
    assert not found, f"{name}: the program violates its own policy pack:\n" + "\n".join(found)


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
