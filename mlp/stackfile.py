"""Reading a stack file (`stacks/Pulumi.<stack>.yaml`) the way the Pulumi CLI hands it over."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from components.config import ConfigError, PlatformConfig, parse_config
from mlp import PROJECT_ROOT
from mlp.errors import UserError
from mlp.files import read_yaml


def stack_file_path(stack: str, config_file: str | None = None) -> Path:
    if config_file:
        return Path(config_file)
    return PROJECT_ROOT / "stacks" / f"Pulumi.{stack}.yaml"


def display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def read_stack_config(path: Path) -> dict[str, Any]:
    """The `config:` mapping of a stack file, with bare keys put in the project namespace."""
    shown = display_path(path)
    document = read_yaml(path, shown, missing="no such stack file")
    if not isinstance(document, dict) or not isinstance(document.get("config"), dict):
        raise UserError(shown, "expected a mapping with a 'config' mapping", key="config")
    unknown = sorted(set(document) - {"config", "secretsprovider", "encryptedkey", "environment"})
    if unknown:
        raise UserError(shown, "unknown top-level key of a Pulumi stack file", key=unknown[0])
    # Pulumi puts a key without a namespace in the project's own namespace.
    return {(key if ":" in key else f"mlplatform:{key}"): value for key, value in document["config"].items()}


def load_stack(stack: str, config_file: str | None = None) -> tuple[dict[str, Any], PlatformConfig]:
    """Read and validate a stack's config; a bad value is a UserError naming file and key."""
    path = stack_file_path(stack, config_file)
    raw = read_stack_config(path)
    try:
        return raw, parse_config(raw, stack)
    except ConfigError as error:
        raise UserError(display_path(path), error.message, key=error.key) from None


def as_pulumi_config(raw: dict[str, Any]) -> dict[str, str]:
    """What the Pulumi engine gives a program: strings, with structured values JSON-encoded."""
    encoded = {}
    for key, value in raw.items():
        if isinstance(value, (dict, list)):
            encoded[key] = json.dumps(value)
        elif isinstance(value, bool):
            encoded[key] = "true" if value else "false"
        else:
            encoded[key] = str(value)
    return encoded
