"""Reading users' files: every failure is one UserError naming the file and where in it."""

import pytest

from mlp.errors import UserError
from mlp.files import read_json, read_yaml


def test_yaml_and_json_are_read(tmp_path):
    (tmp_path / "a.yaml").write_text("a: [1, 2]\n")
    (tmp_path / "a.json").write_text('{"a": [1, 2]}')
    assert read_yaml(tmp_path / "a.yaml") == read_json(tmp_path / "a.json") == {"a": [1, 2]}


@pytest.mark.parametrize("reader,text,message", [
    (read_yaml, "a: [1, 2\n", "not valid YAML (line 2, column 1)"),
    (read_json, '{"a": }', "not valid JSON (line 1, column 7): Expecting value"),
])
def test_malformed_files_name_file_and_line(tmp_path, reader, text, message):
    path = tmp_path / "broken"
    path.write_text(text)
    with pytest.raises(UserError) as raised:
        reader(path, "shown/name")
    assert raised.value.source == "shown/name"
    assert raised.value.message.startswith(message)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(UserError, match="no such stack file"):
        read_yaml(tmp_path / "absent.yaml", missing="no such stack file")
    with pytest.raises(UserError, match="cannot read"):
        read_json(tmp_path)  # a directory
