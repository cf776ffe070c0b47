"""Guard rails as plain functions over (resource type, inputs): testable without the engine.

The same facts the offline tests prove about our own program, enforced on every real
`pulumi preview/up --policy-pack policy`, so a hand-written resource or a change in a
component cannot slip past the cost-tag contract. Inputs are the engine's camelCase properties.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from components.config import ENVIRONMENTS
from components.tagging import (
    COMPONENTS,
    LABEL_FOR_TAG,
    REQUIRED_TAG_KEYS,
    STACK_WIDE_TAG_KEYS,
    is_owned_label,
    is_taggable,
)
from mlp.state import decode_default_tags

LAUNCHED_RESOURCE_TYPES = ("instance", "volume", "network-interface")


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    applies: Callable[[str], bool]
    check: Callable[[str, dict[str, Any]], list[str]]


def _resource_tags(resource_type: str, props: dict[str, Any]) -> list[str]:
    tags = props.get("tags") or {}
    problems = [f"missing cost tag '{key}'" for key in ("Team", "Component") if not tags.get(key)]
    component = tags.get("Component")
    if component and component not in COMPONENTS:
        problems.append(f"Component tag {component!r} is not one of {', '.join(COMPONENTS)}")
    return problems


def _provider_default_tags(resource_type: str, props: dict[str, Any]) -> list[str]:
    tags = decode_default_tags(props.get("defaultTags"))
    problems = [f"provider default_tags lack '{key}'" for key in STACK_WIDE_TAG_KEYS if not tags.get(key)]
    if tags.get("Environment") and tags["Environment"] not in ENVIRONMENTS:
        problems.append(f"Environment default tag {tags['Environment']!r} is not one of {', '.join(ENVIRONMENTS)}")
    return problems


def _missing_keys(tags: dict[str, Any]) -> list[str]:
    return [key for key in REQUIRED_TAG_KEYS if not (tags or {}).get(key)]


def _launch_template(resource_type: str, props: dict[str, Any]) -> list[str]:
    problems = []
    if (props.get("metadataOptions") or {}).get("httpTokens") != "required":
        problems.append("metadataOptions.httpTokens must be 'required' (IMDSv2)")
    by_type = {spec.get("resourceType"): spec.get("tags") or {} for spec in props.get("tagSpecifications") or []}
    for launched in LAUNCHED_RESOURCE_TYPES:
        if launched not in by_type:
            problems.append(f"tagSpecifications has no '{launched}' entry: AWS does not apply provider default tags to what node groups launch")
        elif missing := _missing_keys(by_type[launched]):
            problems.append(f"tagSpecifications for '{launched}' lack {', '.join(missing)}")
    return problems


def _node_class(resource_type: str, props: dict[str, Any]) -> list[str]:
    spec = props.get("spec") or {}
    problems = []
    if missing := _missing_keys(spec.get("tags") or {}):
        problems.append(f"spec.tags lack {', '.join(missing)}: Karpenter's instances, volumes and interfaces would be untagged")
    if (spec.get("metadataOptions") or {}).get("httpTokens") != "required":
        problems.append("spec.metadataOptions.httpTokens must be 'required' (IMDSv2)")
    return problems


def _storage_class(resource_type: str, props: dict[str, Any]) -> list[str]:
    if props.get("provisioner") != "ebs.csi.aws.com":
        return []
    parameters = props.get("parameters") or {}
    tags = dict(str(value).split("=", 1) for key, value in parameters.items() if key.startswith("tagSpecification_") and "=" in str(value))
    problems = []
    if missing := _missing_keys(tags):
        problems.append(f"tagSpecification_N parameters lack {', '.join(missing)}: volumes created from PVCs would be untagged")
    if str(parameters.get("encrypted", "")).lower() != "true":
        problems.append("parameters.encrypted must be 'true'")
    return problems


def _kubernetes_labels(resource_type: str, props: dict[str, Any]) -> list[str]:
    metadata = props.get("metadata") if isinstance(props.get("metadata"), dict) else {}
    labels = metadata.get("labels") if isinstance(metadata.get("labels"), dict) else {}
    problems = [f"metadata.labels lack the cost label '{label}'" for label in LABEL_FOR_TAG.values() if not labels.get(label)]
    problems += [f"metadata.labels set '{key}', a key a chart, controller or Kubernetes owns" for key in sorted(labels) if is_owned_label(key)]
    return problems


def _is_declared_kubernetes_object(resource_type: str) -> bool:
    # A Helm release is not an object in the cluster: what it renders is checked against the chart.
    return resource_type.startswith("kubernetes:") and not resource_type.startswith("kubernetes:helm.sh/")


RULES = (
    Rule("cost-tags-on-aws-resources", "Every taggable AWS resource sets the Team and Component cost tags.",
         lambda t: t.startswith("aws:") and is_taggable(t), _resource_tags),
    Rule("aws-provider-default-tags", "Every AWS provider carries the stack-wide cost tags as default_tags.",
         lambda t: t == "pulumi:providers:aws", _provider_default_tags),
    Rule("launch-templates-imdsv2-and-tags", "Launch templates require IMDSv2 and tag instances, volumes and interfaces.",
         lambda t: t == "aws:ec2/launchTemplate:LaunchTemplate", _launch_template),
    Rule("karpenter-node-classes-tagged", "Karpenter EC2NodeClasses require IMDSv2 and carry all cost tags.",
         lambda t: t.startswith("kubernetes:karpenter.k8s.aws/") and t.endswith(":EC2NodeClass"), _node_class),
    Rule("ebs-storage-classes-tagged", "EBS StorageClasses encrypt and tag the volumes they create.",
         lambda t: t == "kubernetes:storage.k8s.io/v1:StorageClass", _storage_class),
    Rule("kubernetes-cost-labels", "Kubernetes objects carry the mlplatform.io cost labels and no label key a chart or controller owns.",
         _is_declared_kubernetes_object, _kubernetes_labels),
)


def violations(resource_type: str, props: dict[str, Any]) -> list[tuple[str, str]]:
    """(rule name, problem) for every rule the resource breaks."""
    return [(rule.name, problem) for rule in RULES if rule.applies(resource_type) for problem in rule.check(resource_type, props)]
