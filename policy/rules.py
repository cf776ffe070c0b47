"""The policy pack's rules, as plain functions over resources: testable without the engine.

The same rules run in two places: on every real `pulumi preview|up --policy-pack policy` (CrossGuard,
`policy/pack.py`), and offline in `mlp plan` and the tests (`check_plan`). Rules of one resource
live in `RULES`, rules over the whole stack in `STACK_RULES`; each module groups one concern.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

from policy import compute, identity, kubernetes, network, protection, storage, tags
from policy.model import Resource, Rule, Stack, StackRule, environment_of_provider, environment_of_urn

RULES: tuple[Rule, ...] = (*tags.RULES, *compute.RULES, *storage.RULES, *identity.RULES, *kubernetes.RULES, *network.RULES)
STACK_RULES: tuple[StackRule, ...] = (*storage.STACK_RULES, *identity.STACK_RULES, *network.STACK_RULES, *protection.STACK_RULES)
ALL_RULES: tuple[Rule | StackRule, ...] = (*RULES, *STACK_RULES)


def check(resource: Resource) -> list[tuple[str, str]]:
    """(rule name, problem) for every resource rule the resource breaks."""
    return [(rule.name, problem) for rule in RULES if rule.applies(resource.type) for problem in rule.check(resource)]


def violations(resource_type: str, props: dict[str, Any], **context: Any) -> list[tuple[str, str]]:
    """`check` of a resource given by its type and properties (and, optionally, its environment,
    protect flag and other `Resource` fields)."""
    return check(Resource(resource_type, props, **context))


def stack_violations(resources: Iterable[Resource]) -> list[tuple[str, str, str]]:
    """(URN, rule name, problem) for every stack rule the stack breaks."""
    stack = Stack(resources)
    return [(urn, rule.name, problem) for rule in STACK_RULES for urn, problem in rule.check(stack)]


def from_plan(recorded: Iterable[Any]) -> list[Resource]:
    """`Resource`s of an offline plan or a stack-export document: anything with urn, type, inputs,
    outputs, protect, retain_on_delete and provider (mlp.offline.RecordedResource, mlp.state.StateResource)."""
    items = list(recorded)
    environments = {f"{item.urn}::{item.id}": environment_of_provider(item.inputs or {}) for item in items
                    if item.type == "pulumi:providers:aws"}
    # Kubernetes objects and components have no AWS provider: the stack's environment is theirs.
    stack_environment = next((environment for environment in environments.values() if environment), None)
    return [
        Resource(
            type=item.type,
            props=item.inputs or {},
            urn=item.urn,
            protect=bool(item.protect),
            retain_on_delete=bool(item.retain_on_delete),
            environment=environments.get(item.provider) or stack_environment or environment_of_urn(item.urn),
            outputs={**(item.outputs or {}), **({"id": item.id} if getattr(item, "id", None) else {})},
            dependencies=tuple(getattr(item, "dependencies", None) or ()),
        )
        for item in items
    ]


def check_plan(recorded: Iterable[Any]) -> list[tuple[str, str, str]]:
    """(URN, rule name, problem) of every rule, resource and stack, over an offline plan."""
    resources = from_plan(recorded)
    found = [(resource.urn, rule, problem) for resource in resources for rule, problem in check(resource)]
    return found + stack_violations(resources)


def rule_named(name: str) -> Optional[Rule | StackRule]:
    return next((rule for rule in ALL_RULES if rule.name == name), None)
