"""What a rule sees, and the two kinds of rule.

A `Resource` is one resource of a stack as either side knows it: the engine's CrossGuard analyzer
(`pulumi preview|up --policy-pack policy`) or the offline plan (`mlp plan`, the tests). Its
`props` are the engine's camelCase properties. A `Rule` judges one resource alone; a `StackRule`
judges the stack as a whole, for what only several resources together say: in pulumi-aws v7 a
bucket's encryption, versioning, logging and public-access block are resources of their own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Optional

from mlp.state import decode_default_tags

AWSGUARD = "https://github.com/pulumi/pulumi-policy-aws"


@dataclass(frozen=True)
class Resource:
    type: str
    props: dict[str, Any]
    urn: str = ""
    protect: bool = False
    # None where the engine does not say (CrossGuard passes no retainOnDelete to policies).
    retain_on_delete: Optional[bool] = None
    # The stack's environment, from the cost tags its AWS provider sets on everything.
    environment: Optional[str] = None
    # Outputs the resource is known by (id, arn, name, bucket): how another resource names it.
    outputs: dict[str, Any] = field(default_factory=dict)
    # The engine's record of which resources each property (or the resource as a whole) came from.
    property_dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    dependencies: tuple[str, ...] = ()

    def names(self) -> set[str]:
        """Every value another resource may use to point at this one."""
        values = [self.outputs.get(key) for key in ("id", "arn", "name", "bucket", "keyId")] + [self.props.get(key) for key in ("arn", "name", "bucket")]
        return {value for value in values if isinstance(value, str) and value}


@dataclass(frozen=True)
class Rule:
    """A check of one resource: `check` returns what is wrong with it."""

    name: str
    description: str
    applies: Callable[[str], bool]
    check: Callable[[Resource], list[str]]
    source: Optional[str] = None  # the CrossGuard awsguard policy this ports, if any


@dataclass(frozen=True)
class StackRule:
    """A check of the whole stack: `check` returns (URN, problem) pairs."""

    name: str
    description: str
    check: Callable[["Stack"], list[tuple[str, str]]]
    source: Optional[str] = None


def of_types(*types: str) -> Callable[[str], bool]:
    return lambda resource_type: resource_type in types


class Stack:
    """Every resource of one stack, with the lookups stack rules need."""

    def __init__(self, resources: Iterable[Resource]):
        self.resources = list(resources)
        self.by_urn = {resource.urn: resource for resource in self.resources if resource.urn}

    @property
    def environment(self) -> Optional[str]:
        return next((resource.environment for resource in self.resources if resource.environment), None)

    def of_type(self, *types: str) -> list[Resource]:
        return [resource for resource in self.resources if resource.type in types]

    def referenced(self, resource: Resource, prop: str, *types: str) -> list[Resource]:
        """The resources of `types` that `resource.props[prop]` points at: by the engine's property
        dependencies where it recorded them, else by value (an id, ARN or name), else by the
        resource's dependencies when exactly one of them has a matching type."""
        urns = resource.property_dependencies.get(prop)
        if urns:
            return [self.by_urn[urn] for urn in urns if urn in self.by_urn and self.by_urn[urn].type in types]
        values = {value for value in as_list(resource.props.get(prop)) if isinstance(value, str)}
        matched = [other for other in self.of_type(*types) if values & other.names()]
        if matched:
            return matched
        candidates = [self.by_urn[urn] for urn in resource.dependencies if urn in self.by_urn and self.by_urn[urn].type in types]
        return candidates if len(candidates) == 1 else []

    def referencing(self, target: Resource, prop: str, *types: str) -> list[Resource]:
        """The resources of `types` whose `prop` points at `target`."""
        return [resource for resource in self.of_type(*types) if any(found is target for found in self.referenced(resource, prop, target.type))]


# --- reading properties -----------------------------------------------------------------------

def as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def document(value: Any) -> dict:
    """A policy document, whether the engine holds it as JSON text or as an object."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def statements(value: Any) -> Iterator[dict]:
    for statement in as_list(document(value).get("Statement")):
        if isinstance(statement, dict):
            yield statement


def actions(statement: dict) -> list[str]:
    return [str(action) for action in as_list(statement.get("Action"))]


def service_principals(statement: dict) -> list[str]:
    principal = statement.get("Principal")
    return [str(service) for service in as_list(principal.get("Service"))] if isinstance(principal, dict) else []


def condition_keys(statement: dict) -> dict[str, Any]:
    """Condition key (lower case) -> value, whatever the operator."""
    keys: dict[str, Any] = {}
    for operator in (statement.get("Condition") or {}).values():
        if isinstance(operator, dict):
            keys.update({str(key).lower(): value for key, value in operator.items()})
    return keys


def truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def labels_of(props: dict) -> dict:
    metadata = props.get("metadata") if isinstance(props.get("metadata"), dict) else {}
    labels = metadata.get("labels")
    return labels if isinstance(labels, dict) else {}


def annotations_of(props: dict) -> dict:
    metadata = props.get("metadata") if isinstance(props.get("metadata"), dict) else {}
    annotations = metadata.get("annotations")
    return annotations if isinstance(annotations, dict) else {}


def environment_of_provider(props: dict) -> Optional[str]:
    return decode_default_tags(props.get("defaultTags")).get("Environment") or None


def environment_of_urn(urn: str) -> Optional[str]:
    """The stack of a URN (`urn:pulumi:<stack>::...`): config requires the environment to equal it."""
    return urn.split("::", 1)[0].rsplit(":", 1)[-1] if urn.startswith("urn:pulumi:") else None
