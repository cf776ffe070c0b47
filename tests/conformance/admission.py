"""A ValidatingAdmissionPolicy evaluated offline, the way the API server evaluates it on a request.

The API server, for a request that the policy's `matchConstraints` and its binding's
`matchResources` select: evaluates every `matchCondition` (all must hold, or the policy does not
apply), then the `variables` in order (each may read those before it as `variables.<name>`), then
each validation; every validation that is false refuses the request with its message. CEL runs in
celpy with the Kubernetes library functions of `crd.KUBERNETES_FUNCTIONS`; `object`, `request` and
`namespaceObject` are bound as the API server binds them. The object is the one the API server
holds after decoding, so CRD defaults are applied first (`crd.with_defaults`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Optional

import celpy
from celpy import celtypes

from tests.conformance import crd


@functools.lru_cache(maxsize=None)
def _program(expression: str):
    environment = celpy.Environment()
    return environment.program(environment.compile(expression), functions=crd.KUBERNETES_FUNCTIONS)


def compiles(expression: str) -> Optional[str]:
    """None if celpy compiles the expression, else why not."""
    try:
        _program(expression)
        return None
    except Exception as error:  # lark and celpy parse errors
        return str(error).splitlines()[0]


@dataclass
class Request:
    """What the policy sees of a request: the object, who sends it, the namespace it lands in."""

    object: dict
    username: str
    namespace: dict = field(default_factory=dict)  # the Namespace object (its metadata.labels matter)
    operation: str = "CREATE"


def _evaluate(expression: str, activation: dict) -> Any:
    return _program(expression).evaluate(activation)


def refusals(policy_spec: dict, request: Request) -> Optional[list[str]]:
    """The messages of the validations that refuse the request; [] if admitted; None if a match
    condition leaves the request to others (the policy does not apply)."""
    activation: dict[str, Any] = {
        "object": celpy.json_to_cel(request.object),
        "oldObject": None,
        "request": celpy.json_to_cel({"operation": request.operation, "userInfo": {"username": request.username},
                                      "namespace": request.object.get("metadata", {}).get("namespace", "")}),
        "namespaceObject": celpy.json_to_cel(request.namespace),
    }
    for condition in policy_spec.get("matchConditions", []):
        if not _evaluate(condition["expression"], activation):
            return None
    values: dict = {}
    for variable in policy_spec.get("variables", []):
        activation["variables"] = celtypes.MapType(values)
        values[celtypes.StringType(variable["name"])] = _evaluate(variable["expression"], activation)
    activation["variables"] = celtypes.MapType(values)
    refused = []
    for validation in policy_spec.get("validations", []):
        result = _evaluate(validation["expression"], activation)
        if not isinstance(result, (bool, celtypes.BoolType)):
            raise TypeError(f"{validation['expression']!r} evaluated to {result!r}, not a bool (the API server would refuse the request)")
        if not result:
            refused.append(validation["message"])
    return refused

