"""The deploy role's permissions, generated from what its stack plans: the reviewed mapping
(permissions.yaml, type token -> IAM actions) applied to the stack's inventory (planned.json).

IAM actions are limited to the stack's own roles, policies and instance profiles (by the names
the plan gives them) and the cluster's OIDC provider; every other action is limited to the stack's
region (and us-east-1, where the global billing and IAM APIs answer). Documents are split to stay
under IAM's 6,144-character limit for a managed policy."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
MAPPING = HERE / "permissions.yaml"
MAX_POLICY_CHARS = 6144
GLOBAL_REGION = "us-east-1"
ATTACH_ACTIONS = ("iam:AttachRolePolicy", "iam:DetachRolePolicy")


@lru_cache(maxsize=1)
def mapping() -> dict:
    document = yaml.safe_load(MAPPING.read_text(encoding="utf-8"))
    return {"noIam": tuple(document["noIam"]), "common": tuple(document["common"]), "types": {k: tuple(v) for k, v in document["types"].items()}}


class UnmappedTypes(ValueError):
    """A planned type that neither the mapping lists nor is known to make no AWS call."""


def unmapped(types: list[str]) -> list[str]:
    rules = mapping()
    return sorted(t for t in types if t not in rules["types"] and not t.startswith(rules["noIam"]))


def actions_for(types: list[str]) -> list[str]:
    missing = unmapped(types)
    if missing:
        raise UnmappedTypes(f"no IAM actions reviewed for {', '.join(missing)} (bootstrap/permissions.yaml)")
    rules = mapping()
    actions = set(rules["common"])
    for type_token in types:
        actions.update(rules["types"].get(type_token, ()))
    return sorted(actions)


def statements(inventory: dict, account_id: str, partition: str = "aws") -> list[dict]:
    """The deploy role's statements for one stack's inventory."""
    actions = actions_for(inventory["types"])
    iam_actions = [a for a in actions if a.startswith("iam:")]
    other = [a for a in actions if not a.startswith("iam:")]
    region = inventory["region"]
    iam_resources = [f"arn:{partition}:iam::{account_id}:{name}" for name in inventory["iamResources"]]
    # The cluster's IAM OIDC provider (IRSA) is named after its issuer.
    iam_resources.append(f"arn:{partition}:iam::{account_id}:oidc-provider/oidc.eks.{region}.amazonaws.com/id/*")
    found = []
    linked = [a for a in iam_actions if a == "iam:CreateServiceLinkedRole"]
    attach = [a for a in iam_actions if a in ATTACH_ACTIONS]
    scoped = [a for a in iam_actions if a not in linked and a not in attach and a != "iam:GetAccountAlias"]
    if scoped:
        found.append({"Sid": "OwnIdentities", "Effect": "Allow", "Action": scoped, "Resource": sorted(iam_resources)})
    if attach:
        # Attaching a policy is how a role escalates: only the stack's own policies and the AWS
        # managed ones its plan attaches.
        own = sorted(f"arn:{partition}:iam::{account_id}:{name}" for name in inventory["iamResources"] if name.startswith("policy/"))
        managed = [f"arn:{partition}:{name}" for name in inventory.get("managedPolicies", [])]
        found.append({"Sid": "AttachOwnAndPlannedPolicies", "Effect": "Allow", "Action": attach,
                      "Resource": sorted(r for r in iam_resources if ":role/" in r),
                      "Condition": {"ArnLike": {"iam:PolicyARN": own + managed}}})
    if linked:
        found.append({"Sid": "ServiceLinkedRoles", "Effect": "Allow", "Action": linked,
                      "Resource": f"arn:{partition}:iam::{account_id}:role/aws-service-role/*"})
    regions = sorted({region, GLOBAL_REGION})
    other += [a for a in iam_actions if a == "iam:GetAccountAlias"]
    found += [{"Sid": f"Declared{index}", "Effect": "Allow", "Action": chunk, "Resource": "*",
               "Condition": {"StringEquals": {"aws:RequestedRegion": regions}}}
              for index, chunk in enumerate(_chunks(sorted(other)), 1)]
    return found


def _chunks(actions: list[str], size: int = 120) -> list[list[str]]:
    return [actions[i:i + size] for i in range(0, len(actions), size)]


def policy_documents(statement_list: list[dict]) -> list[str]:
    """Managed-policy documents (minified JSON) of at most MAX_POLICY_CHARS characters each."""
    documents: list[list[dict]] = []
    for statement in statement_list:
        for part in _fit(statement):
            if documents and len(_render(documents[-1] + [part])) <= MAX_POLICY_CHARS:
                documents[-1].append(part)
            else:
                documents.append([part])
    return [_render(document) for document in documents]


def _fit(statement: dict) -> list[dict]:
    """A statement split by its actions until each part fits a document of its own."""
    if len(_render([statement])) <= MAX_POLICY_CHARS or not isinstance(statement["Action"], list) or len(statement["Action"]) < 2:
        return [statement]
    half = len(statement["Action"]) // 2
    first = {**statement, "Action": statement["Action"][:half], "Sid": statement["Sid"] + "a"}
    second = {**statement, "Action": statement["Action"][half:], "Sid": statement["Sid"] + "b"}
    return _fit(first) + _fit(second)


def _render(statement_list: list[dict]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statement_list}, separators=(",", ":"))


READ_VERBS = ("Describe", "Get", "List", "BatchGet")


def read_only(actions: list[str]) -> list[str]:
    """The read calls among `actions`: what `pulumi preview` (refresh included) makes."""
    return sorted(a for a in actions if a.split(":", 1)[1].startswith(READ_VERBS))
