"""The placeholder checklist of docs/deploy.md, generated from the stack-config schema and the
shipped stack files: every key whose shipped value is a placeholder (mlp/preflight/placeholders.py),
with the schema's description and the stacks that carry one. A test fails when the guide is stale.

    python -m mlp.preflight.checklist        # rewrite the block in docs/deploy.md
"""

from __future__ import annotations

import json
import re
import sys
from typing import Optional

import yaml

from mlp import PROJECT_ROOT
from mlp.preflight.placeholders import find_placeholders

SCHEMA = PROJECT_ROOT / "schema" / "stack-config.schema.json"
GUIDE = PROJECT_ROOT / "docs" / "deploy.md"
STACKS = ("dev", "staging", "prod")
BEGIN = "<!-- BEGIN GENERATED: placeholder checklist (python -m mlp.preflight.checklist) -->"
END = "<!-- END GENERATED: placeholder checklist -->"
_INDEX = re.compile(r"\[\d+\]")


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        target = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    for options in ("anyOf", "oneOf"):
        if options in node:
            found = [_resolve(schema, o) for o in node[options] if o.get("type") != "null"]
            if found:
                node = {**found[0], **{k: v for k, v in node.items() if k != options}}
    return node


def describe(schema: dict, key: str) -> Optional[str]:
    """The schema's description of a stack-file key like `mlplatform:notebooks.profiles[0].tag`
    (a list item without a description of its own takes its list's)."""
    parts = [p for p in re.split(r"\.|(\[\d+\])", key) if p]
    node = _resolve(schema, schema["properties"]["config"])
    described = None
    for part in parts:
        if part.startswith("["):
            node = _resolve(schema, node.get("items") or {})
        else:
            properties = node.get("properties")
            node = _resolve(schema, properties.get(part, {}) if properties is not None else node.get("additionalProperties") or {})
        described = node.get("description") or described
    return described


def rows() -> list[tuple[str, str, list[str], str]]:
    """(key pattern, description, stacks, what the shipped value is) in first-seen order."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    found: dict[str, tuple[str, list[str], str]] = {}
    for stack in STACKS:
        config = yaml.safe_load((PROJECT_ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))["config"]
        for placeholder in find_placeholders(config):
            pattern = _INDEX.sub("[]", placeholder.key)
            description = describe(schema, placeholder.key) or ""
            entry = found.setdefault(pattern, (description, [], placeholder.why))
            if stack not in entry[1]:
                entry[1].append(stack)
    return [(key, description, stacks, why) for key, (description, stacks, why) in found.items()]


def render() -> str:
    lines = [BEGIN, "", "| key | what it is | stacks | shipped value |", "|---|---|---|---|"]
    for key, description, stacks, why in rows():
        lines.append(f"| `{key}` | {description.replace('|', '/')} | {', '.join(stacks)} | {why} |")
    counts = ", ".join(f"{stack} {len(find_placeholders(_config(stack)))}" for stack in STACKS)
    lines += ["", f"Placeholder values per shipped stack file: {counts}. `mlp preflight STACK --offline` lists a stack's own.", "", END]
    return "\n".join(lines)


def _config(stack: str) -> dict:
    return yaml.safe_load((PROJECT_ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))["config"]


def updated(guide: str) -> str:
    start, end = guide.index(BEGIN), guide.index(END) + len(END)
    return guide[:start] + render() + guide[end:]


def main() -> int:
    from mlp.files import write_atomic

    write_atomic(GUIDE, updated(GUIDE.read_text(encoding="utf-8")))
    print(f"wrote {GUIDE.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
