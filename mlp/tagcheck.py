"""Tag coverage of a document: which taggable resources lack which cost-tag keys."""

from __future__ import annotations

from dataclasses import dataclass

from components.tagging import LABEL_FOR_TAG, REQUIRED_TAG_KEYS, is_taggable
from mlp.state import StateResource

REQUIRED_LABELS = tuple(LABEL_FOR_TAG.values())


@dataclass
class Coverage:
    checked: int
    missing: dict[str, list[str]]  # urn -> missing keys

    @property
    def covered(self) -> int:
        return self.checked - len(self.missing)

    @property
    def percent(self) -> float:
        return 100.0 if self.checked == 0 else 100.0 * self.covered / self.checked


# AWS tagging limits (the same for every taggable service).
MAX_TAGS_PER_RESOURCE = 50
MAX_TAG_KEY_LENGTH = 128
MAX_TAG_VALUE_LENGTH = 256


def tag_limit_problems(resources: list[StateResource]) -> dict[str, list[str]]:
    """Effective tags AWS would refuse: too many, too long, or in the reserved aws: namespace."""
    problems: dict[str, list[str]] = {}
    for resource in resources:
        if not resource.custom or not is_taggable(resource.type):
            continue
        found = []
        if len(resource.tags) > MAX_TAGS_PER_RESOURCE:
            found.append(f"{len(resource.tags)} tags (AWS allows {MAX_TAGS_PER_RESOURCE})")
        for key, value in resource.tags.items():
            if len(key) > MAX_TAG_KEY_LENGTH or key.lower().startswith("aws:"):
                found.append(f"tag key {key[:40]!r} is longer than {MAX_TAG_KEY_LENGTH} or uses the aws: prefix")
            if len(value) > MAX_TAG_VALUE_LENGTH:
                found.append(f"tag {key!r} has a value longer than {MAX_TAG_VALUE_LENGTH}")
        if found:
            problems[resource.urn] = found
    return problems


def kubernetes_labels(resource: StateResource) -> dict | None:
    """Labels of a Kubernetes object, or None for types without object metadata (Helm releases)."""
    if not resource.type.startswith("kubernetes:") or resource.type.startswith("kubernetes:helm.sh"):
        return None
    metadata = resource.inputs.get("metadata")
    if not isinstance(metadata, dict):
        return None
    return metadata.get("labels") or {}


def aws_tag_coverage(resources: list[StateResource]) -> Coverage:
    missing = {}
    checked = 0
    for resource in resources:
        if not resource.custom or not is_taggable(resource.type):
            continue
        checked += 1
        absent = [key for key in REQUIRED_TAG_KEYS if not resource.tags.get(key)]
        if absent:
            missing[resource.urn] = absent
    return Coverage(checked, missing)


def kubernetes_label_coverage(resources: list[StateResource]) -> Coverage:
    missing = {}
    checked = 0
    for resource in resources:
        labels = kubernetes_labels(resource)
        if labels is None:
            continue
        checked += 1
        absent = [label for label in REQUIRED_LABELS if not labels.get(label)]
        if absent:
            missing[resource.urn] = absent
    return Coverage(checked, missing)
