"""Custom resources checked the way the Kubernetes API server checks them on create.

Pulumi's mocks record any custom resource they are given; the API server refuses one that its CRD
does not accept, and it does so only at `pulumi up`. This module replays, offline, what
apiextensions-apiserver does with a create request under strict field validation:

1. decoding: a field the schema does not know is an error (strict), except below
   `x-kubernetes-preserve-unknown-fields`; a null in a non-nullable field without a default is dropped;
2. defaulting: every `default` of the schema is applied, defaults of defaults too;
3. the OpenAPI schema: types (`x-kubernetes-int-or-string`, `nullable`), enums, patterns (RE2, as
   Go's regexp), lengths, bounds, item and property counts, `required`, the formats the API server
   enforces, anyOf/allOf/oneOf/not, list-type invariants, and ObjectMeta for `metadata` (and for
   `x-kubernetes-embedded-resource` objects): name, namespace, label and annotation syntax;
4. the `x-kubernetes-validations` CEL rules, each at its schema node with `self` bound to that
   node's value, only where the node is present, and not at all once a type or required-field
   error makes the object unfit for them (the API server says so and stops there too).

CEL runs in celpy (cel-python) with the Kubernetes library functions the CRDs we use need and
celpy lacks. A rule celpy cannot evaluate must have a hand-written check with the same meaning;
one with neither is reported as a failure, never skipped. Transition rules (they read `oldSelf`)
do not apply on create.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
import functools
import ipaddress
import json
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional

import celpy
import lark
import re2  # Go's regexp is RE2: patterns and CEL regex functions must match the way the API server's do
import yaml
from celpy import celtypes
from celpy.evaluation import CELEvalError, base_functions

from mlp import upstream

# Which Helm chart installs which CRD set of the lock: the set's version is the version of the
# chart a plan installs, so a custom resource is checked against the CRDs its stack deploys.
CRD_SET_CHARTS: dict[str, tuple[str, ...]] = {
    "karpenter": ("karpenter-crd", "karpenter"),
    "kuberay": ("kuberay-operator",),
    "kueue": ("kueue",),
    "spark-operator": ("spark-operator",),
}


# API groups built into Kubernetes, and Pulumi's own Kubernetes packages (helm.sh, yaml,
# kustomize): a `kubernetes:` resource of any other group is a custom resource, checked against a CRD.
BUILT_IN_GROUPS = frozenset({
    "core", "admissionregistration.k8s.io", "apiextensions.k8s.io", "apiregistration.k8s.io", "apps", "authentication.k8s.io",
    "authorization.k8s.io", "autoscaling", "batch", "certificates.k8s.io", "coordination.k8s.io", "discovery.k8s.io",
    "events.k8s.io", "flowcontrol.apiserver.k8s.io", "internal.apiserver.k8s.io", "meta", "networking.k8s.io", "node.k8s.io",
    "policy", "rbac.authorization.k8s.io", "resource.k8s.io", "scheduling.k8s.io", "storage.k8s.io", "storagemigration.k8s.io",
    "helm.sh", "yaml", "kustomize",
})


def is_custom_resource(type_token: str) -> bool:
    """`kubernetes:karpenter.sh/v1:NodePool` is; `kubernetes:core/v1:Namespace` is not."""
    package, _, rest = type_token.partition(":")
    return package == "kubernetes" and rest.split(":", 1)[0].rpartition("/")[0] not in BUILT_IN_GROUPS


class CrdNotFound(LookupError):
    """A custom resource with no CRD to check it against: no pin, no chart, no such kind or version."""


# --- CRDs --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Crd:
    group: str
    kind: str
    namespaced: bool
    schemas: Mapping[str, dict]  # served version -> openAPIV3Schema
    source: str  # file name, for messages

    def schema(self, version: str) -> dict:
        if version not in self.schemas:
            raise CrdNotFound(f"{self.group}/{version} {self.kind}: {self.source} serves only {', '.join(self.schemas)}")
        return self.schemas[version]


@functools.lru_cache(maxsize=None)
def crds_in(directory: Path) -> dict[tuple[str, str], Crd]:
    """The CRDs of a folder by (group, kind), each with the schemas of its served versions."""
    found = {}
    for path in sorted(directory.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not document or document.get("kind") != "CustomResourceDefinition":
                continue
            spec = document["spec"]
            schemas = {v["name"]: v["schema"]["openAPIV3Schema"] for v in spec["versions"] if v.get("served")}
            found[(spec["group"], spec["names"]["kind"])] = Crd(spec["group"], spec["names"]["kind"], spec["scope"] == "Namespaced", schemas, path.name)
    return found


def version_key(version: str) -> tuple[int, ...]:
    """`1.14.1` sorts after `1.8.2`."""
    return tuple(int(part) for part in version.split("."))


def locked_crd_sets() -> list[upstream.Artifact]:
    return [artifact for artifact in upstream.lock() if artifact.kind == "crds"]


def crd_for(api_version: str, kind: str, chart_versions: Mapping[str, str]) -> tuple[Crd, str]:
    """The CRD (and CRD set version) that checks a custom resource, given the versions of the
    charts the same plan installs (chart name -> version)."""
    group, _, version = api_version.rpartition("/")
    owners = sorted({a.name for a in locked_crd_sets() if (group, kind) in crds_in(upstream.crd_dir(a.name, a.version))})
    if not owners:
        raise CrdNotFound(f"{kind} ({api_version}) has no CRD in {upstream.LOCK_PATH.name}: pin the CRD set that defines it")
    if len(owners) > 1:
        raise CrdNotFound(f"{kind} ({api_version}) is defined by several CRD sets of the lock: {', '.join(owners)}")
    crd_set = owners[0]
    if crd_set not in CRD_SET_CHARTS:
        raise CrdNotFound(f"CRD set {crd_set}: no chart known to install it; add it to CRD_SET_CHARTS in {__name__}")
    set_version = next((chart_versions[c] for c in CRD_SET_CHARTS[crd_set] if c in chart_versions), None)
    if set_version is None:
        raise CrdNotFound(f"{kind} ({api_version}): no Helm release of {' or '.join(CRD_SET_CHARTS[crd_set])} installs its CRDs")
    try:
        crds = crds_in(upstream.crd_dir(crd_set, set_version))
    except upstream.UpstreamError as error:
        raise CrdNotFound(f"{kind} ({api_version}) needs the CRDs of {crd_set} {set_version}: {error}") from None
    if (group, kind) not in crds:
        raise CrdNotFound(f"{kind} ({api_version}): CRD set {crd_set} {set_version} does not define it")
    crd = crds[(group, kind)]
    crd.schema(version)
    return crd, set_version


# --- errors ------------------------------------------------------------------------------------

INVALID, REQUIRED, UNSUPPORTED_VALUE, FORBIDDEN, DUPLICATE, TOO_LONG, TOO_MANY, UNKNOWN_FIELD = (
    "Invalid value", "Required value", "Unsupported value", "Forbidden", "Duplicate value", "Too long", "Too many", "unknown field")
# A CEL rule's `reason` -> the field error type the API server reports.
RULE_REASONS = {"FieldValueInvalid": INVALID, "FieldValueForbidden": FORBIDDEN, "FieldValueRequired": REQUIRED, "FieldValueDuplicate": DUPLICATE}
RULES_SKIPPED = "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"


@dataclass(frozen=True)
class FieldError:
    path: str
    kind: str
    detail: str
    # Type and required-field errors: the API server evaluates no CEL rule on such an object.
    blocks_rules: bool = False

    def __str__(self) -> str:
        if self.kind == UNKNOWN_FIELD:
            return f'unknown field "{self.path}"'
        return f"{self.path or '<root>'}: {self.kind}: {self.detail}".rstrip(": ")


def _shown(value: Any) -> str:
    """A value in an error, as the API server shows it: objects and lists by their type."""
    return {dict: '"object"', list: '"array"'}.get(type(value)) or json.dumps(value)


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# --- defaulting --------------------------------------------------------------------------------

def _field_schema(schema: dict, key: str) -> Optional[dict]:
    additional = schema.get("additionalProperties")
    return schema.get("properties", {}).get(key) or (additional if isinstance(additional, dict) else None)


def with_defaults(value: Any, schema: dict) -> Any:
    """`value` as stored after decoding: non-nullable nulls without a default dropped, then every
    absent field that has a default set to it, and defaulted values defaulted in turn."""
    if isinstance(value, list):
        return [with_defaults(item, schema.get("items") or {}) for item in value]
    if not isinstance(value, dict):
        return value
    kept = {}
    for key, item in value.items():
        field = _field_schema(schema, key)
        if item is None and field is not None and not field.get("nullable") and "default" not in field:
            continue
        kept[key] = item
    for key, field in schema.get("properties", {}).items():
        refused_null = key in kept and kept[key] is None and not field.get("nullable")
        if "default" in field and (key not in kept or refused_null):
            kept[key] = copy.deepcopy(field["default"])
    return {key: with_defaults(item, _field_schema(schema, key) or {}) for key, item in kept.items()}


# --- formats the API server enforces -----------------------------------------------------------

_DATE_TIME = re2.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$")


def _is_date_time(text: str) -> bool:
    match = _DATE_TIME.search(text)
    if not match or not _is_date(match.group(1)):
        return False
    hours, minutes, seconds = int(match.group(2)), int(match.group(3)), int(match.group(4) or 0)
    return hours < 24 and minutes < 60 and seconds < 61


def _is_date(text: str) -> bool:
    try:
        return bool(re2.search(r"^\d{4}-\d{2}-\d{2}$", text)) and bool(datetime.date.fromisoformat(text))
    except ValueError:
        return False


def _is_ipv4(text: str) -> bool:
    # Go's net.ParseIP (sloppy, as the API server uses it) accepts leading zeros.
    parts = text.split(".")
    return len(parts) == 4 and all(p.isdigit() and p.isascii() and len(p) <= 3 and int(p) <= 255 for p in parts)


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
        return True
    except ValueError:
        return False


def _is_cidr(text: str) -> bool:
    address, slash, bits = text.partition("/")
    if not slash or not bits.isdigit():
        return False
    return (_is_ipv4(address) and int(bits) <= 32) or (_is_ipv6(address) and int(bits) <= 128)


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
        return True
    except (binascii.Error, ValueError):
        return False


def _is_uri(text: str) -> bool:
    # Go's url.ParseRequestURI: an absolute URI or an absolute path.
    parsed = urllib.parse.urlparse(text)
    return bool(parsed.scheme) or text.startswith("/")


_FORMAT_PATTERNS = {
    "bsonobjectid": r"^[0-9a-fA-F]{24}$",
    "uuid": r"(?i)^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$",
    "uuid3": r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$",
    "uuid4": r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$",
    "uuid5": r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$",
    "hostname": r"^([a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*\.?$",
    "mac": r"^([0-9A-Fa-f]{2}[:-]){5,19}[0-9A-Fa-f]{2}$|^([0-9A-Fa-f]{4}\.){2,9}[0-9A-Fa-f]{4}$",
    "email": r"^[^@\s]+@[^@\s]+$",
    "hexcolor": r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$",
    "rgbcolor": r"^rgb\(\s*([01]?\d?\d|2[0-4]\d|25[0-5])\s*,\s*([01]?\d?\d|2[0-4]\d|25[0-5])\s*,\s*([01]?\d?\d|2[0-4]\d|25[0-5])\s*\)$",
    "ssn": r"^\d{3}[- ]?\d{2}[- ]?\d{4}$",
    # Go durations ("1h30m") and strfmt's own ("3 days", "1w").
    "duration": r"^[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$|^0$|^\d+\s*(ns|us|µs|ms|s|m|h|d|w|[a-z]+s?)$",
}
FORMAT_CHECKS: dict[str, Callable[[str], bool]] = {
    **{name: (lambda text, p=re2.compile(pattern): bool(p.search(text))) for name, pattern in _FORMAT_PATTERNS.items()},
    "date-time": _is_date_time,
    "datetime": _is_date_time,
    "date": _is_date,
    "ipv4": _is_ipv4,
    "ipv6": _is_ipv6,
    "cidr": _is_cidr,
    "byte": _is_base64,
    "uri": _is_uri,
    "password": lambda text: True,
}
# Enforced by the API server, but by no check here: a value in such a field fails loudly rather
# than passing unchecked. Every other format (int32, int64, double...) the API server ignores.
UNCHECKED_FORMATS = ("isbn", "isbn10", "isbn13", "creditcard")


# --- ObjectMeta --------------------------------------------------------------------------------

_DNS_SUBDOMAIN = re2.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re2.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME_PART = re2.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re2.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
OBJECT_META_FIELDS = ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
                      "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers", "managedFields")
ANNOTATIONS_MAX_BYTES = 256 * 1024


def _syntax_problem(text: str, limit: int, pattern, rule: str) -> Optional[str]:
    """apimachinery's validation of a name-like string: a length limit, then a pattern."""
    if len(text) > limit:
        return f"must be no more than {limit} characters"
    return None if pattern.search(text) else rule


def _dns_subdomain_problem(text: str) -> Optional[str]:
    return _syntax_problem(text, 253, _DNS_SUBDOMAIN, "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                                                       "characters, '-' or '.', and must start and end with an alphanumeric character")


def qualified_name_problem(key: str) -> Optional[str]:
    """What apimachinery's IsQualifiedName says about a label or annotation key, or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and not prefix:
        return "prefix part must be non-empty"
    problem = _dns_subdomain_problem(prefix) if prefix else None
    if problem:
        return f"prefix part {problem}"
    problem = _syntax_problem(name, 63, _QUALIFIED_NAME_PART, "must consist of alphanumeric characters, '-', '_' or '.', "
                                                            "and must start and end with an alphanumeric character")
    return f"name part {problem}" if problem else None


def label_value_problem(value: str) -> Optional[str]:
    return _syntax_problem(value, 63, _LABEL_VALUE, "a valid label must be an empty string or consist of alphanumeric characters, "
                                                    "'-', '_' or '.', and must start and end with an alphanumeric character")


def object_meta_errors(meta: Any, namespaced: bool, path: str = "metadata") -> Iterator[FieldError]:
    """ObjectMeta as the API server validates a custom resource's: the fields it knows, the name
    (a DNS subdomain), the namespace, label and annotation syntax."""
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        yield FieldError(path, INVALID, f"{_shown(meta)}: must be of type object", True)
        return
    for key in meta:
        if key not in OBJECT_META_FIELDS:
            yield FieldError(_child(path, key), UNKNOWN_FIELD, "not a field of ObjectMeta")
    name = meta.get("name")
    if not name and not meta.get("generateName"):
        yield FieldError(_child(path, "name"), REQUIRED, "name or generateName is required", True)
    for field in ("name", "generateName"):
        if meta.get(field):
            problem = _dns_subdomain_problem(str(meta[field]).rstrip("-") if field == "generateName" else str(meta[field]))
            if problem:
                yield FieldError(_child(path, field), INVALID, f"{_shown(meta[field])}: {problem}")
    namespace = meta.get("namespace")
    if namespaced and namespace is not None:
        problem = _syntax_problem(str(namespace), 63, _DNS_LABEL, "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                                                                  "characters or '-', and must start and end with an alphanumeric character")
        if problem:
            yield FieldError(_child(path, "namespace"), INVALID, f"{_shown(namespace)}: {problem}")
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    for field, mapping in (("labels", labels), ("annotations", annotations)):
        if not isinstance(mapping, dict):
            yield FieldError(_child(path, field), INVALID, f"{_shown(mapping)}: must be of type object", True)
            continue
        for key, value in mapping.items():
            # The API server checks annotation keys lower-cased, label keys as they are.
            problem = qualified_name_problem(key.lower() if field == "annotations" else key)
            if problem:
                yield FieldError(f"{path}.{field}", INVALID, f"{json.dumps(key)}: {problem}")
            if not isinstance(value, str):
                yield FieldError(f"{path}.{field}[{key}]", INVALID, f"{_shown(value)}: must be of type string", True)
            elif field == "labels" and label_value_problem(value):
                yield FieldError(f"{path}.{field}", INVALID, f"{json.dumps(value)}: {label_value_problem(value)}")
    if isinstance(annotations, dict) and sum(len(k) + len(str(v)) for k, v in annotations.items()) > ANNOTATIONS_MAX_BYTES:
        yield FieldError(_child(path, "annotations"), TOO_LONG, f"must have at most {ANNOTATIONS_MAX_BYTES} bytes")
    for index, finalizer in enumerate(meta.get("finalizers") or []):
        problem = qualified_name_problem(finalizer) if isinstance(finalizer, str) else "must be of type string"
        if problem:
            yield FieldError(f"{path}.finalizers[{index}]", INVALID, f"{_shown(finalizer)}: {problem}")


# --- the OpenAPI schema ------------------------------------------------------------------------

def _type_ok(value: Any, type_name: str) -> bool:
    if isinstance(value, bool):
        return type_name == "boolean"
    return {
        "integer": lambda: isinstance(value, int),
        "number": lambda: isinstance(value, (int, float)),
        "string": lambda: isinstance(value, str),
        "object": lambda: isinstance(value, dict),
        "array": lambda: isinstance(value, list),
        "boolean": lambda: False,
    }[type_name]()


def _same(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _type_error(value: Any, expected: str, path: str) -> FieldError:
    return FieldError(path, INVALID, f"{_shown(value)}: {path or 'body'} in body must be of type {expected}: {_shown(value)}", True)


def schema_errors(value: Any, schema: dict, path: str, strict: bool = True) -> Iterator[FieldError]:
    """Everything the OpenAPI schema (no CEL) says about `value`. `strict`: unknown fields are
    errors (off inside anyOf/allOf/oneOf/not, whose branches constrain values only)."""
    if value is None:
        if not schema.get("nullable") and ("type" in schema or schema.get("x-kubernetes-int-or-string")):
            yield _type_error(value, schema.get("type", "integer or string"), path)
        return
    if schema.get("x-kubernetes-int-or-string"):
        if not (_type_ok(value, "integer") or isinstance(value, str)):
            yield _type_error(value, "integer or string", path)
            return
    elif "type" in schema and not _type_ok(value, schema["type"]):
        yield _type_error(value, schema["type"], path)
        return
    yield from _value_errors(value, schema, path)
    if isinstance(value, dict):
        yield from _object_errors(value, schema, path, strict)
    elif isinstance(value, list):
        yield from _list_type_errors(value, schema, path)
        for index, item in enumerate(value):
            yield from schema_errors(item, schema.get("items") or {}, f"{path}[{index}]", strict)


# Size bounds: (the JSON type they bound, maxX/minX keyword suffix, what is counted). String
# lengths count characters (runes), as the API server's validator does.
_SIZE_BOUNDS = ((str, "Length", "characters"), (list, "Items", "items"), (dict, "Properties", "properties"))


def _value_errors(value: Any, schema: dict, path: str) -> Iterator[FieldError]:
    where = path or "body"
    if "enum" in schema and not any(_same(value, allowed) for allowed in schema["enum"]):
        yield FieldError(path, UNSUPPORTED_VALUE, f"{_shown(value)}: supported values: {', '.join(json.dumps(v) for v in schema['enum'])}")
    for kind, bound, unit in _SIZE_BOUNDS:
        if isinstance(value, kind):
            if f"max{bound}" in schema and len(value) > schema[f"max{bound}"]:
                yield FieldError(path, TOO_LONG if kind is str else TOO_MANY, f"{len(value)}: must have at most {schema[f'max{bound}']} {unit}")
            if f"min{bound}" in schema and len(value) < schema[f"min{bound}"]:
                yield FieldError(path, INVALID, f"{len(value)}: {where} in body should have at least {schema[f'min{bound}']} {unit}")
    if isinstance(value, str):
        if "pattern" in schema and not _pattern(schema["pattern"]).search(value):
            yield FieldError(path, INVALID, f"{_shown(value)}: {where} in body should match '{schema['pattern']}'")
        format_name = schema.get("format")
        if format_name in UNCHECKED_FORMATS:
            yield FieldError(path, INVALID, f"{_shown(value)}: format {format_name} is enforced by the API server but not checked here")
        elif format_name in FORMAT_CHECKS and not FORMAT_CHECKS[format_name](value):
            yield FieldError(path, INVALID, f"{_shown(value)}: {where} in body must be of type {format_name}: {_shown(value)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "maximum" in schema and (value >= schema["maximum"] if schema.get("exclusiveMaximum") else value > schema["maximum"]):
            yield FieldError(path, INVALID, f"{value}: {where} in body should be less than {'' if schema.get('exclusiveMaximum') else 'or equal to '}{schema['maximum']}")
        if "minimum" in schema and (value <= schema["minimum"] if schema.get("exclusiveMinimum") else value < schema["minimum"]):
            yield FieldError(path, INVALID, f"{value}: {where} in body should be greater than {'' if schema.get('exclusiveMinimum') else 'or equal to '}{schema['minimum']}")
        if "multipleOf" in schema and (value / schema["multipleOf"]) % 1:
            yield FieldError(path, INVALID, f"{value}: {where} in body should be a multiple of {schema['multipleOf']}")
    yield from _junctor_errors(value, schema, path)


@functools.lru_cache(maxsize=None)
def _pattern(pattern: str):
    return re2.compile(pattern)


def _fits(value: Any, branch: dict, path: str) -> bool:
    return not any(schema_errors(value, branch, path, strict=False))


def _junctor_errors(value: Any, schema: dict, path: str) -> Iterator[FieldError]:
    for branch in schema.get("allOf", []):
        yield from schema_errors(value, branch, path, strict=False)
    if "anyOf" in schema and not any(_fits(value, branch, path) for branch in schema["anyOf"]):
        yield FieldError(path, INVALID, f"{_shown(value)}: must validate at least one schema (anyOf)")
    if "oneOf" in schema and sum(_fits(value, branch, path) for branch in schema["oneOf"]) != 1:
        yield FieldError(path, INVALID, f"{_shown(value)}: must validate one and only one schema (oneOf)")
    if "not" in schema and _fits(value, schema["not"], path):
        yield FieldError(path, INVALID, f"{_shown(value)}: must not validate the schema (not)")


def _object_errors(value: dict, schema: dict, path: str, strict: bool) -> Iterator[FieldError]:
    properties = schema.get("properties", {})
    additional = schema.get("additionalProperties")
    embedded = schema.get("x-kubernetes-embedded-resource", False)
    for name in schema.get("required", []):
        if name not in value:
            yield FieldError(_child(path, name), REQUIRED, "", True)
    for key, item in value.items():
        if key in properties:
            if embedded and key == "metadata":
                continue  # checked as ObjectMeta below
            yield from schema_errors(item, properties[key], _child(path, key), strict)
        elif isinstance(additional, dict):
            yield from schema_errors(item, additional, f"{path}[{key}]", strict)
        elif embedded and key in ("apiVersion", "kind", "metadata"):
            continue
        elif strict and not (additional is True or schema.get("x-kubernetes-preserve-unknown-fields")):
            yield FieldError(_child(path, key), UNKNOWN_FIELD, "")
    if embedded:
        for field in ("apiVersion", "kind"):
            if not value.get(field):
                yield FieldError(_child(path, field), REQUIRED, f"{field} must not be empty", True)
        yield from object_meta_errors(value.get("metadata"), namespaced=True, path=_child(path, "metadata"))


def _list_type_errors(value: list, schema: dict, path: str) -> Iterator[FieldError]:
    list_type = schema.get("x-kubernetes-list-type")
    if list_type == "set":
        keys = [json.dumps(item, sort_keys=True) for item in value]
    elif list_type == "map":
        names = schema.get("x-kubernetes-list-map-keys", [])
        keys = [json.dumps({name: item.get(name) for name in names}, sort_keys=True) if isinstance(item, dict) else None for item in value]
    else:
        return
    seen = set()
    for index, key in enumerate(keys):
        if key is not None and key in seen:
            yield FieldError(f"{path}[{index}]", DUPLICATE, key)
        seen.add(key)


# --- CEL ---------------------------------------------------------------------------------------

def _find(text: str, pattern: str) -> celtypes.StringType:
    match = re2.search(pattern, text)
    return celtypes.StringType(match.group(0) if match else "")


def _find_all(text: str, pattern: str, limit: int = -1) -> celtypes.ListType:
    matches = [celtypes.StringType(m.group(0)) for m in re2.finditer(pattern, text)]
    return celtypes.ListType(matches if limit < 0 else matches[:limit])


def _split(text: str, separator: str, limit: int = -1) -> celtypes.ListType:
    """Go's strings.SplitN: limit 0 gives no parts, a negative limit all of them."""
    if limit == 0:
        return celtypes.ListType([])
    if separator == "":
        parts = list(text)
        parts = parts if limit < 0 or len(parts) <= limit else parts[:limit - 1] + ["".join(parts[limit - 1:])]
    else:
        parts = text.split(separator, -1 if limit < 0 else limit - 1)
    return celtypes.ListType([celtypes.StringType(p) for p in parts])


def _ascii_case(convert: Callable[[str], str]) -> Callable[[str], celtypes.StringType]:
    # Kubernetes' lowerAscii/upperAscii change ASCII letters only.
    return lambda text: celtypes.StringType("".join(convert(c) if c.isascii() else c for c in text))


def _join(items: list, separator: str = "") -> celtypes.StringType:
    return celtypes.StringType(separator.join(items))


# Kubernetes' CEL libraries (regex, strings) as far as the CRDs we use need them; celpy has the
# standard functions and macros (size, matches, startsWith, endsWith, has, all, exists, filter...).
KUBERNETES_FUNCTIONS: dict[str, Callable] = {
    "find": _find,
    "findAll": _find_all,
    "split": _split,
    "lowerAscii": _ascii_case(str.lower),
    "upperAscii": _ascii_case(str.upper),
    "join": _join,
}
CEL_MACROS = frozenset({"has", "all", "exists", "exists_one", "map", "filter", "dyn"})

CELPY, CELPY_WITH_KUBERNETES, HAND_WRITTEN, TRANSITION, UNSUPPORTED = (
    "celpy", "celpy + Kubernetes library functions", "hand-written check", "transition rule: not applied on create", "cannot be evaluated")


@dataclass(frozen=True)
class RuleSupport:
    how: str  # one of CELPY ... UNSUPPORTED
    why: str = ""


def rules_in(schema: dict, path: str = "") -> Iterator[tuple[str, dict]]:
    """Every `x-kubernetes-validations` rule of a schema, with the schema path it applies at."""
    for rule in schema.get("x-kubernetes-validations", []):
        yield path, rule
    for key, child in schema.get("properties", {}).items():
        yield from rules_in(child, _child(path, key))
    if isinstance(schema.get("additionalProperties"), dict):
        yield from rules_in(schema["additionalProperties"], f"{path}[*]")
    if schema.get("items"):
        yield from rules_in(schema["items"], f"{path}[*]")


class CelRules:
    """Evaluates CEL rules; each compiled once. `hand_written`: rule text -> a Python check of
    `self` (the node's plain value) with the same meaning, for rules celpy cannot evaluate."""

    def __init__(self, hand_written: Mapping[str, Callable[[Any], bool]]):
        self.hand_written = dict(hand_written)
        self._environment = celpy.Environment()
        self._compiled: dict[str, Any] = {}

    def _compile(self, text: str):
        """The rule's celpy program (compiled once), or the error that stopped the compiler."""
        if text not in self._compiled:
            try:
                self._compiled[text] = self._environment.program(self._environment.compile(text), functions=KUBERNETES_FUNCTIONS)
            except Exception as error:  # celpy raises lark and its own parse errors
                self._compiled[text] = error
        return self._compiled[text]

    @staticmethod
    def _names(ast: lark.Tree) -> tuple[set[str], set[str]]:
        """Functions a compiled rule calls and identifiers it reads."""
        called, read = set(), set()
        for node in ast.iter_subtrees():
            if node.data == "member_dot_arg":
                called.add(node.children[1].value)
            elif node.data == "ident_arg":
                called.add(node.children[0].value)
            elif node.data == "ident":
                read.add(node.children[0].value)
        return called, read

    @functools.lru_cache(maxsize=None)
    def support(self, text: str, optional_old_self: bool = False) -> RuleSupport:
        program = self._compile(text)
        if isinstance(program, Exception):
            how = HAND_WRITTEN if text in self.hand_written else UNSUPPORTED
            return RuleSupport(how, f"celpy cannot parse it: {str(program).splitlines()[0]}")
        called, read = self._names(program.ast)
        if "oldSelf" in read and not optional_old_self:
            return RuleSupport(TRANSITION)
        if text in self.hand_written:
            return RuleSupport(HAND_WRITTEN)
        if "oldSelf" in read:
            return RuleSupport(UNSUPPORTED, "optionalOldSelf applies it on create with oldSelf unset, which celpy cannot express")
        missing = called - set(base_functions) - CEL_MACROS - set(KUBERNETES_FUNCTIONS)
        if missing:
            return RuleSupport(UNSUPPORTED, f"celpy lacks {', '.join(sorted(missing))}")
        return RuleSupport(CELPY_WITH_KUBERNETES if called & set(KUBERNETES_FUNCTIONS) else CELPY)

    def _evaluate(self, text: str, value: Any) -> Any:
        """The rule's result for `self` = value; a CEL evaluation error is raised as CELEvalError."""
        return self._compile(text).evaluate({"self": celpy.json_to_cel(value)})

    def errors(self, value: Any, schema: dict, path: str) -> Iterator[FieldError]:
        """Every rule of the schema tree that `value` violates, each at its present node."""
        if value is None:
            return
        for rule in schema.get("x-kubernetes-validations", []):
            error = self.check(rule, value, path)
            if error:
                yield error
        if isinstance(value, dict):
            for key, item in value.items():
                field = _field_schema(schema, key)
                if field is not None:
                    yield from self.errors(item, field, _child(path, key) if key in schema.get("properties", {}) else f"{path}[{key}]")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                yield from self.errors(item, schema.get("items") or {}, f"{path}[{index}]")

    def check(self, rule: dict, value: Any, path: str) -> Optional[FieldError]:
        """None if the rule holds for `value` (or does not apply on create), else the API server's error."""
        text = rule["rule"]
        support = self.support(text, bool(rule.get("optionalOldSelf")))
        fallback = rule.get("message") or f"failed rule: {text}"
        if support.how == TRANSITION:
            return None
        if support.how == UNSUPPORTED:
            return FieldError(path, INVALID, f"rule {text!r} {support.how} ({support.why}) and has no hand-written check")
        try:
            result = self.hand_written[text](value) if support.how == HAND_WRITTEN else self._evaluate(text, value)
        except CELEvalError as error:
            return FieldError(path, INVALID, f"{_shown(value)}: {error.args[0]} evaluating rule: {fallback}")
        except Exception as error:  # a hand-written check that cannot read the value: the rule errs
            return FieldError(path, INVALID, f"{_shown(value)}: {error!r} evaluating rule: {fallback}")
        if not isinstance(result, (bool, celtypes.BoolType)):
            return FieldError(path, INVALID, f"{_shown(value)}: rule did not evaluate to a bool: {fallback}")
        if result:
            return None
        return FieldError((path + rule.get("fieldPath", "")).lstrip("."),
                          RULE_REASONS.get(rule.get("reason", ""), INVALID),
                          f"{_shown(value)}: {self._message(rule, value) or fallback}")

    def _message(self, rule: dict, value: Any) -> Optional[str]:
        """The rule's messageExpression, if it evaluates to a non-empty string (else the API
        server falls back to `message`)."""
        expression = rule.get("messageExpression")
        if not expression or self.support(expression).how not in (CELPY, CELPY_WITH_KUBERNETES):
            return None
        try:
            message = self._evaluate(expression, value)
        except CELEvalError:
            return None
        return str(message) if isinstance(message, str) and message.strip() else None


# --- one object --------------------------------------------------------------------------------

def validate(obj: dict, crd: Crd, rules: CelRules) -> list[FieldError]:
    """What the API server would say to a create request for `obj` (already as JSON numbers)."""
    group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
    if (group, obj.get("kind")) != (crd.group, crd.kind):
        return [FieldError("", INVALID, f"{obj.get('apiVersion')} {obj.get('kind')} is not {crd.group} {crd.kind}")]
    schema = crd.schema(version)
    # The root's metadata is ObjectMeta, whatever little the CRD schema says about it.
    meta_schema = schema.get("properties", {}).get("metadata", {})
    body_schema = {**schema, "properties": {k: v for k, v in schema.get("properties", {}).items() if k != "metadata"},
                   "required": [r for r in schema.get("required", []) if r != "metadata"]}
    body = with_defaults({k: v for k, v in obj.items() if k != "metadata"}, body_schema)
    meta = obj.get("metadata")
    errors = list(schema_errors(body, body_schema, ""))
    errors += object_meta_errors(meta, crd.namespaced)
    if isinstance(meta, dict):
        errors += schema_errors({k: v for k, v in meta.items() if k in meta_schema.get("properties", {})}, {**meta_schema, "type": "object"}, "metadata", strict=False)
    if any(error.blocks_rules for error in errors):
        return errors + [FieldError("", INVALID, RULES_SKIPPED)]
    # CEL sees only the name and generateName of the root's metadata.
    cel_view = {**body, **({"metadata": {k: meta[k] for k in ("name", "generateName") if k in meta}} if isinstance(meta, dict) else {})}
    return errors + list(rules.errors(cel_view, schema, ""))


def rule_inventory(rules: CelRules, crds: Iterable[Crd]) -> list[tuple[str, str, str, RuleSupport]]:
    """(CRD and version, schema path, rule text, how it is evaluated) for every rule of `crds`."""
    return [(f"{crd.group}/{version} {crd.kind}", path, rule["rule"], rules.support(rule["rule"], bool(rule.get("optionalOldSelf"))))
            for crd in crds for version, schema in crd.schemas.items() for path, rule in rules_in(schema)]


# Rule text -> a Python check of `self` with the same meaning, for each rule celpy cannot
# evaluate. Today celpy, with the Kubernetes functions of KUBERNETES_FUNCTIONS (find, split),
# evaluates every rule of the CRDs the lock pins, so there is none; a new rule it cannot evaluate
# fails test_every_rule_of_the_pinned_crds_is_evaluated until it gets an entry here.
HAND_WRITTEN_CHECKS: dict[str, Callable[[Any], bool]] = {}

# One instance for the session, shared by every conformance test: each rule is compiled once.
RULES = CelRules(HAND_WRITTEN_CHECKS)
