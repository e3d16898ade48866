"""The slotstack policy pack: every rule module adapted to pulumi-policy, all mandatory but the reminders."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policy.rules import (
    encryption_at_host,
    ha,
    keyvault,
    postgres_backup,
    postgres_tls,
    provider_rules,
    public_access,
    residency,
    restricted_regions,
    s3_public_access,
    tls,
    vm_auth,
    waf,
)
from policy.rules.common import Resource

PACK_NAME = "slotstack"
RESOURCE_RULES: tuple[ModuleType, ...] = (waf, tls, public_access, postgres_backup, ha, keyvault, vm_auth,
                                          encryption_at_host, provider_rules)
# Reminders, not refusals: an approved subscription deploys in a restricted region fine.
ADVISORY_RULES: tuple[ModuleType, ...] = (restricted_regions,)
STACK_RULES: tuple[ModuleType, ...] = (residency, postgres_tls, s3_public_access)


def _resource_validator(check: Callable[[str, Mapping[str, Any]], list[str]]
                        ) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in check(args.resource_type, args.props):
            report_violation(f"{args.name}: {message}", None)
    return validate


def _stack_validator(check: Callable[[Sequence[Resource]], list[Any]]
                     ) -> Callable[[StackValidationArgs, ReportViolation], None]:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [Resource(type=r.resource_type, name=r.name, props=r.props, urn=r.urn,
                              aws_region=_region(r.provider.props) if r.provider is not None else None)
                     for r in args.resources]
        for finding in check(resources):
            report_violation(f"{finding.resource}: {finding.message}", finding.urn or None)
    return validate


def _region(props: Mapping[str, Any]) -> str | None:
    region = props.get("region")
    return region if isinstance(region, str) else None


def policies() -> list[Policy]:
    """Every policy of the pack, one per rule module; mandatory except the advisory reminders."""
    made: list[Policy] = [ResourceValidationPolicy(name=rule.NAME, description=rule.DESCRIPTION,
                                                   validate=_resource_validator(rule.check),
                                                   enforcement_level=EnforcementLevel.MANDATORY)
                          for rule in RESOURCE_RULES]
    made += [StackValidationPolicy(name=rule.NAME, description=rule.DESCRIPTION,
                                   validate=_stack_validator(rule.check_stack),
                                   enforcement_level=EnforcementLevel.MANDATORY)
             for rule in STACK_RULES]
    made += [ResourceValidationPolicy(name=rule.NAME, description=rule.DESCRIPTION,
                                      validate=_resource_validator(rule.check),
                                      enforcement_level=EnforcementLevel.ADVISORY)
             for rule in ADVISORY_RULES]
    return made


def serve() -> PolicyPack:
    """Construct the pack; pulumi-policy then serves it to the engine (this call does not return)."""
    return PolicyPack(name=PACK_NAME, policies=policies(), enforcement_level=EnforcementLevel.MANDATORY,
                      description="slotstack residency and security guardrails")
