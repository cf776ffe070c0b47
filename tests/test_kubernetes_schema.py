"""Every core, apps and storage Kubernetes object of every stack passes `kubernetes-validate --strict`
against the schema of the stack's own Kubernetes version: unknown or misspelt fields fail."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
from pulumi.runtime import rpc

from tests.conftest import STACKS, planned

# API groups the Kubernetes schema covers in full (custom resources are checked in their own tests).
VALIDATED_GROUPS = ("kubernetes:core/", "kubernetes:apps/", "kubernetes:storage.k8s.io/")


def _manifest(value: Any) -> Any:
    """The object as the provider receives it: mocks deliver every number as a float and secret
    values in the engine's secret envelope."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig:
        return _manifest(value["value"])
    if isinstance(value, dict):
        return {key: _manifest(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_manifest(item) for item in value]
    return value


def _objects(stack: str) -> list[tuple[str, dict]]:
    return [(r.urn, _manifest(r.inputs)) for r in planned(stack).run.resources if r.type.startswith(VALIDATED_GROUPS)]


@pytest.mark.parametrize("stack", STACKS)
def test_core_apps_and_storage_objects_pass_strict_schema_validation(stack):
    version = planned(stack).config.cluster.kubernetes_version
    objects = _objects(stack)
    kinds = {manifest["kind"] for _, manifest in objects}
    assert {"Namespace", "ResourceQuota", "LimitRange", "StorageClass"} <= kinds
    failures = []
    for urn, manifest in objects:
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            failures.append(f"{urn}: {str(error).splitlines()[0]}")
    assert not failures, "\n".join(failures)


def test_strict_validation_catches_a_misspelt_field():
    (_, quota) = next((urn, m) for urn, m in _objects("dev") if m["kind"] == "ResourceQuota")
    broken = {**quota, "spec": {**quota["spec"], "hardd": quota["spec"]["hard"]}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, planned("dev").config.cluster.kubernetes_version, strict=True)
