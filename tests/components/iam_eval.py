"""A small evaluator of identity-policy Allow statements, for tests of what a role can reach.

It answers "does some Allow statement match this action on this resource?" the way IAM matches
Action and Resource (case-insensitive actions, `*` and `?` wildcards), ignoring conditions: a test
that finds no matching statement has shown the access is impossible whatever the conditions say.
"""

from __future__ import annotations

import fnmatch
import json
import re


def _matches(pattern: str, value: str, case_sensitive: bool) -> bool:
    regex = fnmatch.translate(pattern.replace("[", "[[]"))
    return re.fullmatch(regex, value, 0 if case_sensitive else re.IGNORECASE) is not None


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def allowed(policy: str | dict, action: str, resource: str) -> bool:
    document = json.loads(policy) if isinstance(policy, str) else policy
    for statement in _as_list(document["Statement"]):
        if statement.get("Effect") != "Allow":
            continue
        if not any(_matches(a, action, case_sensitive=False) for a in _as_list(statement.get("Action", []))):
            continue
        if any(_matches(r, resource, case_sensitive=True) for r in _as_list(statement.get("Resource", []))):
            return True
    return False


def actions(policy: str | dict) -> set[str]:
    document = json.loads(policy) if isinstance(policy, str) else policy
    return {a for s in _as_list(document["Statement"]) for a in _as_list(s.get("Action", []))}
