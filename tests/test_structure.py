"""The code's shape: no import cycles between the platform's modules, no module too long to read.

A cycle, even one only a type checker follows (`if TYPE_CHECKING:`), means two modules cannot be
read, tested or changed apart; so every import counts here, wherever in the module it stands.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import typing
from pathlib import Path

import pulumi
import pytest

from components.config import PlatformConfig
from mlp import PROJECT_ROOT

PACKAGES = ("components", "mlp")
MAX_LINES = 500
# A file a tool writes says so in its first lines; its length is the tool's business.
GENERATED_MARKERS = ("@generated", "do not edit")
# The composition root: the one component that reads the whole config and hands out its sections.
COMPOSITION_ROOT = "components.platform.Platform"


def _sources() -> dict[str, Path]:
    """Module name -> file, for every module of the checked packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: dict[str, Path]) -> set[str]:
    """The checked modules one import statement loads by name."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in known}
    base = node.module or ""
    if node.level:
        anchor = module.split(".")
        anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
        base = ".".join(anchor + ([node.module] if node.module else []))
    targets = set()
    for alias in node.names:
        # `from package import submodule` loads the submodule; `from module import name` the module.
        target = f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
        if target in known:
            targets.add(target)
    return targets


def import_graph() -> dict[str, set[str]]:
    known = _sources()
    graph = {}
    for module, path in known.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        edges = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges |= _imported(node, module, path.name == "__init__.py", known)
        graph[module] = edges - {module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One closed path (first module repeated at the end) per strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(module: str) -> None:  # Tarjan's algorithm
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(group)

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return [_closed_path(graph, group) for group in groups]


def _closed_path(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest cycle through the group's first module, for the failure message."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for module in frontier:
            for target in sorted(graph[module] & group):
                if target == start:
                    return paths[module] + [start]
                if target not in paths:
                    paths[target] = paths[module] + [target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"{sorted(group)} is not a cycle")


def _generated(path: Path) -> bool:
    head = "\n".join(path.read_text().splitlines()[:5]).lower()
    return any(marker in head for marker in GENERATED_MARKERS)


def test_the_checks_see_every_module_and_real_imports():
    graph = import_graph()
    assert {"components.platform", "components.cluster", "components.config", "components.config.platform", "mlp.plan", "mlp.cost.estimator"} <= graph.keys()
    assert "components.nodepools" in graph["components.cluster"]
    assert "components.config" in graph["components.platform"]


def test_the_cycle_finder_names_a_cycle_hidden_behind_type_checking():
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from components.a import A\n"
    known = {"components.a": Path("a.py"), "components.b": Path("b.py")}
    (node,) = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom) and n.module == "components.a"]
    graph = {"components.a": {"components.b"}, "components.b": _imported(node, "components.b", False, known)}
    assert cycles(graph) == [["components.a", "components.b", "components.a"]]


def test_no_import_cycles_between_modules():
    found = cycles(import_graph())
    assert not found, "import cycles (TYPE_CHECKING and function-level imports count):\n" + "\n".join(" -> ".join(c) for c in found)


def test_no_module_is_over_the_line_limit():
    too_long = {
        str(path.relative_to(PROJECT_ROOT)): length
        for path in _sources().values()
        if not _generated(path) and (length := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not too_long, f"modules over {MAX_LINES} lines: " + ", ".join(f"{path} ({length} lines)" for path, length in sorted(too_long.items()))


@functools.cache
def _components() -> dict[str, type]:
    """Every ComponentResource class defined in a component module, by qualified name."""
    found = {}
    for module_name in sorted(m for m in _sources() if m.startswith("components.") and not m.startswith("components.config")):
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, pulumi.ComponentResource) and value.__module__ == module_name:
                found[f"{module_name}.{name}"] = value
    return found


def _parameter_types(component: type) -> dict[str, object]:
    """Constructor parameter -> annotation, resolved where the module can resolve it."""
    try:
        hints = typing.get_type_hints(component.__init__)
    except NameError:  # a name imported only for type checkers: judge the annotation's text
        hints = {}
    return {name: hints.get(name, parameter.annotation) for name, parameter in inspect.signature(component).parameters.items()}


def _mentions_platform_config(annotation: object) -> bool:
    if isinstance(annotation, str):
        return "PlatformConfig" in annotation
    return annotation is PlatformConfig or any(_mentions_platform_config(arg) for arg in typing.get_args(annotation))


def test_the_signature_check_sees_every_component():
    assert {"Network", "DataLake", "Cluster", "NodePools", "Registries", "GpuMonitoring", "Notebooks", "Endpoints",
            "SageMakerEndpoint", "KubernetesEndpoint", "BatchScoringJob", "CostControls", "Platform"} <= {
        name.rsplit(".", 1)[1] for name in _components()}


@pytest.mark.parametrize("qualified_name", sorted(set(_components()) - {COMPOSITION_ROOT}))
def test_components_receive_their_own_settings_not_the_whole_config(qualified_name):
    parameters = _parameter_types(_components()[qualified_name])
    takes_whole_config = [name for name, annotation in parameters.items() if _mentions_platform_config(annotation)]
    assert not takes_whole_config, f"{qualified_name} takes PlatformConfig ({', '.join(takes_whole_config)}): give it its own section and StackFacts"
    unannotated = [name for name, annotation in parameters.items() if annotation is inspect.Parameter.empty]
    assert not unannotated, f"{qualified_name}: parameters without a type say nothing about what they depend on: {', '.join(unannotated)}"
