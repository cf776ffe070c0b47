"""What each priced resource type must hold, for the fields the estimator reads.

Pulumi documents carry whatever the program or provider recorded; the estimator turns a few
fields into money. Each of those fields is declared here with what it means (a count, a size, a
Kubernetes quantity, a string, ...), and mlp/state.py checks every resource of the type against
the table as it reads a document, so a bad value is an error naming the resource's URN and the
field, never a price of $0 or a negative one. A field the table does not name is not read by the
estimator: add it here when a pricer starts reading it.

Paths are dotted, `[]` stands for every item of a list and `*` for every value of a mapping; a
path that starts with `outputs.` is read from the outputs, any other from the inputs. Every
container on the way must be a mapping (or list, before `[]`) or absent.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from components.config.errors import describe

# What a preview shows for a value not known until the update runs.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
# The signature key of a Pulumi secret or asset object in a stack export.
SIGNATURE_KEY = "4dabf18193072939515e22adb298388d"
MAX_COUNT = 1_000_000  # instances, replicas, concurrency: more is a typo, not a fleet
MAX_SIZE = Decimal(10) ** 15  # gigabytes, IOPS, megabytes: anything larger is no real size

_NUMBER = re.compile(r"[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
# The suffixes mlp.cost's quantity reader knows (decimal and binary SI); others are refused
# here rather than ignored there.
_QUANTITY = re.compile(r"(\d+(\.\d+)?|\.\d+)(m|k|M|G|T|Ki|Mi|Gi|Ti|Pi)?")
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")

Check = Callable[[Any], "str | None"]  # None when the value is fine, else what was expected


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return Decimal(str(value)) if not isinstance(value, float) or math.isfinite(value) else None
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def count(value: Any) -> str | None:
    number = _number(value)
    if number is None or number != number.to_integral_value() or not 0 <= number <= MAX_COUNT:
        return f"expected a whole number from 0 to {MAX_COUNT:,}"
    return None


def size(value: Any) -> str | None:
    number = _number(value)
    if number is None or not 0 <= number <= MAX_SIZE:
        return "expected a number from 0 to 10^15"
    return None


def quantity(value: Any) -> str | None:
    """A Kubernetes quantity ("64", "500m", "256Gi") or a plain non-negative number."""
    if isinstance(value, str) and _QUANTITY.fullmatch(value.strip()):
        return None
    if not isinstance(value, str) and size(value) is None:
        return None
    return "expected a Kubernetes quantity like 64, 500m or 256Gi"


def string(value: Any) -> str | None:
    return None if isinstance(value, str) else "expected a string"


def boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "expected true or false"


def string_list(value: Any) -> str | None:
    return None if isinstance(value, list) and all(isinstance(item, str) for item in value) else "expected a list of strings"


def listed(value: Any) -> str | None:
    return None if isinstance(value, list) else "expected a list"


def region(value: Any) -> str | None:
    return None if isinstance(value, str) and REGION.fullmatch(value) else "expected an AWS region like us-east-1"


def text_map(value: Any) -> str | None:
    """Tags and labels: string keys, string (or number) values."""
    if not isinstance(value, dict):
        return "expected a mapping of strings"
    for key, item in value.items():
        if item is not None and (isinstance(item, (dict, list, bool)) or not isinstance(item, (str, int, float))):
            return f"expected a mapping of strings, got {describe(item)} at {key!r}"
        if isinstance(item, float) and not math.isfinite(item):
            return f"expected a mapping of strings, got {describe(item)} at {key!r}"
    return None


_EBS = ("volumeType", string), ("volumeSize", size), ("iops", size), ("throughput", size)
_NODE_POOL = [
    ("spec.template.spec.requirements[].key", string), ("spec.template.spec.requirements[].operator", string),
    ("spec.template.spec.requirements[].values", string_list), ("spec.template.spec.nodeClassRef.name", string),
    ("spec.limits.*", quantity),
]
_NODE_CLASS = [
    ("spec.blockDeviceMappings[].ebs.volumeSize", quantity), ("spec.blockDeviceMappings[].ebs.volumeType", string),
    ("spec.blockDeviceMappings[].ebs.iops", size), ("spec.blockDeviceMappings[].ebs.throughput", size),
]
_HELM_RELEASE = [("chart", string), ("values.singleuser.profileList[].slug", string), ("values.ingress.annotations", text_map)]
_LOAD_BALANCER = [("loadBalancerType", string)]

FIELDS: dict[str, list[tuple[str, Check]]] = {
    "pulumi:providers:aws": [("region", region), ("outputs.region", region)],
    "aws:eks/cluster:Cluster": [("name", string), ("outputs.name", string), ("version", string), ("outputs.version", string),
                                ("upgradePolicy.supportType", string), ("outputs.upgradePolicy.supportType", string)],
    "aws:eks/nodeGroup:NodeGroup": [
        ("scalingConfig.desiredSize", count), ("scalingConfig.minSize", count), ("scalingConfig.maxSize", count),
        ("launchTemplate.id", string), ("launchTemplate.name", string), ("instanceTypes", string_list), ("capacityType", string),
        ("diskSize", size),
    ],
    "aws:ec2/launchTemplate:LaunchTemplate": [("name", string), ("instanceType", string), ("instanceMarketOptions.marketType", string),
                                              *((f"blockDeviceMappings[].ebs.{key}", check) for key, check in _EBS)],
    "aws:ec2/instance:Instance": [
        ("instanceType", string), ("launchTemplate.id", string), ("launchTemplate.name", string), ("instanceMarketOptions.marketType", string),
        *((f"rootBlockDevice.{key}", check) for key, check in _EBS), *((f"ebsBlockDevices[].{key}", check) for key, check in _EBS),
    ],
    "kubernetes:karpenter.sh/v1:NodePool": _NODE_POOL,
    "kubernetes:karpenter.sh/v1beta1:NodePool": _NODE_POOL,
    "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass": _NODE_CLASS,
    "kubernetes:karpenter.k8s.aws/v1beta1:EC2NodeClass": _NODE_CLASS,
    "kubernetes:storage.k8s.io/v1:StorageClass": [("parameters.type", string), ("parameters.iops", size), ("parameters.throughput", size)],
    "kubernetes:core/v1:PersistentVolumeClaim": [("spec.resources.requests.storage", quantity), ("spec.storageClassName", string)],
    "kubernetes:networking.k8s.io/v1:Ingress": [("spec.ingressClassName", string)],
    "kubernetes:core/v1:Service": [("spec.type", string)],
    "kubernetes:helm.sh/v3:Release": _HELM_RELEASE,
    "kubernetes:helm.sh/v4:Release": _HELM_RELEASE,
    "aws:appautoscaling/target:Target": [("resourceId", string), ("minCapacity", count), ("maxCapacity", count)],
    "aws:sagemaker/endpoint:Endpoint": [("name", string), ("endpointConfigName", string)],
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": [
        ("name", string), ("productionVariants[].variantName", string), ("productionVariants[].instanceType", string),
        ("productionVariants[].initialInstanceCount", count), ("productionVariants[].serverlessConfig.memorySizeInMb", size),
        ("productionVariants[].serverlessConfig.maxConcurrency", count),
    ],
    "aws:lambda/function:Function": [("memorySize", size)],
    "aws:ebs/volume:Volume": [("type", string), ("size", size), ("iops", size), ("throughput", size)],
    "aws:ec2/vpcEndpoint:VpcEndpoint": [("vpcEndpointType", string), ("subnetIds", listed)],
    "aws:lb/loadBalancer:LoadBalancer": _LOAD_BALANCER,
    "aws:alb/loadBalancer:LoadBalancer": _LOAD_BALANCER,
    "aws:sqs/queue:Queue": [("fifoQueue", boolean)],
}
# Read on every resource: cost tags, Kubernetes labels and names, the ARN a region is taken from.
COMMON: list[tuple[str, Check]] = [
    ("tags", text_map), ("outputs.tags", text_map), ("outputs.tagsAll", text_map), ("outputs.region", string), ("outputs.arn", string),
]
KUBERNETES: list[tuple[str, Check]] = [("metadata.name", string), ("metadata.labels", text_map), ("metadata.annotations", text_map)]


def _split(path: str) -> tuple[str, list[str]]:
    side, _, rest = path.partition(".") if path.startswith("outputs.") else ("inputs", "", path)
    return side, re.findall(r"[^.\[\]]+|\[\]", rest)


_COMPILED: dict[str, list[tuple[str, list[str], Check]]] = {}


def _compiled(type_token: str) -> list[tuple[str, list[str], Check]]:
    found = _COMPILED.get(type_token)
    if found is None:
        rules = COMMON + (KUBERNETES if type_token.startswith("kubernetes:") else []) + FIELDS.get(type_token, [])
        found = _COMPILED[type_token] = [(side, parts, check) for side, parts, check in
                                         ((*_split(path), check) for path, check in rules)]
    return found


def _check(value: Any, shown: str, check: Check) -> tuple[str, str] | None:
    if isinstance(value, dict) and SIGNATURE_KEY in value:
        return shown, "is a secret or asset value: mlp cannot read it"
    problem = check(value)
    if problem:
        return shown, problem if " got " in problem else f"{problem}, got {describe(value)}"
    return None


def _walk(value: Any, shown: str, parts: list[str], index: int, check: Check) -> tuple[str, str] | None:
    """Follow `parts` from `value`; plain keys without allocating, `[]` and `*` by recursion
    (paths are a few levels deep)."""
    while index < len(parts):
        if value is None or value == UNKNOWN:
            return None
        if isinstance(value, dict) and SIGNATURE_KEY in value:
            return shown, "is a secret or asset value: mlp cannot read it"
        part = parts[index]
        if part == "[]":
            if not isinstance(value, list):
                return shown, f"expected a list, got {describe(value)}"
            for i, item in enumerate(value):
                found = _walk(item, f"{shown}[{i}]", parts, index + 1, check)
                if found:
                    return found
            return None
        if not isinstance(value, dict):
            return shown, f"expected a mapping, got {describe(value)}"
        if part == "*":
            for key, item in value.items():
                found = _walk(item, f"{shown}.{key}", parts, index + 1, check)
                if found:
                    return found
            return None
        value = value.get(part)
        shown = f"{shown}.{part}" if value is not None else shown
        index += 1
    if value is None or value == UNKNOWN:
        return None
    return _check(value, shown, check)


def field_problems(type_token: str, inputs: dict, outputs: dict) -> tuple[str, str] | None:
    """The first field of a resource that is not what the estimator needs: (field, problem)."""
    for side, parts, check in _compiled(type_token):
        first = (inputs if side == "inputs" else outputs).get(parts[0])
        if first is None:  # most fields are absent from most resources: no walk
            continue
        found = _walk(first, f"{side}.{parts[0]}", parts, 1, check)
        if found:
            return found
    return None
