"""The files generated from the config models are committed; they must match the models, and
the stack files must pass the schema editors check them with."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from components.config import generate
from mlp import PROJECT_ROOT
from tests.conftest import STACKS, stack_yaml

GENERATED = generate.outputs()


@pytest.mark.parametrize("path", sorted(GENERATED), ids=lambda path: str(path.relative_to(generate.ROOT)))
def test_committed_file_matches_the_models(path: Path):
    assert path.exists(), f"{path.relative_to(generate.ROOT)} is missing; run {generate.COMMAND}"
    assert path.read_text() == GENERATED[path], f"{path.relative_to(generate.ROOT)} is stale; run {generate.COMMAND}"


def test_check_names_the_stale_file(monkeypatch, tmp_path, capsys):
    for name in ("SCHEMA_PATH", "PROJECT_PATH", "REFERENCE_PATH"):
        original: Path = getattr(generate, name)
        copy = tmp_path / original.name
        copy.write_text(original.read_text())
        monkeypatch.setattr(generate, name, copy)
    monkeypatch.setattr(generate, "ROOT", tmp_path)
    assert generate.main(["--check"]) == 0
    (tmp_path / "configuration.md").write_text("# hand-edited\n")
    assert generate.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "configuration.md is stale" in err and "stack-config.schema.json" not in err
    assert (tmp_path / "configuration.md").read_text() == "# hand-edited\n", "--check must not write"


def _schema() -> dict:
    return json.loads(generate.SCHEMA_PATH.read_text())


def test_schema_is_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(_schema())


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_file_validates_against_the_schema(stack):
    path = PROJECT_ROOT / "stacks" / f"Pulumi.{stack}.yaml"
    errors = sorted(jsonschema.Draft202012Validator(_schema()).iter_errors(yaml.safe_load(path.read_text())), key=str)
    assert not errors, "\n".join(f"{list(error.absolute_path)}: {error.message}" for error in errors[:5])


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_point_editors_at_the_schema(stack):
    first_line = (PROJECT_ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text().splitlines()[0]
    assert first_line == "# yaml-language-server: $schema=../schema/stack-config.schema.json"


@pytest.mark.parametrize("edit", [
    lambda config: config["mlplatform:network"].update(natGateway="single"),
    lambda config: config["mlplatform:network"].update(natGateways="two"),
    lambda config: config["mlplatform:cluster"]["nodePools"][0].update(terminationGracePeriod="Never"),
    lambda config: config["mlplatform:cluster"]["charts"].update(pinReasons={"kaprenter": "typo"}),
    lambda config: config["mlplatform:budgets"].update(alertEmails=[]),
    lambda config: config.update({"gcp:project": "x"}),
], ids=["unknown-key", "enum", "duration", "chart-key", "min-items", "namespace"])
def test_schema_and_parser_refuse_the_same_mistakes(edit):
    from components.config import ConfigError, parse_config

    document = stack_yaml("dev")
    edit(document["config"])
    assert not jsonschema.Draft202012Validator(_schema()).is_valid(document)
    with pytest.raises(ConfigError):
        parse_config(document["config"], "dev")


def _properties(node, path=""):
    if isinstance(node, dict):
        for name, child in node.get("properties", {}).items():
            yield f"{path}.{name}", child
            yield from _properties(child, f"{path}.{name}")
        for key, child in node.items():
            if key != "properties":
                yield from _properties(child, f"{path}/{key}")
    elif isinstance(node, list):
        for child in node:
            yield from _properties(child, path)


def test_every_key_has_a_description():
    schema = _schema()

    def described(node: dict) -> bool:
        target = schema["$defs"][node["$ref"].rsplit("/", 1)[1]] if "$ref" in node else {}
        return bool(node.get("description") or target.get("description"))

    assert not [path for path, node in _properties(schema) if not described(node)]


def test_pulumi_project_declarations_follow_pulumis_project_schema():
    """Pulumi.yaml `config:` entries: type is string, integer, boolean or array (with items),
    and only the keys Pulumi's project schema allows."""
    declarations = yaml.safe_load(generate.PROJECT_PATH.read_text())["config"]
    assert declarations
    for key, declaration in declarations.items():
        assert set(declaration) <= {"type", "items", "description", "secret", "default", "value"}, key
        assert declaration.get("description"), key
        if "type" in declaration:
            assert declaration["type"] in ("string", "integer", "boolean", "array"), key
            assert declaration["type"] != "array" or "items" in declaration, key
        assert "default" not in declaration or "type" in declaration, key


def test_reference_lists_every_schema_key():
    reference = generate.REFERENCE_PATH.read_text()
    for key in ("mlplatform:cluster.nodePools[].terminationGracePeriod", "mlplatform:cluster.charts.pinReasons",
                "mlplatform:notebooks.chartPinReason", "aws:region", "mlplatform:budgets.teamMonthlyLimits"):
        assert f"`{key}`" in reference
