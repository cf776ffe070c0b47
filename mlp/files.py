"""The one place `mlp` reads and writes files: any failure is one UserError naming the file.

Reading: bytes up to a size limit per kind of file, decoded as UTF-8, or as UTF-8/UTF-16 when
a byte-order mark says so (PowerShell's `>` writes UTF-16 LE with one); anything else, and
binary data, is refused naming the file. YAML goes through the one loader for files people
write (mlp/yamlload.py); JSON is strict (no NaN or Infinity, no number too large for a float)
and its nesting is bounded, so no reader downstream meets a RecursionError.

Writing: `write_atomic` writes a temporary file beside the target and renames it over the
target only once everything is written, so a failed run leaves no half-written `--out` file.
"""

from __future__ import annotations

import codecs
import gc
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from mlp.errors import UserError
from mlp.yamlload import YamlProblem
from mlp.yamlload import load as load_yaml

MIB = 1024 * 1024
MAX_YAML_BYTES = 1 * MIB  # stack and usage files are about 10 KB
MAX_JSON_BYTES = 256 * MIB  # a stack export of 100,000 resources is about 230 MB
MAX_JSON_DEPTH = 100  # Pulumi property values nest about 20 levels

# Checked in this order: a UTF-32 LE mark begins with the UTF-16 LE one, and UTF-32 is refused.
_BOMS = (
    (codecs.BOM_UTF32_LE, None), (codecs.BOM_UTF32_BE, None),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)


def _size_text(size: int) -> str:
    return f"{size / MIB:g} MiB" if size >= MIB and size % (MIB // 1024) == 0 else f"{size:,} bytes"


def read_bytes(path: str | Path, shown: str, missing: str = "no such file", limit: int = MAX_YAML_BYTES) -> bytes:
    path = Path(path)
    try:
        with open(path, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            if size > limit:  # refused before reading a byte of it
                raise UserError(shown, f"too large ({_size_text(size)}; mlp reads at most {_size_text(limit)} from such a file)")
            data = stream.read(limit + 1)  # a pipe or device has no size: read one byte past the limit
    except FileNotFoundError:
        raise UserError(shown, missing) from None
    except OSError as error:
        raise UserError(shown, f"cannot read: {error.strerror or error}") from None
    if len(data) > limit:
        raise UserError(shown, f"too large (more than {_size_text(limit)}; mlp reads at most that from such a file)")
    return data


def decode(data: bytes, shown: str) -> str:
    """Text of a file: UTF-8, or UTF-8/UTF-16 with a byte-order mark."""
    encoding = "utf-8"
    for bom, name in _BOMS:
        if data.startswith(bom):
            if name is None:
                raise UserError(shown, "not UTF-8 text (it is UTF-32): save it as UTF-8")
            encoding = name
            break
    else:
        if b"\x00" in data:  # no UTF-8 text has one; UTF-16 without a mark has many
            line = data.count(b"\n", 0, data.index(b"\x00")) + 1
            raise UserError(shown, f"binary data, not text (a NUL byte at line {line}; UTF-16 text needs a byte-order mark): save it as UTF-8")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        what = "UTF-16" if encoding == "utf-16" else "UTF-8"
        raise UserError(shown, f"not {what} text (byte 0x{data[error.start]:02x} at line {line} cannot be decoded): save it as UTF-8") from None
    if "\x00" in text:
        raise UserError(shown, f"binary data, not text (a NUL character at line {text.count(chr(10), 0, text.index(chr(0))) + 1})")
    return text


def read_text(path: str | Path, shown: str | None = None, missing: str = "no such file", limit: int = MAX_YAML_BYTES) -> str:
    shown = shown or str(path)
    return decode(read_bytes(path, shown, missing, limit), shown)


def read_yaml(path: str | Path, shown: str | None = None, missing: str = "no such file", limit: int = MAX_YAML_BYTES) -> Any:
    """A YAML file a person wrote (a stack or usage file): duplicate keys, non-string keys,
    too much nesting or alias expansion are errors naming the file and line."""
    shown = shown or str(path)
    text = read_text(path, shown, missing, limit)
    try:
        return load_yaml(text)
    except YamlProblem as problem:
        raise UserError(shown, problem.message, key=problem.key) from None


class _NotJsonNumber(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NotJsonNumber(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotJsonNumber(f"the number {text[:30]} is too large")
    return value


def too_deep(value: Any, limit: int) -> bool:
    """Whether lists and objects nest more than `limit` levels (level by level, no recursion)."""
    level = [value] if isinstance(value, (dict, list)) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below = []
        for item in level:
            children = item.values() if type(item) is dict else item
            below.extend([child for child in children if type(child) is dict or type(child) is list])
        level = below
    return False


def parse_json(text: str, shown: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    # JSON builds no reference cycles, and the collector's passes over millions of new objects
    # would triple the time a large stack export takes to read.
    collecting = gc.isenabled()
    gc.disable()
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
        nested_too_deep = too_deep(value, max_depth)
    except json.JSONDecodeError as error:
        raise UserError(shown, f"not valid JSON (line {error.lineno}, column {error.colno}): {error.msg}") from None
    except _NotJsonNumber as error:
        raise UserError(shown, f"not valid JSON: {error}") from None
    except ValueError:  # an integer of more than 4,300 digits
        raise UserError(shown, "not valid JSON: a number too long to read") from None
    except RecursionError:
        raise UserError(shown, f"not valid JSON: nested more than {max_depth} levels deep") from None
    finally:
        if collecting:
            gc.enable()
    if nested_too_deep:
        raise UserError(shown, f"not valid JSON: nested more than {max_depth} levels deep")
    return value


def read_json(path: str | Path, shown: str | None = None, missing: str = "no such file", limit: int = MAX_JSON_BYTES) -> Any:
    shown = shown or str(path)
    return parse_json(read_text(path, shown, missing, limit), shown)


def write_atomic(path: str | Path, text: str) -> None:
    """Write `text` to `path` all at once: readers see the old file or the whole new one."""
    path = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    except OSError as error:
        raise UserError(str(path), f"cannot write: {error.strerror or error}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp creates 0600; give it an ordinary file's mode
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise UserError(str(path), f"cannot write: {error.strerror or error}") from None
        raise
