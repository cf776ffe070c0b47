"""Which team, environment and component a cost belongs to: the effective AWS tag, else the same
fact as a Kubernetes label, else what the stack gives everything. Shared by `mlp cost`, `mlp
diff` and `mlp report`, so the three group a dollar the same way."""

from __future__ import annotations

from typing import Any

from components.tagging import LABEL_FOR_TAG
from mlp.cost.core import UNTAGGED
from mlp.state import StateResource, provider_default_tags

DEFAULT_GROUP_KEYS = ("Environment", "Team", "Component")
# Cost tags as Kubernetes labels (DESIGN.md: the same facts as labels).
# The project is the `app.kubernetes.io/part-of` label (components.tagging.CostTagging.k8s_labels).
TAG_LABELS = {**LABEL_FOR_TAG, "Project": "app.kubernetes.io/part-of"}


# Keys under which charts take the labels they put on their objects (JupyterHub `hub.labels`,
# `singleuser.extraLabels`, Karpenter `podLabels`, ...).
_CHART_LABEL_KEYS = frozenset({"labels", "extraLabels", "commonLabels", "podLabels", "additionalLabels", "customLabels"})


def _chart_labels(values: Any) -> list[dict]:
    """Every label map under a label key of a chart's values (walked without recursion: a
    release's values can be large, and there can be thousands of releases)."""
    found = []
    pending = [values]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key in _CHART_LABEL_KEYS and isinstance(value, dict):
                    found.append(value)
                elif isinstance(value, (dict, list)):
                    pending.append(value)
        elif isinstance(node, list):
            pending.extend(item for item in node if isinstance(item, (dict, list)))
    return found


def release_labels(resource: StateResource) -> dict[str, str]:
    """The labels a Helm release gives every object it labels: a release has no labels of its
    own, but what it runs carries the cost labels its values set (JupyterHub's hub, proxy and
    user servers: the platform team). Only labels on which all of them agree count."""
    label_sets = _chart_labels(resource.inputs.get("values"))
    if not label_sets:
        return {}
    common = {str(k): str(v) for k, v in label_sets[0].items() if isinstance(v, (str, int, float)) and not isinstance(v, bool)}
    for labels in label_sets[1:]:
        common = {k: v for k, v in common.items() if str(labels.get(k)) == v}
    return common


INGRESS_TYPE = "kubernetes:networking.k8s.io/v1:Ingress"
ALB_TAGS_ANNOTATION = "alb.ingress.kubernetes.io/tags"


def alb_tags(resource: StateResource) -> dict[str, str]:
    """The AWS tags an Ingress gives the ALB the controller makes for it (`key=value,...`). An
    Ingress's only cost is that ALB, so those tags, not the Ingress's labels, say whose it is (a
    shared ALB is the network's, whichever member carries its cost)."""
    if resource.type != INGRESS_TYPE:
        return {}
    metadata = resource.inputs.get("metadata")
    notes = (metadata.get("annotations") or {}) if isinstance(metadata, dict) else {}
    text = notes.get(ALB_TAGS_ANNOTATION) if isinstance(notes, dict) else None
    if not isinstance(text, str):
        return {}
    return dict(pair.strip().split("=", 1) for pair in text.split(",") if "=" in pair)


def _labels(resource: StateResource) -> dict:
    metadata = resource.inputs.get("metadata")
    labels = (metadata.get("labels") or {}) if isinstance(metadata, dict) else {}
    labels = labels if isinstance(labels, dict) else {}
    if resource.type.startswith("kubernetes:helm.sh/"):
        labels = {**release_labels(resource), **labels}
    return labels


def _value(resource: StateResource, key: str, labels: dict, stack_tags: dict[str, str] | None, made_tags: dict[str, str]) -> str:
    if made_tags.get(key):
        return made_tags[key]
    if resource.tags.get(key):
        return resource.tags[key]
    label = TAG_LABELS.get(key, key)
    if labels.get(label):
        return str(labels[label])
    if key == "Component":
        return resource.component
    return (stack_tags or {}).get(key) or UNTAGGED


def group_value(resource: StateResource, key: str, stack_tags: dict[str, str] | None = None) -> str:
    """The value of a cost tag on a resource: the tags of the ALB an Ingress makes, else its effective AWS tag, else the same fact as a
    Kubernetes label (for a Helm release, the label its values give all it runs), else (for
    Component) the component its URN places it in, else the stack-wide value the AWS provider's
    default tags give everything in the stack."""
    return _value(resource, key, _labels(resource), stack_tags, alb_tags(resource))


def group_values(resource: StateResource, keys: tuple[str, ...], stack_tags: dict[str, str] | None = None) -> dict[str, str]:
    """`group_value` of several keys, reading the resource's labels once."""
    labels, made_tags = _labels(resource), alb_tags(resource)
    return {key: _value(resource, key, labels, stack_tags, made_tags) for key in keys}


def stack_default_tags(resources: list[StateResource]) -> dict[str, str]:
    """The default tags of the document's AWS provider: the stack-wide cost tags."""
    for resource in resources:
        if resource.type == "pulumi:providers:aws":
            tags = provider_default_tags(resource)
            if tags:
                return tags
    return {}
