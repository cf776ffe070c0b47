"""Stack-export documents built by hand, and their estimates: what every `mlp cost` test prices
(and `mlp diff`'s tests diff)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from mlp.cost import estimate, usage_schemas
from mlp.state import resources_from_document
from mlp.usage import UsageFile, load_usage

PROVIDER = "urn:pulumi:dev::mlplatform::pulumi:providers:aws::main"
DEFAULT_TAGS = {"Environment": "dev", "CostCenter": "CC-1", "Project": "mlplatform", "ManagedBy": "pulumi", "Team": "ml-platform"}


def resource(type_token: str, name: str, inputs: dict | None = None, tags: dict | None = None, **extra) -> dict:
    inputs = dict(inputs or {})
    if tags is not None:
        inputs["tags"] = tags
    provider = "urn:pulumi:dev::mlplatform::pulumi:providers:kubernetes::k8s::k8s-id" if type_token.startswith("kubernetes:") else f"{PROVIDER}::prov"
    return {"urn": f"urn:pulumi:dev::mlplatform::{type_token}::{name}", "type": type_token, "custom": True, "id": f"{name}-id",
            "inputs": inputs, "outputs": dict(extra.pop("outputs", {})), "provider": provider, **extra}


def export(*resources: dict, region: str = "us-east-1") -> dict:
    provider = {"urn": PROVIDER, "type": "pulumi:providers:aws", "custom": True, "id": "prov",
                "inputs": {"region": region, "defaultTags": json.dumps({"tags": DEFAULT_TAGS})}, "outputs": {}}
    return {"version": 3, "deployment": {"resources": [provider, *resources]}}


def priced(document: dict, usage: dict | None = None, tmp_path: Path | None = None, **kwargs):
    usage_file = UsageFile()
    if usage is not None:
        path = tmp_path / "usage.yaml"
        path.write_text(json.dumps({"version": "0.1", **usage}))
        usage_file = load_usage(path, usage_schemas())
    return estimate(resources_from_document(document, "state.json"), usage_file, **kwargs)


def cost_of(document: dict, name: str, usage: dict | None = None, tmp_path: Path | None = None):
    result = priced(document, usage, tmp_path)
    matches = [c for c in result.costs if c.resource.name == name]
    assert len(matches) == 1, [c.resource.name for c in result.costs]
    return matches[0]


def usd(text: str) -> Decimal:
    return Decimal(text)


def gpu_pool(limits: dict | None, families=("g5",), extra_requirements=()) -> dict:
    spec = {"template": {"spec": {
        "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "gpu"},
        "requirements": [
            {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": list(families)},
            {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot", "on-demand"]},
            *extra_requirements,
        ]}}}
    if limits is not None:
        spec["limits"] = limits
    return resource("kubernetes:karpenter.sh/v1:NodePool", "gpu-pool", {"apiVersion": "karpenter.sh/v1", "kind": "NodePool",
                    "metadata": {"name": "gpu", "labels": {"mlplatform.io/team": "vision", "mlplatform.io/component": "compute"}}, "spec": spec})


def node_class() -> dict:
    return resource("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass", "gpu-class", {"metadata": {"name": "gpu"}, "spec": {
        "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": "100Gi", "volumeType": "gp3"}}]}})

