"""How a bad stack config is reported: one `ConfigError`, `<full key path>: <message>`.

Validators raise `Invalid` (a message, and where below the value being validated it applies);
`from_validation_error` is the one place that turns pydantic's raw errors into that form, so a
message reads the same whichever validator found the problem.
"""

from __future__ import annotations

import datetime
import json
import math
from typing import Any, Iterable, Union

from pydantic import ValidationError

PROJECT_NAMESPACE = "mlplatform"

Location = tuple[Union[str, int], ...]


class ConfigError(ValueError):
    """One bad value in the stack configuration: the key path and what was expected."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


class Invalid(ValueError):
    """A validator's finding: `message` about the key at `loc` (aliases and list indexes)
    below the value the validator was given."""

    def __init__(self, message: str, *loc: Union[str, int]):
        super().__init__(message)
        self.message = message
        self.loc: Location = loc


def describe(value: Any, limit: int = 60) -> str:
    """A short rendering of a bad value for a message. Never raises: whatever YAML or JSON
    decoding produced (dates, bytes, sets, NaN, cyclic lists) must still yield a message."""
    try:
        text = _render(value)
    except Exception:  # a value whose own repr fails, or one too large to render
        text = f"a value of type {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _render(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # nan, inf, -inf
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (datetime.date, datetime.time)):
        # YAML reads an unquoted 2025-01-13 as a date: say so, it explains "expected a string".
        return f"{value.isoformat()} (a {type(value).__name__})"
    if isinstance(value, (list, dict)):
        try:
            return json.dumps(value, allow_nan=True)
        except (TypeError, ValueError):  # values JSON cannot hold, or a cycle
            return repr(value)
    return repr(value)


def format_key(loc: Iterable[Union[str, int]]) -> str:
    """`("mlplatform:cluster", "nodePools", 1, "limits")` -> `mlplatform:cluster.nodePools[1].limits`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not text:
            # The region has always been reported as `aws.region`; scripts and tests match on it.
            text = "aws.region" if part == "aws:region" else part
        else:
            text += f".{part}"
    return text


def config_key(section: str, *loc: Union[str, int]) -> str:
    """The key path of a value inside a top-level section: `config_key("endpoints", 0, "image")`."""
    return format_key((f"{PROJECT_NAMESPACE}:{section}", *loc))


def from_validation_error(error: ValidationError) -> ConfigError:
    """The first problem pydantic found, in our form. Fields are validated in declaration
    order and cross-field checks only run once a model's own fields are valid, so the first
    error is the one a reader fixes first."""
    details = error.errors(include_url=False)
    first = details[0]
    # Dictionary keys are validated at `(..., key, "[key]")`; the key itself is the location.
    loc: Location = tuple(part for part in first["loc"] if part != "[key]")
    found = (first.get("ctx") or {}).get("error")
    if isinstance(found, ConfigError):
        return found
    if isinstance(found, Invalid):
        return ConfigError(format_key(loc + found.loc), found.message)
    return ConfigError(format_key(loc), _message(first))


def _message(detail: dict) -> str:
    kind = detail["type"]
    ctx = detail.get("ctx") or {}
    got = describe(detail.get("input"))
    if kind == "missing":
        return "is required"
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        return "unknown key"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {got}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {got}"
    if kind in ("float_type", "float_parsing", "finite_number"):
        return f"expected a finite number, got {got}"
    if kind in ("greater_than_equal", "greater_than"):
        bound = ctx.get("ge", ctx.get("gt"))
        return f"expected a number {'>=' if 'ge' in ctx else '>'} {bound}, got {got}"
    if kind in ("less_than_equal", "less_than"):
        bound = ctx.get("le", ctx.get("lt"))
        return f"expected a number {'<=' if 'le' in ctx else '<'} {bound}, got {got}"
    if kind in ("string_type", "string_too_short"):
        return f"expected a non-empty string, got {got}"
    if kind in ("list_type", "tuple_type", "set_type"):
        return f"expected a list, got {got}"
    if kind in ("dict_type", "model_type", "dataclass_type", "dataclass_args_type", "model_attributes_type"):
        return f"expected a mapping, got {got}"
    if kind == "too_short":
        return f"expected at least {ctx.get('min_length')} item(s), got {ctx.get('actual_length')}"
    if kind == "too_long":
        return f"expected at most {ctx.get('max_length')} item(s), got {ctx.get('actual_length')}"
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}, got {got}"
    return f"{detail.get('msg', kind)}, got {got}"
