"""The rules of `policy.rules` as a CrossGuard policy pack: resource rules as resource validation
policies, stack rules as stack validation policies, all mandatory."""

from __future__ import annotations

from typing import Any, Optional, Union

from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

from policy.model import Resource, Rule, Stack, StackRule, environment_of_provider, environment_of_urn
from policy.rules import RULES, STACK_RULES

PACK_NAME = "mlplatform-guardrails"


def _environment(provider: Any, urn: str) -> Optional[str]:
    """From the AWS provider's cost tags; for Kubernetes objects (no AWS provider), the stack's name,
    which config requires to be the environment."""
    tagged = environment_of_provider(dict(provider.props or {})) if provider is not None else None
    return tagged or environment_of_urn(urn)


def resource_of(args: Any) -> Resource:
    """The rules' view of one resource as CrossGuard validates it."""
    opts = getattr(args, "opts", None)
    return Resource(
        type=args.resource_type,
        props=dict(args.props),
        urn=args.urn,
        protect=bool(getattr(opts, "protect", False)),
        environment=_environment(getattr(args, "provider", None), args.urn),
    )


def stack_resource_of(resource: Any) -> Resource:
    """The rules' view of one resource of a CrossGuard stack validation, with its dependencies."""
    props = dict(resource.props or {})
    environment = environment_of_provider(props) if resource.resource_type == "pulumi:providers:aws" else _environment(resource.provider, resource.urn)
    return Resource(
        type=resource.resource_type,
        props=props,
        urn=resource.urn,
        protect=bool(getattr(resource.opts, "protect", False)),
        environment=environment,
        outputs=props,
        property_dependencies={key: tuple(dep.urn for dep in deps) for key, deps in (resource.property_dependencies or {}).items()},
        dependencies=tuple(dep.urn for dep in resource.dependencies or []),
    )


def _resource_validator(rule: Rule):
    def validate(args, report_violation) -> None:
        if rule.applies(args.resource_type):
            for problem in rule.check(resource_of(args)):
                report_violation(problem, args.urn)

    return validate


def _stack_validator(rule: StackRule):
    def validate(args, report_violation) -> None:
        for urn, problem in rule.check(Stack(stack_resource_of(resource) for resource in args.resources)):
            report_violation(problem, urn)

    return validate


def build_policies() -> list[Union[ResourceValidationPolicy, StackValidationPolicy]]:
    resource_policies: list[Union[ResourceValidationPolicy, StackValidationPolicy]] = [
        ResourceValidationPolicy(name=rule.name, description=rule.description, validate=_resource_validator(rule),
                                 enforcement_level=EnforcementLevel.MANDATORY)
        for rule in RULES
    ]
    return resource_policies + [
        StackValidationPolicy(name=rule.name, description=rule.description, validate=_stack_validator(rule),
                              enforcement_level=EnforcementLevel.MANDATORY)
        for rule in STACK_RULES
    ]
