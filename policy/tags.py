"""The cost-tag contract (DESIGN.md): the same facts the offline tests prove about the program,
enforced on every real preview, so a hand-written resource cannot slip past it."""

from __future__ import annotations

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
from policy.model import Resource, Rule, labels_of, of_types

LAUNCHED_RESOURCE_TYPES = ("instance", "volume", "network-interface")
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
EBS_CSI_PROVISIONER = "ebs.csi.aws.com"


def is_node_class(resource_type: str) -> bool:
    return resource_type.startswith("kubernetes:karpenter.k8s.aws/") and resource_type.endswith(":EC2NodeClass")


def missing_keys(tags: dict) -> list[str]:
    return [key for key in REQUIRED_TAG_KEYS if not (tags or {}).get(key)]


def _resource_tags(resource: Resource) -> list[str]:
    tags = resource.props.get("tags") or {}
    problems = [f"missing cost tag '{key}'" for key in ("Team", "Component") if not tags.get(key)]
    component = tags.get("Component")
    if component and component not in COMPONENTS:
        problems.append(f"Component tag {component!r} is not one of {', '.join(COMPONENTS)}")
    return problems


def _provider_default_tags(resource: Resource) -> list[str]:
    tags = decode_default_tags(resource.props.get("defaultTags"))
    problems = [f"provider default_tags lack '{key}'" for key in STACK_WIDE_TAG_KEYS if not tags.get(key)]
    if tags.get("Environment") and tags["Environment"] not in ENVIRONMENTS:
        problems.append(f"Environment default tag {tags['Environment']!r} is not one of {', '.join(ENVIRONMENTS)}")
    return problems


def _launch_template_tags(resource: Resource) -> list[str]:
    by_type = {spec.get("resourceType"): spec.get("tags") or {} for spec in resource.props.get("tagSpecifications") or []}
    problems = []
    for launched in LAUNCHED_RESOURCE_TYPES:
        if launched not in by_type:
            problems.append(f"tagSpecifications has no '{launched}' entry: AWS does not apply provider default tags to what node groups launch")
        elif missing := missing_keys(by_type[launched]):
            problems.append(f"tagSpecifications for '{launched}' lack {', '.join(missing)}")
    return problems


def _node_class_tags(resource: Resource) -> list[str]:
    if missing := missing_keys((resource.props.get("spec") or {}).get("tags") or {}):
        return [f"spec.tags lack {', '.join(missing)}: Karpenter's instances, volumes and interfaces would be untagged"]
    return []


def ebs_parameters(resource: Resource) -> dict:
    return resource.props.get("parameters") or {} if resource.props.get("provisioner") == EBS_CSI_PROVISIONER else {}


def _storage_class_tags(resource: Resource) -> list[str]:
    if resource.props.get("provisioner") != EBS_CSI_PROVISIONER:
        return []
    parameters = ebs_parameters(resource)
    tags = dict(str(value).split("=", 1) for key, value in parameters.items() if key.startswith("tagSpecification_") and "=" in str(value))
    if missing := missing_keys(tags):
        return [f"tagSpecification_N parameters lack {', '.join(missing)}: volumes created from PVCs would be untagged"]
    return []


def _kubernetes_labels(resource: Resource) -> list[str]:
    labels = labels_of(resource.props)
    problems = [f"metadata.labels lack the cost label '{label}'" for label in LABEL_FOR_TAG.values() if not labels.get(label)]
    problems += [f"metadata.labels set '{key}', a key a chart, controller or Kubernetes owns" for key in sorted(labels) if is_owned_label(key)]
    return problems


def is_declared_kubernetes_object(resource_type: str) -> bool:
    # A Helm release is not an object in the cluster: what it renders is checked against the chart.
    return resource_type.startswith("kubernetes:") and not resource_type.startswith("kubernetes:helm.sh/")


RULES = (
    Rule("cost-tags-on-aws-resources", "Every taggable AWS resource sets the Team and Component cost tags.",
         lambda t: t.startswith("aws:") and is_taggable(t), _resource_tags),
    Rule("aws-provider-default-tags", "Every AWS provider carries the stack-wide cost tags as default_tags.",
         of_types("pulumi:providers:aws"), _provider_default_tags),
    Rule("launch-templates-tag-what-they-launch", "Launch templates tag the instances, volumes and network interfaces they launch with all six cost tags.",
         of_types(LAUNCH_TEMPLATE), _launch_template_tags),
    Rule("karpenter-node-classes-tagged", "Karpenter EC2NodeClasses carry all six cost tags for what Karpenter launches.",
         is_node_class, _node_class_tags),
    Rule("ebs-storage-classes-tagged", "EBS StorageClasses tag the volumes they create with all six cost tags.",
         of_types(STORAGE_CLASS), _storage_class_tags),
    Rule("kubernetes-cost-labels", "Kubernetes objects carry the mlplatform.io cost labels and no label key a chart or controller owns.",
         is_declared_kubernetes_object, _kubernetes_labels),
)
