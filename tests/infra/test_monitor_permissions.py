"""The monitor's instances may read exactly their own parameters: every SSM call in their cloud-init is
granted by the inline policy, and nothing grants SSM reads on the whole account."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable

from infra import mocks
from infra.provider import permissions

POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"


def _statements(plan: mocks.Plan, site: str) -> list[dict[str, object]]:
    [policy] = [p for p in plan.of_type(POLICY) if p.name == f"{site}-access"]
    document = policy.inputs["policy"]
    statements: list[dict[str, object]] = (json.loads(document) if isinstance(document, str)
                                           else document)["Statement"]
    return statements


def _allows(statements: list[dict[str, object]], action: str, resource: str) -> bool:
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if action in actions and any(fnmatch.fnmatchcase(resource, str(r)) for r in resources):
            return True
    return False


def test_each_site_reads_its_config_and_its_prefix_and_nothing_else(plan_of: Callable[[str], mocks.Plan]) -> None:
    plan = plan_of("prod")
    sites = [p.name.removesuffix("-access") for p in plan.of_type(POLICY) if p.name.startswith("uptime-")]
    assert sites
    for site in sites:
        region = site.split("-", 2)[2]
        statements = _statements(plan, site)
        arn = f"arn:aws:ssm:{region}:123456789012:parameter"
        assert _allows(statements, "ssm:GetParameter", f"{arn}/slotstack/prod/uptime-config"), site
        assert _allows(statements, "ssm:GetParametersByPath", f"{arn}/slotstack/prod/uptime"), site
        assert not _allows(statements, "ssm:GetParameter", f"{arn}/slotstack/dev/uptime-config"), site
        assert not _allows(statements, "ssm:GetParametersByPath", f"{arn}/slotstack/staging/uptime"), site
        for action in permissions.session_manager_actions():
            assert _allows(statements, action, "*"), f"{site}: Session Manager needs {action}"
    attached = [a.inputs["policyArn"] for a in plan.of_type(ATTACHMENT)]
    assert "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore" not in attached, (
        "AmazonSSMManagedInstanceCore grants ssm:GetParameter on every parameter of the account")


def test_azure_identities_hold_exactly_the_roles_their_calls_need(plan_of: Callable[[str], mocks.Plan]) -> None:
    from infra.compute.roles import ROLES

    needed = {ROLES[c.grant] for c in permissions.FLEET_CALLS}
    plan = plan_of("prod")
    granted = {a.inputs["roleDefinitionId"].rsplit("/", 1)[-1]
               for a in plan.of_type("azure-native:authorization:RoleAssignment")}
    assert granted == needed, "a role no run-time call needs, or a call without its role"
