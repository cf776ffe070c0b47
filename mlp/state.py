"""Reading Pulumi's documents: a stack export (version 3 or 4) or a `pulumi preview --json` file.

Whatever produced it, the result is a list of `StateResource` with the resource's effective tags
(provider default tags merged under its own tags, as the AWS provider does), so cost, diff and
report code never care where the state came from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.tagging import LABEL_FOR_TAG
from mlp.errors import UserError
from mlp.files import read_json

# Preview steps whose new state exists after the update. Deletes contribute nothing.
_LIVE_AFTER_STEP = {"same", "create", "update", "replace", "create-replacement", "import", "import-replacement", "refresh", "read", "read-replacement"}


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


def _merge_tags(resource: StateResource, default_tags: dict[str, dict]) -> dict[str, str]:
    tags_all = resource.outputs.get("tagsAll")
    if isinstance(tags_all, dict) and tags_all:
        return {str(k): str(v) for k, v in tags_all.items()}
    own = resource.inputs.get("tags") or resource.outputs.get("tags") or {}
    if not isinstance(own, dict):
        own = {}
    return {**default_tags.get(resource.provider, {}), **{str(k): str(v) for k, v in own.items()}}


def provider_default_tags(resource: StateResource) -> dict[str, str]:
    return decode_default_tags(resource.inputs.get("defaultTags") or resource.outputs.get("defaultTags"))


def decode_default_tags(value: Any) -> dict[str, str]:
    """An AWS provider's `defaultTags` block, however the engine recorded it."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value else {}
        except json.JSONDecodeError:
            return {}
    if isinstance(value, list):  # some engines record the block as a one-item list
        value = value[0] if value else {}
    tags = (value or {}).get("tags") if isinstance(value, dict) else None
    return {str(k): str(v) for k, v in (tags or {}).items()}


def _resource_from(raw: Any, source: str, where: str) -> StateResource:
    if not isinstance(raw, dict):
        raise UserError(source, "expected a resource object", key=where)
    for key in ("urn", "type"):
        if not isinstance(raw.get(key), str):
            raise UserError(source, f"expected a string '{key}'", key=f"{where}.{key}")
    inputs = raw.get("inputs") or {}
    outputs = raw.get("outputs") or {}
    if not isinstance(inputs, dict) or not isinstance(outputs, dict):
        raise UserError(source, "expected 'inputs' and 'outputs' to be objects", key=where)
    inputs = {k: v for k, v in inputs.items() if k != "__defaults"}  # engine bookkeeping, not inputs
    return StateResource(
        urn=raw["urn"],
        type=raw["type"],
        custom=bool(raw.get("custom", False)),
        id=str(raw.get("id") or ""),
        inputs=inputs,
        outputs=outputs,
        parent=raw.get("parent") or "",
        provider=raw.get("provider") or "",
        protect=bool(raw.get("protect", False)),
        retain_on_delete=bool(raw.get("retainOnDelete", False)),
    )


def resources_from_document(document: Any, source: str) -> list[StateResource]:
    """Resources of a parsed stack-export or preview document; wrong shapes are UserErrors."""
    if not isinstance(document, dict):
        raise UserError(source, "expected a JSON object (a stack export or a `pulumi preview --json` document)")
    if "deployment" in document:
        if document.get("version") not in (3, 4):
            raise UserError(source, f"unsupported stack-export version {document.get('version')!r} (expected 3 or 4)", key="version")
        deployment = document["deployment"]
        if not isinstance(deployment, dict) or not isinstance(deployment.get("resources", []), list):
            raise UserError(source, "expected a list of resources", key="deployment.resources")
        raws = [(r, f"deployment.resources[{i}]") for i, r in enumerate(deployment.get("resources") or [])]
    elif "steps" in document:
        if not isinstance(document["steps"], list):
            raise UserError(source, "expected a list of steps", key="steps")
        # A replacement is several steps of one URN (`replace` and `create-replacement` both
        # carry the new state): the resource exists once after the update, so it counts once.
        live: dict[Any, tuple[Any, str]] = {}
        for i, step in enumerate(document["steps"]):
            if not isinstance(step, dict) or not isinstance(step.get("op"), str):
                raise UserError(source, "expected a step with an 'op'", key=f"steps[{i}]")
            if step["op"] in _LIVE_AFTER_STEP and step.get("newState") is not None:
                new_state = step["newState"]
                urn = step.get("urn") or (new_state.get("urn") if isinstance(new_state, dict) else None) or i
                live.setdefault(urn, (new_state, f"steps[{i}].newState"))
        raws = list(live.values())
    else:
        raise UserError(source, "neither a stack export ('deployment') nor a preview ('steps')")

    resources = [_resource_from(raw, source, where) for raw, where in raws]
    default_tags: dict[str, dict] = {}
    for resource in resources:
        if resource.is_provider:
            # Resources point at providers as "<urn>::<id>"; previews may not know the id yet.
            for ref in (resource.urn, f"{resource.urn}::{resource.id}"):
                default_tags[ref] = provider_default_tags(resource)
    for resource in resources:
        provider_ref = resource.provider
        provider_urn = provider_ref.rsplit("::", 1)[0] if provider_ref.count("::") > 3 else provider_ref
        provider_defaults = default_tags.get(provider_ref) or default_tags.get(provider_urn) or {}
        resource.tags = _merge_tags(resource, {resource.provider: provider_defaults})
    return resources


def load_document(path: str | Path) -> list[StateResource]:
    """Read a stack-export or preview JSON file."""
    return resources_from_document(read_json(path), str(path))
