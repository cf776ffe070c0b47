"""Reading users' files: every failure is one UserError naming the file and where in it;
writing: atomic, nothing half-written."""

from __future__ import annotations

import codecs
import os

import pytest

from mlp import files
from mlp.errors import UserError
from mlp.files import read_json, read_text, read_yaml, write_atomic


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


@pytest.mark.parametrize("data", [
    "a: é\n".encode("utf-8"),
    codecs.BOM_UTF8 + "a: é\n".encode("utf-8"),
    codecs.BOM_UTF16_LE + "a: é\n".encode("utf-16-le"),  # what PowerShell's `>` writes
    codecs.BOM_UTF16_BE + "a: é\n".encode("utf-16-be"),
], ids=["utf-8", "utf-8-bom", "utf-16-le-bom", "utf-16-be-bom"])
def test_utf8_and_text_with_a_byte_order_mark_are_decoded(tmp_path, data):
    path = tmp_path / "usage.yaml"
    path.write_bytes(data)
    assert read_yaml(path) == {"a": "é"}


@pytest.mark.parametrize("data,words", [
    ("a: café\n".encode("latin-1"), "not UTF-8 text (byte 0xe9 at line 1 cannot be decoded): save it as UTF-8"),
    (b"a: 1\nb: \xff\xfe\n", "not UTF-8 text (byte 0xff at line 2"),
    ("a: é\n".encode("utf-16-le"), "binary data, not text"),  # UTF-16 without a mark
    (codecs.BOM_UTF32_LE + "a: 1\n".encode("utf-32-le"), "not UTF-8 text (it is UTF-32)"),
    (codecs.BOM_UTF16_LE + b"a\x00:\x00 \x00\x00\xd8", "not UTF-16 text"),  # a lone surrogate, odd length
    (b"\x7fELF\x02\x01\x01\x00\x00\x00", "binary data, not text (a NUL byte at line 1"),
    (bytes(range(1, 256)), "not UTF-8 text (byte 0x80"),
])
def test_other_encodings_and_binary_data_are_refused_naming_the_file(tmp_path, data, words):
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_bytes(data)
    for reader in (read_yaml, read_json):
        with pytest.raises(UserError) as raised:
            reader(path, "stacks/Pulumi.dev.yaml")
        assert str(raised.value).startswith("stacks/Pulumi.dev.yaml: ")
        assert words in raised.value.message


def test_files_larger_than_the_limit_are_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big.yaml"
    path.write_text("- x\n" * 1000)
    assert len(read_yaml(path)) == 1000
    with pytest.raises(UserError, match=r"too large \(4,000 bytes; mlp reads at most 100 bytes from such a file\)"):
        read_text(path, limit=100)
    huge = tmp_path / "huge.yaml"
    with open(huge, "wb") as stream:  # a sparse 20 MB file: refused by its size alone
        stream.truncate(20 * files.MIB)
    with pytest.raises(UserError, match=r"too large \(20 MiB; mlp reads at most 1 MiB"):
        read_yaml(huge)


def test_a_pipe_is_read_up_to_the_limit(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    pid = os.fork()
    if pid == 0:  # the writer
        try:
            with open(fifo, "wb") as stream:
                stream.write(b"x" * 5000)
        finally:
            os._exit(0)
    try:
        with pytest.raises(UserError, match="too large \\(more than 1,000 bytes"):
            read_text(fifo, limit=1000)
    finally:
        os.waitpid(pid, 0)


@pytest.mark.parametrize("text,words", [
    ('{"a": NaN}', "NaN is not a number JSON allows"),
    ('[Infinity]', "Infinity is not a number JSON allows"),
    ('{"size": -Infinity}', "-Infinity is not a number JSON allows"),
    ('[1e999]', "the number 1e999 is too large"),
    ("[" + "9" * 400 + ".0]", "is too large"),
    ("[" + "1" * 5000 + "]", "a number too long to read"),
    ("[" * 101 + "]" * 101, "nested more than 100 levels deep"),
    ("[" * 100_000 + "]" * 100_000, "nested more than 100 levels deep"),
    ('{"a": ' * 5000 + "1" + "}" * 5000, "nested more than 100 levels deep"),
])
def test_json_is_strict_and_its_nesting_bounded(tmp_path, text, words):
    path = tmp_path / "state.json"
    path.write_text(text)
    with pytest.raises(UserError) as raised:
        read_json(path)
    assert words in raised.value.message


def test_json_within_the_limits_is_read(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("[" * 100 + "1e308" + "]" * 100)
    assert read_json(path) is not None


def test_write_atomic_replaces_the_file_whole(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    write_atomic(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    target.write_text("old")

    def broken_replace(source, destination):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", broken_replace)
    with pytest.raises(UserError, match="out.json: cannot write: No space left on device"):
        write_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_writing_into_a_missing_directory_is_one_error(tmp_path):
    with pytest.raises(UserError, match="cannot write: No such file or directory"):
        write_atomic(tmp_path / "no" / "such" / "out.json", "x")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
