"""The rules of `policy.rules` as a CrossGuard policy pack."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ResourceValidationPolicy

from policy.rules import RULES, Rule

PACK_NAME = "mlplatform-guardrails"


def _validator(rule: Rule):
    def validate(args, report_violation) -> None:
        if rule.applies(args.resource_type):
            for problem in rule.check(args.resource_type, dict(args.props)):
                report_violation(problem, args.urn)

    return validate


def build_policies() -> list[ResourceValidationPolicy]:
    return [
        ResourceValidationPolicy(name=rule.name, description=rule.description, validate=_validator(rule),
                                 enforcement_level=EnforcementLevel.MANDATORY)
        for rule in RULES
    ]
