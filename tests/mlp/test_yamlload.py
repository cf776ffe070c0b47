"""The one YAML loader for files people write: duplicate keys, key types, limits, odd scalars."""

from __future__ import annotations

import datetime

import pytest

from mlp.yamlload import MAX_DEPTH, YamlProblem, load


def problem(text: str, **limits) -> YamlProblem:
    with pytest.raises(YamlProblem) as raised:
        load(text, **limits)
    return raised.value


def test_plain_yaml_is_read():
    assert load("a: [1, 2.5, x, true, null]\nb: {c: d}\n") == {"a": [1, 2.5, "x", True, None], "b": {"c": "d"}}
    assert load("") is None and load("# only a comment\n") is None


@pytest.mark.parametrize("text,key,lines", [
    ("a: 1\na: 2\n", "a", (1, 2)),
    ("config:\n  mlplatform:budgets:\n    monthlyLimit: 5\n  aws:region: us-east-1\n  mlplatform:budgets:\n    monthlyLimit: 9\n",
     "config.mlplatform:budgets", (2, 5)),
    ("config: {}\nconfig: {}\n", "config", (1, 2)),
    ("a:\n  - name: x\n    name: y\n", "a[0].name", (2, 3)),
    ("a: {'k': 1, k: 2}\n", "a.k", (1, 1)),
])
def test_a_key_written_twice_names_the_key_and_both_lines(text, key, lines):
    found = problem(text)
    assert found.key == key
    assert found.message == f"duplicate key: first at line {lines[0]}, again at line {lines[1]}"


def test_merged_keys_may_be_overridden():
    assert load("base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  x: 3\n")["d"] == {"x": 3, "y": 2}


@pytest.mark.parametrize("text,words", [
    ("1: x\n", "the key '1' is read as a number, not a string: quote it (line 1)"),
    ("a:\n  on: x\n", "the key 'on' is read as a boolean"),
    ("2025-01-01: x\n", "the key '2025-01-01' is read as a date"),
    ("~: x\n", "read as null"),
    ("[a, b]: x\n", "read as a list or mapping"),
])
def test_keys_are_strings(text, words):
    assert words in problem(text).message


def test_an_alias_bomb_is_refused_before_anything_is_built():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    found = problem("\n".join(lines) + "\n")
    assert "more than 200,000 values once aliases are expanded" in found.message


def test_aliases_within_the_limit_are_read():
    assert load("a: &a [1, 2]\nb: [*a, *a]\n") == {"a": [1, 2], "b": [[1, 2], [1, 2]]}
    assert "more than 5 values" in problem("a: &a [1, 2]\nb: [*a, *a]\n", max_nodes=5).message


@pytest.mark.parametrize("text", [
    "a:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(MAX_DEPTH + 5)),
    "[" * 5000 + "]" * 5000,
    "{a: " * 2000 + "1" + "}" * 2000,
])
def test_deep_nesting_is_refused_without_recursion_error(text):
    found = problem(text)
    assert "nested more than 64 levels deep" in found.message or "maximum nesting depth" in found.message


@pytest.mark.parametrize("text,words", [
    ("a: &a [1, *a]\n", "alias *a refers to an anchor that contains it"),
    ("a: *nowhere\n", "alias *nowhere refers to no anchor before it"),
    ("a: " + "1" * 5000 + "\n", "a number too long to read"),
    ("a: 2025-02-30\n", "cannot read this value: day is out of range for month"),
    ("a: !!python/object:os.system x\n", "could not determine a constructor"),
    ("a: !Ref x\n", "could not determine a constructor for the tag '!Ref'"),
    ("a: 1\n---\nb: 2\n", "expected a single document"),
    ("a: [1, 2\n", "not valid YAML (line 2, column 1)"),
])
def test_values_that_cannot_be_built_are_yaml_errors_with_a_line(text, words):
    assert words in problem(text).message


def test_typed_scalars_stay_typed_for_the_validators_to_name():
    loaded = load("when: 2025-01-13\nblob: !!binary aGVsbG8=\nset: !!set {x}\nnan: .nan\ninf: -.inf\n")
    assert loaded["when"] == datetime.date(2025, 1, 13) and loaded["blob"] == b"hello" and loaded["set"] == {"x"}
    assert loaded["nan"] != loaded["nan"] and loaded["inf"] == float("-inf")
