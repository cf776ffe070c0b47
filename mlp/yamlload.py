"""The one YAML loader for files people write: stack files and usage files.

PyYAML's safe loader (on libyaml where installed), with what it lacks for files that may be
hostile or simply wrong:
- a key written twice in one mapping is an error naming the key and both lines (PyYAML keeps
  the last one silently: a second `mlplatform:budgets:` block would replace the first);
- mapping keys are strings (`1:`, `on:` or `2025-01-01:` as a key is a mistake, not data);
- limits, checked on the event stream before any node is built: nesting depth (PyYAML builds
  nested nodes recursively) and the number of nodes with every alias expanded (an alias bomb is
  a few hundred bytes on disk and gigabytes once anything walks it); an alias to an anchor that
  is still open (a cycle) is refused;
- a value the constructors cannot build (a 5,000-digit number, 2025-02-30) is a YAML error
  with its line, not a ValueError.
Typed scalars stay what YAML says they are (a date, bytes, a set): the validators that expect a
string say so, naming the key.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

MAX_DEPTH = 64  # stack files nest about 8 levels
MAX_NODES = 200_000  # every alias expanded; the prod stack file has about 1,500

_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_KIND_OF_TAG = {
    "tag:yaml.org,2002:int": "a number", "tag:yaml.org,2002:float": "a number", "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:null": "null", "tag:yaml.org,2002:timestamp": "a date",
}


class YamlProblem(Exception):
    """Why a YAML text was refused: a message, the line, and the key path where there is one."""

    def __init__(self, message: str, line: int | None = None, key: str | None = None):
        self.message = f"{message} (line {line})" if line else message
        self.key = key
        super().__init__(self.message)


def _line(mark: Any) -> int | None:
    return mark.line + 1 if mark is not None else None


class _Loader(_SafeLoader):  # type: ignore[misc, valid-type]
    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError, TypeError) as error:  # int("1" * 5000), date(2025, 2, 30)
            problem = "a number too long to read" if node.tag.endswith(":int") else f"cannot read this value: {error}"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from None


def check_limits(text: str, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> None:
    """Refuse text nested deeper than `max_depth` or holding more than `max_nodes` nodes once its
    aliases are expanded, reading only the event stream (iterative, nothing built)."""
    parser = _SafeLoader(text)
    sizes: dict[str, int] = {}  # anchor -> nodes it stands for
    open_collections: list[list] = []  # [anchor, nodes so far]
    total = 0
    try:
        while parser.check_event():
            event = parser.get_event()
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                open_collections.append([event.anchor, 1])
                if len(open_collections) > max_depth:
                    raise YamlProblem(f"nested more than {max_depth} levels deep", _line(event.start_mark))
                continue
            if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                anchor, nodes = open_collections.pop()
            elif isinstance(event, yaml.ScalarEvent):
                anchor, nodes = event.anchor, 1
            elif isinstance(event, yaml.AliasEvent):
                if event.anchor not in sizes:
                    cyclic = any(entry[0] == event.anchor for entry in open_collections)
                    raise YamlProblem(f"alias *{event.anchor} refers to {'an anchor that contains it' if cyclic else 'no anchor before it'}",
                                      _line(event.start_mark))
                anchor, nodes = None, sizes[event.anchor]
            else:  # stream and document boundaries
                continue
            if anchor is not None:
                sizes[anchor] = nodes
            if open_collections:
                open_collections[-1][1] += nodes
                nodes = open_collections[-1][1]
            else:
                total += nodes
                nodes = total
            if nodes > max_nodes:
                raise YamlProblem(f"more than {max_nodes:,} values once aliases are expanded", _line(event.start_mark))
    finally:
        parser.dispose()


def _check_keys(root: Any) -> None:
    """Keys are strings, each at most once per mapping (merged `<<` keys may be overridden)."""
    seen_nodes: set[int] = set()
    pending: list[tuple[Any, str]] = [(root, "")]
    while pending:
        node, path = pending.pop()
        if id(node) in seen_nodes:  # an alias: its node was checked where it was defined
            continue
        seen_nodes.add(id(node))
        if isinstance(node, SequenceNode):
            pending.extend((item, f"{path}[{i}]") for i, item in enumerate(node.value))
            continue
        if not isinstance(node, MappingNode):
            continue
        lines: dict[str, int | None] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                pending.append((value_node, path))
                continue
            if not isinstance(key_node, ScalarNode) or key_node.tag != _STR_TAG:
                kind = _KIND_OF_TAG.get(key_node.tag, "a list or mapping" if not isinstance(key_node, ScalarNode) else f"a {key_node.tag}")
                shown = repr(key_node.value) if isinstance(key_node, ScalarNode) else "this key"
                raise YamlProblem(f"the key {shown} is read as {kind}, not a string: quote it", _line(key_node.start_mark), path or None)
            key = key_node.value
            child = f"{path}.{key}" if path else key
            if key in lines:
                raise YamlProblem(f"duplicate key: first at line {lines[key]}, again at line {_line(key_node.start_mark)}", key=child)
            lines[key] = _line(key_node.start_mark)
            pending.append((value_node, child))


def load(text: str, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> Any:
    """The single YAML document in `text` (None for an empty one). Raises YamlProblem."""
    try:
        check_limits(text, max_depth, max_nodes)
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _check_keys(node)
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        said = ", ".join(part for part in (getattr(error, "context", None), getattr(error, "problem", None)) if part)
        raise YamlProblem(f"not valid YAML{where}: {said or error}") from None
