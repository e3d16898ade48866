"""The program's own resources pass every rule of the policy pack, in every committed environment."""

from __future__ import annotations

from infra import environment, mocks
from policy.pack import RESOURCE_RULES, STACK_RULES
from policy.rules.common import Resource

Env = tuple[environment.Environment, mocks.Plan]


def test_every_resource_rule_passes_on_the_planned_resources(env_plan: Env) -> None:
    env, plan = env_plan
    problems = [f"{rule.__name__}: {r.name}: {message}"
                for rule in RESOURCE_RULES for r in plan.resources for message in rule.check(r.type, r.inputs)]
    assert problems == [], f"{env.name}: the policy pack would block `pulumi up`:\n" + "\n".join(problems)


def test_every_stack_rule_passes_on_the_planned_stack(env_plan: Env) -> None:
    env, plan = env_plan
    resources = [Resource(type=r.type, name=r.name, props=r.inputs, aws_region=plan.aws_region_of(r))
                 for r in plan.resources]
    findings = [f"{rule.__name__}: {f.resource}: {f.message}"
                for rule in STACK_RULES for f in rule.check_stack(resources)]
    assert findings == [], f"{env.name}: the policy pack would block `pulumi up`:\n" + "\n".join(findings)
