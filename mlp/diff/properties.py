"""Which inputs of a resource changed, old -> new, and whether the change replaces it.

Two sources: a `pulumi preview --json` says it itself (each step's `op` and `detailedDiff`, with
old and new inputs in `oldState`/`newState`); two stack exports are compared input by input,
with the provider's replace-on-change arguments (mlp/data/replace-on-change.json) deciding what
is a replacement (an EKS managed node group's instance types, for one: EKS replaces the group).
Paths are Pulumi's property paths: `spec.limits["nvidia.com/gpu"]`, `instanceTypes[0]`.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

RULES_PATH = Path(__file__).resolve().parent.parent / "data" / "replace-on-change.json"
REPLACING_OPS = {"replace", "create-replacement", "delete-replaced"}
_PLAIN_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")
MAX_VALUE_CHARS = 80


@dataclass(frozen=True)
class PropertyChange:
    path: str
    kind: str  # "update", "add" or "delete"
    old: Any = None
    new: Any = None
    replaces: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "old": self.old, "new": self.new, "replaces": self.replaces}


@dataclass
class Step:
    """What a preview says of one URN: its operations, and the inputs before and after."""

    ops: set[str] = field(default_factory=set)
    detailed_diff: dict[str, dict] = field(default_factory=dict)
    replace_reasons: list[str] = field(default_factory=list)
    old_inputs: dict = field(default_factory=dict)
    new_inputs: dict = field(default_factory=dict)
    old_protect: bool = False

    @property
    def replaces(self) -> bool:
        return bool(self.ops & REPLACING_OPS)

    @property
    def deletes(self) -> bool:
        return "delete" in self.ops and not self.replaces


def preview_steps(document: Any) -> dict[str, Step]:
    """URN -> Step of a `pulumi preview --json` document; {} for anything else."""
    steps: dict[str, Step] = {}
    if not isinstance(document, dict) or not isinstance(document.get("steps"), list):
        return steps
    for raw in document["steps"]:
        if not isinstance(raw, dict) or not isinstance(raw.get("op"), str):
            continue
        old, new = raw.get("oldState") or {}, raw.get("newState") or {}
        urn = raw.get("urn") or new.get("urn") or old.get("urn")
        if not isinstance(urn, str):
            continue
        step = steps.setdefault(urn, Step())
        step.ops.add(raw["op"])
        if isinstance(raw.get("detailedDiff"), dict):
            step.detailed_diff.update(raw["detailedDiff"])
        step.replace_reasons.extend(str(r) for r in raw.get("replaceReasons") or [] if r not in step.replace_reasons)
        if isinstance(old, dict) and old:
            step.old_inputs = old.get("inputs") or step.old_inputs
            step.old_protect = step.old_protect or bool(old.get("protect"))
        if isinstance(new, dict) and new.get("inputs"):
            step.new_inputs = new["inputs"]
    return steps


@functools.lru_cache(maxsize=2)
def replace_rules(path: Path = RULES_PATH) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
    document = json.loads(path.read_text())
    return {t: tuple(keys) for t, keys in document["types"].items()}, tuple(document["kubernetes"])


def _dotted(path: str) -> str:
    """`spec.limits["nvidia.com/gpu"]` -> `spec.limits.nvidia.com/gpu`, `a[0].b` -> `a.0.b`."""
    return re.sub(r'\["([^"]*)"\]|\[(\d+)\]', lambda m: "." + (m.group(1) if m.group(1) is not None else m.group(2)), path).lstrip(".")


def forces_replacement(type_token: str, path: str) -> bool:
    rules, kubernetes = replace_rules()
    keys = kubernetes if type_token.startswith("kubernetes:") else rules.get(type_token, ())
    dotted = _dotted(path)
    return any(dotted == key or dotted.startswith(key + ".") for key in keys)


def join(base: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{base}[{key}]"
    key = str(key)
    if _PLAIN_KEY.match(key):
        return f"{base}.{key}" if base else key
    return f'{base}["{key}"]'


def _walk(old: Any, new: Any, path: str) -> Iterator[tuple[str, str, Any, Any]]:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            if key == "__defaults":
                continue
            if key not in old:
                yield join(path, key), "add", None, new[key]
            elif key not in new:
                yield join(path, key), "delete", old[key], None
            elif old[key] != new[key]:
                yield from _walk(old[key], new[key], join(path, key))
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (before, after) in enumerate(zip(old, new)):
            if before != after:
                yield from _walk(before, after, join(path, index))
    elif old != new:
        yield path, "update", old, new


def input_changes(type_token: str, old: dict, new: dict) -> list[PropertyChange]:
    """Leaf-level differences of two input sets (lists of a new length compare whole)."""
    return [PropertyChange(path, kind, before, after, forces_replacement(type_token, path)) for path, kind, before, after in _walk(old, new, "")]


_PATH_PART = re.compile(r'\["([^"]*)"\]|\[(\d+)\]|\.?([^.\[]+)')


def value_at(document: Any, path: str) -> Any:
    """The value at a Pulumi property path, or None."""
    node = document
    for quoted, index, plain in _PATH_PART.findall(path):
        key: Any = quoted if quoted else (int(index) if index else plain)
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            return None
    return node


def step_changes(type_token: str, step: Step) -> list[PropertyChange]:
    """A preview step's `detailedDiff` as property changes (kinds `add-replace` and the like
    mark the inputs that force the replacement)."""
    if not step.detailed_diff:
        return input_changes(type_token, step.old_inputs, step.new_inputs)
    changes = []
    for path, detail in sorted(step.detailed_diff.items()):
        kind = str((detail or {}).get("kind", "update")).lower()
        base_kind = kind.replace("-replace", "")
        changes.append(PropertyChange(path, base_kind if base_kind in ("add", "delete", "update") else "update",
                                      value_at(step.old_inputs, path), value_at(step.new_inputs, path), kind.endswith("-replace") or path in step.replace_reasons))
    return changes


def shown(value: Any) -> str:
    """A value short enough for a comment line."""
    if value is None:
        return "(none)"
    text = json.dumps(value, sort_keys=True, default=str) if not isinstance(value, str) else value
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"
