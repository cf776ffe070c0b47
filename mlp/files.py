"""Reading the user's files: any failure is one UserError naming the file (and line)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from mlp.errors import UserError


def _read_text(path: Path, shown: str, missing: str) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        raise UserError(shown, missing) from None
    except OSError as error:
        raise UserError(shown, f"cannot read: {error.strerror}") from None


def read_yaml(path: str | Path, shown: str | None = None, missing: str = "no such file") -> Any:
    shown = shown or str(path)
    text = _read_text(Path(path), shown, missing)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise UserError(shown, f"not valid YAML{where}: {getattr(error, 'problem', None) or error}") from None


def read_json(path: str | Path, shown: str | None = None, missing: str = "no such file") -> Any:
    shown = shown or str(path)
    text = _read_text(Path(path), shown, missing)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(shown, f"not valid JSON (line {error.lineno}, column {error.colno}): {error.msg}") from None
