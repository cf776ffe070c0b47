"""Reading Pulumi's documents: a stack export (version 3 or 4) or a `pulumi preview --json` file.

A typed reader: whatever produced the document, the result is a list of `StateResource` whose
envelope (URN, type, provider reference, flags) and every field the estimator reads (declared in
mlp/state_fields.py) have been checked, with the resource's effective tags (provider default
tags merged under its own tags, as the AWS provider does). A bad value is one UserError naming
the file, the resource's URN and the field; cost, diff and report code never meet one.

Preview steps: every operation Pulumi's engine emits is handled explicitly. The resource exists
after the update for the operations in LIVE_AFTER (their `newState` is required: a `create`
without it would silently drop a resource from the estimate), is gone for those in GONE_AFTER;
any other `op` is an error.
"""

from __future__ import annotations

import gc
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from components.config.errors import describe
from components.tagging import LABEL_FOR_TAG
from mlp.errors import UserError
from mlp.files import read_json
from mlp.state_fields import UNKNOWN, field_problems, text_map

# `refresh` may have no newState: the refresh found the resource gone.
LIVE_AFTER = frozenset({"same", "create", "update", "replace", "create-replacement", "import", "import-replacement",
                        "read", "read-replacement", "refresh"})
GONE_AFTER = frozenset({"delete", "delete-replaced", "discard", "discard-replaced", "remove-pending-replace"})
NEW_STATE_OPTIONAL = frozenset({"refresh"})
EXTERNAL_OPS = frozenset({"read", "read-replacement"})  # resources read with `get`, not managed by the stack
EXPORT_VERSIONS = (3, 4)
# The cost-allocation tags of the contract (DESIGN.md); `--by` may also name any tag a resource carries.
CONTRACT_TAG_KEYS = ("CostCenter", "Environment", "Project", "Team", "Component", "ManagedBy")


@dataclass
class StateResource:
    urn: str
    type: str
    custom: bool
    id: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    parent: str = ""
    provider: str = ""
    protect: bool = False
    retain_on_delete: bool = False
    external: bool = False  # read with `get` (`read` step, `"external": true`): not the stack's to pay for
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]

    @property
    def qualified_type(self) -> str:
        """The URN's type chain: parent types then this type, `$`-separated."""
        return self.urn.split("::")[2] if self.urn.count("::") >= 3 else self.type

    @property
    def is_provider(self) -> bool:
        return self.type.startswith("pulumi:providers:")

    @property
    def component(self) -> str:
        """The platform capability this resource belongs to: its Component tag or label, else
        the nearest `mlplatform:<area>:` component in its URN's type chain."""
        if self.tags.get("Component"):
            return self.tags["Component"]
        labels = ((self.inputs.get("metadata") or {}).get("labels") or {}) if isinstance(self.inputs.get("metadata"), dict) else {}
        if labels.get(LABEL_FOR_TAG["Component"]):
            return labels[LABEL_FOR_TAG["Component"]]
        for type_token in reversed(self.qualified_type.split("$")):
            parts = type_token.split(":")
            if parts[0] == "mlplatform" and len(parts) == 3 and parts[1] != "index":
                return parts[1]
        return "platform"


def _tag_values(tags: dict) -> dict[str, str]:
    return {str(k): str(v) for k, v in tags.items() if v is not None}


def _merge_tags(resource: StateResource, default_tags: dict[str, str]) -> dict[str, str]:
    tags_all = resource.outputs.get("tagsAll")
    if isinstance(tags_all, dict) and tags_all:
        return _tag_values(tags_all)
    own = resource.inputs.get("tags") or resource.outputs.get("tags") or {}
    return {**default_tags, **_tag_values(own if isinstance(own, dict) else {})}


def provider_default_tags(resource: StateResource) -> dict[str, str]:
    return decode_default_tags(resource.inputs.get("defaultTags") or resource.outputs.get("defaultTags"))


def _default_tags_block(value: Any) -> Any:
    """An AWS provider's `defaultTags` block, however the engine recorded it (JSON text, a
    mapping, or a one-item list); raises ValueError when it is none of these."""
    if isinstance(value, str):
        value = json.loads(value) if value and value != UNKNOWN else {}
    if isinstance(value, list):  # some engines record the block as a one-item list
        value = value[0] if value else {}
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"expected a mapping, got {describe(value)}")
    return value


def decode_default_tags(value: Any) -> dict[str, str]:
    """The tags of an AWS provider's `defaultTags` block; {} for one that cannot be read (the
    reader refuses such documents; the policy pack and offline plan see only valid ones)."""
    try:
        tags = _default_tags_block(value).get("tags")
    except ValueError:
        return {}
    return _tag_values(tags) if isinstance(tags, dict) else {}


def _default_tags_problem(resource: StateResource) -> tuple[str, str] | None:
    for side, props in (("inputs", resource.inputs), ("outputs", resource.outputs)):
        value = props.get("defaultTags")
        try:
            block = _default_tags_block(value)
        except ValueError as error:  # json.JSONDecodeError is one
            return f"{side}.defaultTags", f"expected the provider's default tags, JSON text or a mapping: {error}"
        tags = block.get("tags")
        problem = text_map(tags) if tags is not None else None
        if problem:
            return f"{side}.defaultTags.tags", f"{problem}, got {describe(tags)}"
    return None


def _bad(source: str, where: str, message: str) -> UserError:
    return UserError(source, message, key=where)


def _resource_from(raw: Any, source: str, where: str, external: bool = False) -> StateResource:
    if not isinstance(raw, dict):
        raise _bad(source, where, f"expected a resource object, got {describe(raw)}")
    urn, type_token = raw.get("urn"), raw.get("type")
    if not isinstance(urn, str) or not urn.startswith("urn:pulumi:") or urn.count("::") < 3:
        raise _bad(source, f"{where}.urn", f"expected a Pulumi URN (urn:pulumi:<stack>::<project>::<type>::<name>), got {describe(urn)}")
    if not isinstance(type_token, str) or not type_token:
        raise _bad(source, f"{urn}: type", f"expected a type token, got {describe(type_token)}")
    if urn.split("::")[2].rsplit("$", 1)[-1] != type_token:
        raise _bad(source, f"{urn}: type", f"does not match the URN's type ({describe(type_token)})")
    for key in ("custom", "protect", "retainOnDelete", "delete", "external", "pendingReplacement"):
        if raw.get(key) is not None and not isinstance(raw[key], bool):
            raise _bad(source, f"{urn}: {key}", f"expected true or false, got {describe(raw[key])}")
    for key in ("id", "parent", "provider"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise _bad(source, f"{urn}: {key}", f"expected a string{' (a provider reference: <provider URN>::<id>)' if key == 'provider' else ''}, "
                                                f"got {describe(raw[key])}")
    provider = raw.get("provider") or ""
    if provider and not (provider.startswith("urn:pulumi:") and provider.count("::") >= 4):
        raise _bad(source, f"{urn}: provider", f"expected a provider reference (<provider URN>::<id>), got {describe(provider)}")
    inputs, outputs = raw.get("inputs"), raw.get("outputs")
    for key, value in (("inputs", inputs), ("outputs", outputs)):
        if value is not None and not isinstance(value, dict):
            raise _bad(source, f"{urn}: {key}", f"expected an object, got {describe(value)}")
    inputs = {k: v for k, v in (inputs or {}).items() if k != "__defaults"}  # engine bookkeeping, not inputs
    outputs = outputs or {}
    problem = field_problems(type_token, inputs, outputs)
    resource = StateResource(
        urn=urn, type=type_token, custom=bool(raw.get("custom", False)), id=raw.get("id") or "", inputs=inputs, outputs=outputs,
        parent=raw.get("parent") or "", provider=provider, protect=bool(raw.get("protect", False)),
        retain_on_delete=bool(raw.get("retainOnDelete", False)), external=external or bool(raw.get("external", False)),
    )
    if problem is None and resource.type == "pulumi:providers:aws":
        problem = _default_tags_problem(resource)
    if problem is not None:
        raise _bad(source, f"{urn}: {problem[0]}", problem[1])
    return resource


def _export_resources(document: dict, source: str) -> list[StateResource]:
    version = document.get("version")
    if isinstance(version, bool) or version not in EXPORT_VERSIONS:
        raise _bad(source, "version", f"unsupported stack-export version {describe(version)} (expected 3 or 4)")
    deployment = document["deployment"]
    if not isinstance(deployment, dict):
        raise _bad(source, "deployment", f"expected an object, got {describe(deployment)}")
    raws = deployment.get("resources")
    if raws is not None and not isinstance(raws, list):
        raise _bad(source, "deployment.resources", f"expected a list of resources, got {describe(raws)}")
    resources, seen = [], {}
    for i, raw in enumerate(raws or []):
        where = f"deployment.resources[{i}]"
        resource = _resource_from(raw, source, where)
        if raw.get("delete"):  # the old copy of a replaced resource, deleted at the end of the update
            continue
        if resource.urn in seen:
            raise _bad(source, f"{resource.urn}", f"a second resource with this URN ({where}; the first is {seen[resource.urn]})")
        seen[resource.urn] = where
        resources.append(resource)
    return resources


def _preview_resources(document: dict, source: str) -> list[StateResource]:
    steps = document["steps"]
    if not isinstance(steps, list):
        raise _bad(source, "steps", f"expected a list of steps, got {describe(steps)}")
    for i, diagnostic in enumerate(document.get("diagnostics") or []):
        if isinstance(diagnostic, dict) and diagnostic.get("severity") == "error":
            raise _bad(source, f"diagnostics[{i}]", f"the preview failed, so its steps are incomplete: {describe(diagnostic.get('message'), 200)}")
    # A replacement is several steps of one URN (`replace` and `create-replacement` both carry the
    # new state): the resource exists once after the update, so it counts once.
    live: dict[str, StateResource] = {}
    for i, step in enumerate(steps):
        where = f"steps[{i}]"
        if not isinstance(step, dict):
            raise _bad(source, where, f"expected a step object, got {describe(step)}")
        op, urn = step.get("op"), step.get("urn")
        if not isinstance(op, str) or op not in LIVE_AFTER | GONE_AFTER:
            raise _bad(source, f"{where}.op", f"not a Pulumi step operation: {describe(op)} (expected one of {', '.join(sorted(LIVE_AFTER | GONE_AFTER))})")
        if not isinstance(urn, str):
            raise _bad(source, f"{where}.urn", f"expected the URN of the step's resource, got {describe(urn)}")
        if op in GONE_AFTER:
            continue
        new_state = step.get("newState")
        if new_state is None:
            if op in NEW_STATE_OPTIONAL:
                continue
            raise _bad(source, f"{where}.newState", f"a '{op}' step of {urn} has no newState: the resource's state after the update is unknown")
        resource = _resource_from(new_state, source, f"{where}.newState", external=op in EXTERNAL_OPS)
        if resource.urn != urn:
            raise _bad(source, f"{where}.newState.urn", f"is {describe(resource.urn)}, not the step's URN {describe(urn)}")
        live.setdefault(urn, resource)
    return list(live.values())


def resources_from_document(document: Any, source: str) -> list[StateResource]:
    """Resources of a parsed stack-export or preview document; wrong shapes are UserErrors."""
    # Reading builds no reference cycles; the collector's passes over a large document's
    # millions of objects would take most of the time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _resources(document, source)
    finally:
        if collecting:
            gc.enable()


def _resources(document: Any, source: str) -> list[StateResource]:
    if not isinstance(document, dict):
        raise UserError(source, "expected a JSON object (a stack export or a `pulumi preview --json` document)")
    if "deployment" in document:
        resources = _export_resources(document, source)
    elif "steps" in document:
        resources = _preview_resources(document, source)
    else:
        raise UserError(source, "neither a stack export ('deployment') nor a preview ('steps')")

    default_tags: dict[str, dict[str, str]] = {}
    for resource in resources:
        if resource.is_provider:
            # Resources point at providers as "<urn>::<id>"; previews may not know the id yet.
            for ref in (resource.urn, f"{resource.urn}::{resource.id}"):
                default_tags[ref] = provider_default_tags(resource)
    for resource in resources:
        provider_ref = resource.provider
        provider_urn = provider_ref.rsplit("::", 1)[0] if provider_ref.count("::") > 3 else provider_ref
        resource.tags = _merge_tags(resource, default_tags.get(provider_ref) or default_tags.get(provider_urn) or {})
    return resources


def load_document(path: str | Path) -> list[StateResource]:
    """Read a stack-export or preview JSON file."""
    return resources_from_document(read_json(path), str(path))


def check_group_keys(keys: Iterable[str], resources: list[StateResource], option: str = "--by") -> tuple[str, ...]:
    """Tag keys to group by: each a key of the cost-tag contract or one a resource carries (as a
    tag, or as the label the contract gives it), so a typo (`Teem`) is an error, not a report
    in which everything is `(untagged)`."""
    keys = tuple(keys)
    known = set(CONTRACT_TAG_KEYS)
    for resource in resources:
        known.update(resource.tags)
    for key in keys:
        if key not in known:
            raise UserError("command line", f"no resource carries the tag {key!r} and it is not a cost tag of the contract "
                                            f"(expected one of: {', '.join(sorted(known)[:20])})", key=option)
    return keys
