"""Usage files (`stacks/usage.<env>.yaml`): what a price depends on that the code cannot know.

Infracost's usage-file idea for Pulumi. `resource_type_default_usage` is keyed by Pulumi type
token and applies to every resource of that type; `resource_usage` is keyed by resource name or
URN and wins over the type default. Key names are Infracost's where Infracost has one
(`monthly_hrs`, `instances`, `storage_gb`, `monthly_data_processed_gb`, ...); the rest are ours
(Karpenter node-hours, notebook hours per profile). Which keys a type accepts is declared by its
pricer in mlp/cost/, so a typo is an error naming the file and the key, not a silent $0.
"""

from __future__ import annotations

import datetime
import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import jsonschema

from components.config.errors import describe
from mlp.errors import UserError
from mlp.files import read_yaml

SUPPORTED_VERSIONS = ("0.1",)

FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["version"],
    "additionalProperties": False,
    "properties": {
        "version": {"type": "string", "enum": list(SUPPORTED_VERSIONS)},
        "resource_type_default_usage": {"type": ["object", "null"], "additionalProperties": {"type": "object"}},
        "resource_usage": {"type": ["object", "null"], "additionalProperties": {"type": "object"}},
    },
}


# Usage is counted in hours, gigabytes and requests a month: anything larger is a typo.
MAX_MAGNITUDE = 10**15


def check_values(value: Any, source: str, key: str = "") -> None:
    """Every value of a usage file is a string, a finite number of sane size, a boolean, a list
    or a mapping; anything else (NaN, infinity, 1e300, a date, bytes, a set) is an error naming
    the key, before any schema or pricer sees it."""
    pending = [(value, key)]
    while pending:
        item, where = pending.pop()
        if isinstance(item, dict):
            pending.extend((child, f"{where}.{name}" if where else str(name)) for name, child in item.items())
        elif isinstance(item, list):
            pending.extend((child, f"{where}[{i}]") for i, child in enumerate(item))
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            if not (math.isfinite(item) and abs(item) <= MAX_MAGNITUDE):
                raise UserError(source, f"expected a finite number of at most {MAX_MAGNITUDE:.0e}, got {describe(item)}", key=where or None)
        elif item is not None and not isinstance(item, (str, bool)):
            kind = "" if isinstance(item, (datetime.date, datetime.time)) else f" (a {type(item).__name__})"  # describe names dates
            raise UserError(source, f"expected a number, string or boolean, got {describe(item)}{kind}: quote it or write a number",
                            key=where or None)


def _key_path(prefix: str, path) -> str:
    parts = [prefix] if prefix else []
    for part in path:
        parts.append(f"[{part}]" if isinstance(part, int) else str(part))
    return ".".join(parts).replace(".[", "[")


def validate(value: Any, schema: dict, source: str, key_prefix: str) -> None:
    """Raise a UserError naming the first offending key (a clear one: jsonschema's best match)."""
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(value))
    if error is None:
        return
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted((error.schema.get("properties") or {}).keys())
        extra = sorted(set(error.instance) - set(allowed))
        key = _key_path(key_prefix, path + [extra[0]]) if extra else _key_path(key_prefix, path)
        hint = f"expected one of: {', '.join(allowed)}" if allowed else "this resource type takes no usage keys"
        raise UserError(source, f"unknown usage key ({hint})", key=key)
    raise UserError(source, error.message, key=_key_path(key_prefix, path) or None)


@dataclass
class UsageFile:
    source: str = "(no usage file)"
    type_defaults: dict[str, dict] = field(default_factory=dict)
    resources: dict[str, dict] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)  # names and URNs of the resources asked about
    accepted: dict[str, set[str]] = field(default_factory=dict)
    types: dict[str, set[str]] = field(default_factory=dict)

    def for_resource(self, type_token: str, name: str, urn: str, schema: dict | None) -> dict[str, Any]:
        """The usage of one resource: its type default overlaid by its own entry (URN first, then
        name), validated against what its pricer accepts. A name can be shared by resources of
        different types (a NAT gateway and its Elastic IP): each takes the keys its type knows,
        and `check_every_key_used` reports keys that none of them took."""
        merged = dict(self.type_defaults.get(type_token) or {})
        self.seen.update((urn, name))
        accepts = set((schema or {}).get("properties") or {})
        for key in (urn, name):
            if key not in self.resources:
                continue
            self.used.add(key)
            entry = self.resources[key]
            own = {k: v for k, v in entry.items() if k in accepts}
            if schema is not None:
                validate(own, schema, self.source, f"resource_usage.{key}")
            self.accepted.setdefault(key, set()).update(own)
            self.types.setdefault(key, set()).add(type_token)
            for k, v in own.items():
                merged[k] = {**merged[k], **v} if isinstance(v, dict) and isinstance(merged.get(k), dict) else v
            break
        return merged

    def key_of(self, type_token: str, name: str, urn: str) -> str:
        """Where a resource's usage comes from in the file, for error messages."""
        for key in (urn, name):
            if key in self.resources:
                return f"resource_usage.{key}"
        return f"resource_type_default_usage.{type_token}"

    def check_every_key_used(self) -> None:
        """A usage key that no matched resource accepts is a typo or a wrong type: say so."""
        for key in sorted(self.accepted):
            unknown = sorted(set(self.resources[key]) - self.accepted[key])
            if unknown:
                raise UserError(self.source, f"not a usage key of {', '.join(sorted(self.types[key]))}", key=f"resource_usage.{key}.{unknown[0]}")

    def unused_entries(self) -> list[str]:
        return sorted(set(self.resources) - self.used)

    def check_every_entry_matched(self, also_seen: Iterable[str] = ()) -> None:
        """A `resource_usage` entry that matched no priced resource is a misspelt name or URN
        (the README: typos are errors). Call it once every document the file prices has been
        estimated: `mlp diff` prices base and head with one file, and an entry may match
        only the head. `also_seen`: names and URNs of resources another file priced (a base
        file's entry for a resource only the head has is not a typo)."""
        elsewhere = set(also_seen)
        unused = [entry for entry in self.unused_entries() if entry not in elsewhere]
        if unused:
            close = difflib.get_close_matches(unused[0], sorted(n for n in self.seen if n not in self.resources), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UserError(self.source, f"matches no priced resource of the document by name or URN{hint}", key=f"resource_usage.{unused[0]}")


def load_usage(path: str | Path | None, schemas: Mapping[str, dict]) -> UsageFile:
    """Read and validate a usage file; `schemas` maps each priced type token to the JSON schema
    of its usage keys."""
    if path is None:
        return UsageFile()
    shown = str(path)
    document = read_yaml(path, shown)
    check_values(document, shown)
    if isinstance(document, dict) and isinstance(document.get("version"), (int, float)) and not isinstance(document["version"], bool):
        document["version"] = str(document["version"])  # `version: 0.1` parses as a float
    validate(document, FILE_SCHEMA, shown, "")
    type_defaults = document.get("resource_type_default_usage") or {}
    for type_token, entry in type_defaults.items():
        if type_token not in schemas:
            raise UserError(shown, "not a resource type that takes usage (expected one of: " + ", ".join(sorted(schemas)) + ")", key=f"resource_type_default_usage.{type_token}")
        validate(entry, schemas[type_token], shown, f"resource_type_default_usage.{type_token}")
    return UsageFile(source=shown, type_defaults=type_defaults, resources=document.get("resource_usage") or {})
