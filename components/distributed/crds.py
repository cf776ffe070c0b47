"""CRDs the platform declares itself, from the pinned chart, so that upgrades update them.

Helm installs a chart's `crds/` folder on first install and never touches it again: a chart
upgrade would run a new operator against old CRDs. So the releases skip their CRDs and each CRD
of the chart at the pinned version (`mlp.upstream.chart_dir`, digest-checked against
`upstream.lock.json`) is declared as a `CustomResourceDefinition` of its own, which `pulumi up`
updates with the chart. The Kubernetes provider applies them server-side, so CRDs far larger
than the 256 KiB last-applied annotation (KubeRay's RayCluster) apply as they are.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import yaml

from mlp import upstream


@functools.lru_cache(maxsize=None)
def _documents(directory: Path) -> tuple[dict, ...]:
    found = []
    for path in sorted(directory.glob("*.yaml")):
        # The C loader: KubeRay's CRDs alone are 4 MB of YAML, read on every plan.
        found += [document for document in yaml.load_all(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
                  if document and document.get("kind") == "CustomResourceDefinition"]
    return tuple(found)


def chart_crds(chart: str, version: str) -> list[dict]:
    """The CustomResourceDefinitions in the `crds/` folder of a pinned chart (fresh copies)."""
    return copy.deepcopy(list(_documents(upstream.chart_dir(chart, version) / "crds")))


def declare_crds(name: str, chart: str, version: str, labels: dict[str, str], opts: pulumi.ResourceOptions) -> list[k8s.apiextensions.v1.CustomResourceDefinition]:
    """One CustomResourceDefinition per CRD of the chart, named `<name>-<plural>`, carrying `labels`."""
    declared = []
    for document in chart_crds(chart, version):
        metadata = document["metadata"]
        declared.append(k8s.apiextensions.v1.CustomResourceDefinition(
            f"{name}-{document['spec']['names']['plural']}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=metadata["name"],
                labels={**(metadata.get("labels") or {}), **labels},
                annotations=metadata.get("annotations"),
            ),
            spec=document["spec"],
            opts=opts,
        ))
    return declared
