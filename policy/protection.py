"""What prod data depends on survives `pulumi destroy`: the buckets, every setting that keeps them
private and encrypted, the keys that encrypt them, their catalog, and the audit and flow logs.

Protection refuses the deletion in Pulumi; retain-on-delete keeps the resource in AWS if the
protection is lifted and the stack destroyed anyway. CrossGuard does not pass retain-on-delete to
policies, so that half is checked where it is known (the offline plan).
"""

from __future__ import annotations

from typing import Iterator

from policy.model import Resource, Stack, StackRule
from policy.storage import BUCKET_TYPES, ENCRYPTION, LIFECYCLE, LOGGING, OWNERSHIP, PUBLIC_ACCESS_BLOCK, VERSIONING, BUCKET_POLICY

BUCKET_SETTINGS = (*ENCRYPTION, *VERSIONING, *LOGGING, *LIFECYCLE, *PUBLIC_ACCESS_BLOCK, *OWNERSHIP, *BUCKET_POLICY)
CATALOG = "aws:glue/catalogDatabase:CatalogDatabase"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"


def unkept(resource: Resource) -> str | None:
    if not resource.protect:
        return "is not protected"
    if resource.retain_on_delete is False:
        return "is protected but not retained on delete"
    return None


def _keys(stack: Stack, setting: Resource) -> list[Resource]:
    """The KMS keys a bucket's encryption configuration names."""
    named = {str((rule.get("applyServerSideEncryptionByDefault") or {}).get("kmsMasterKeyId")) for rule in setting.props.get("rules") or []}
    return [key for key in stack.of_type(KEY) if named & key.names()] or stack.referenced(setting, "rules", KEY)


def dependencies(stack: Stack, data: Resource) -> Iterator[Resource]:
    """What a bucket or log group needs to stay private, encrypted and readable: its settings, its
    keys and the keys' aliases."""
    keys: list[Resource] = []
    if data.type in BUCKET_TYPES:
        for setting in stack.referencing(data, "bucket", *BUCKET_SETTINGS):
            yield setting
            if setting.type in ENCRYPTION:
                keys += _keys(stack, setting)
    if data.type == LOG_GROUP:
        keys += stack.referenced(data, "kmsKeyId", KEY)
    for key in keys:
        yield key
        yield from stack.referencing(key, "targetKeyId", ALIAS)


def data_of(stack: Stack) -> list[Resource]:
    return stack.of_type(*BUCKET_TYPES, CATALOG, LOG_GROUP)


def _prod_data(stack: Stack) -> list[tuple[str, str]]:
    if stack.environment != "prod":
        return []
    found = []
    for data in data_of(stack):
        for resource in [data, *dependencies(stack, data)]:
            if (why := unkept(resource)) is not None:
                found.append((resource.urn, f"{why}: prod data depends on it ({data.urn})"))
    return sorted(set(found))


def _protection_covers_dependencies(stack: Stack) -> list[tuple[str, str]]:
    found = []
    for data in data_of(stack):
        if data.protect:
            found += [(resource.urn, f"{why}, but the protected {data.urn} depends on it: a destroy would strip it")
                      for resource in dependencies(stack, data) for why in [unkept(resource)] if why]
    return sorted(set(found))


STACK_RULES = (
    StackRule("data-protected-in-prod", "In prod, buckets, their settings and keys, catalog databases and log groups are protected and retained.",
              _prod_data),
    StackRule("protection-covers-dependencies", "Whatever a protected bucket or log group depends on (settings, keys, aliases) is protected too.",
              _protection_covers_dependencies),
)
