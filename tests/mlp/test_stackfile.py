"""Stack files are handed to the program the way the Pulumi CLI would hand them over."""

import json

import pytest

from mlp.errors import UserError
from mlp.stackfile import as_pulumi_config, read_stack_config


def test_bare_keys_go_to_the_project_namespace(tmp_path):
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text("config:\n  aws:region: us-east-1\n  environment: dev\n")
    assert read_stack_config(path) == {"aws:region": "us-east-1", "mlplatform:environment": "dev"}


def test_values_become_strings_and_structures_json():
    encoded = as_pulumi_config({"a:n": 3, "a:b": True, "a:s": "x", "a:m": {"k": [1, 2]}})
    assert encoded == {"a:n": "3", "a:b": "true", "a:s": "x", "a:m": json.dumps({"k": [1, 2]})}


def test_unknown_top_level_keys_are_refused(tmp_path):
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text("config: {}\nconfg: {}\n")
    with pytest.raises(UserError) as raised:
        read_stack_config(path)
    assert raised.value.key == "confg"
