"""Graviton system nodes are safe only if every image that runs on them has an arm64 build.

`components/data/system_images_arm64.json` records, per image repository and tag, whether upstream's
release build publishes linux/arm64 and where that is written (a build definition at the pinned tag).
These tests tie that file to what the plans really run on system nodes: every image the real charts
render onto the system pool, every workload the platform declares there, and every EKS add-on. A
chart or add-on upgrade that changes an image fails here until someone establishes the new one.
"""

from __future__ import annotations

import json

import pytest

from components.cluster import SYSTEM_AMI_TYPES
from components.config import SYSTEM_POOL_NAME
from components.nodepools import POOL_LABEL
from mlp import PROJECT_ROOT
from tests.conformance import render
from tests.conftest import STACKS, planned
from tests.test_kubernetes_schema import _manifest

FACTS = json.loads((PROJECT_ROOT / "components" / "data" / "system_images_arm64.json").read_text())
ADDON_TYPE = "aws:eks/addon:Addon"


def repository_and_tag(image: str) -> tuple[str, str]:
    """`quay.io/a/b:1.2@sha256:..` -> (`quay.io/a/b`, `1.2@sha256:..`); a registry port is not a tag."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    repository, tag = (name.rsplit(":", 1) if ":" in last else (name, ""))
    return repository, tag + (f"@{digest}" if digest else "")


def on_system_nodes(kind: str, pod_spec: dict, system_selector: dict[str, str]) -> bool:
    """Pinned to the system pool, or a DaemonSet nothing keeps off it (no node selector, no required affinity)."""
    selector = pod_spec.get("nodeSelector") or {}
    if all(selector.get(key) == value for key, value in system_selector.items()):
        return True
    required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    return kind == "DaemonSet" and not (set(selector) - {"kubernetes.io/os"}) and not required


def system_images(stack: str) -> dict[str, set[str]]:
    """Image -> the workloads that run it on system nodes: chart renders and declared objects."""
    system_selector = {POOL_LABEL: SYSTEM_POOL_NAME}
    objects = [(f"release {r.name}", obj) for r in render.releases(stack) for obj in render.objects(stack, r.name)]
    objects += [("declared", _manifest(r.inputs)) for r in planned(stack).resources
                if r.type.startswith("kubernetes:") and r.type != render.RELEASE_TYPE and not r.is_provider]
    found: dict[str, set[str]] = {}
    for origin, obj in objects:
        for _, _, template in render.pod_templates(obj):
            spec = template.get("spec") or {}
            if on_system_nodes(obj.get("kind", ""), spec, system_selector):
                for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
                    found.setdefault(container["image"], set()).add(f"{origin}: {obj['kind']} {obj['metadata'].get('name')}")
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_every_image_on_system_nodes_is_established_at_its_tag(stack):
    images = system_images(stack)
    assert images, "the controllers run on system nodes"
    for image, where in images.items():
        repository, tag = repository_and_tag(image)
        fact = FACTS["images"].get(repository)
        assert fact is not None, f"{image} ({', '.join(sorted(where))}) runs on system nodes: establish its platforms in system_images_arm64.json"
        assert fact["tag"] == tag, f"{repository} is recorded at {fact['tag']} but {stack} runs {tag}: re-establish its platforms"
        assert fact["source"], repository


@pytest.mark.parametrize("stack", STACKS)
def test_arm_system_nodes_run_only_images_with_an_arm64_build(stack):
    group = planned(stack).config.cluster.system_node_group
    if group.architecture != "arm64":
        pytest.skip(f"{stack} runs x86_64 system nodes")  # nothing to hold it to; the test above still records its images
    for image in system_images(stack):
        assert FACTS["images"][repository_and_tag(image)[0]]["arm64"], f"{image} has no arm64 build, and {stack}'s system nodes are Graviton"
    (node_group,) = [r for r in planned(stack).resources if r.type == "aws:eks/nodeGroup:NodeGroup"]
    assert node_group.inputs["amiType"] == SYSTEM_AMI_TYPES["arm64"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_eks_addon_is_established_at_its_version(stack):
    arm = planned(stack).config.cluster.system_node_group.architecture == "arm64"
    for addon in (r for r in planned(stack).resources if r.type == ADDON_TYPE):
        name, version = addon.inputs["addonName"], addon.inputs["addonVersion"]
        fact = FACTS["eks_addons"].get(name)
        assert fact is not None, f"add-on {name} runs on every node: establish its platforms in system_images_arm64.json"
        assert fact["versions"].get(stack) == version, f"add-on {name} is recorded at {fact['versions'].get(stack)} for {stack}, which pins {version}"
        assert fact["arm64"] or not arm, f"add-on {name} has no arm64 build, and {stack}'s system nodes are Graviton"


def test_the_repository_parser_keeps_registry_ports_and_digests_apart():
    assert repository_and_tag("localhost:5000/team/app") == ("localhost:5000/team/app", "")
    assert repository_and_tag("quay.io/jupyterhub/k8s-hub:4.4.0") == ("quay.io/jupyterhub/k8s-hub", "4.4.0")
    assert repository_and_tag("public.ecr.aws/karpenter/controller:1.8.2@sha256:ab") == ("public.ecr.aws/karpenter/controller", "1.8.2@sha256:ab")
