"""Which model version each endpoint serves, read from a stack's resources (a plan or a real
export): the lineage tags of SageMaker endpoints and the lineage annotations of model-server
Deployments (components/lineage.py). `mlp plan` prints it."""

from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table

from components.lineage import ANNOTATIONS, GROUP_TAG, SOURCE_TAG, VERSION_TAG
from mlp.state import StateResource

SAGEMAKER_ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
UNKNOWN = "-"


@dataclass(frozen=True)
class ServedModel:
    endpoint: str
    backend: str
    group: str
    version: str
    source: str


def served_models(resources: list[StateResource]) -> list[ServedModel]:
    served = []
    for resource in resources:
        if resource.type == SAGEMAKER_ENDPOINT:
            tags = {**(resource.outputs.get("tags") or {}), **(resource.inputs.get("tags") or {})}
            if GROUP_TAG not in tags:
                continue
            name = resource.inputs.get("name") or resource.outputs.get("name") or resource.name
            served.append(ServedModel(str(name), "sagemaker", tags[GROUP_TAG], tags.get(VERSION_TAG, UNKNOWN), tags.get(SOURCE_TAG, UNKNOWN)))
        elif resource.type == DEPLOYMENT:
            metadata = resource.inputs.get("metadata") or resource.outputs.get("metadata") or {}
            annotations = metadata.get("annotations") or {}
            if ANNOTATIONS[GROUP_TAG] not in annotations:
                continue
            name = f"{metadata.get('namespace', UNKNOWN)}/{metadata.get('name', resource.name)}"
            served.append(ServedModel(name, "kubernetes", annotations[ANNOTATIONS[GROUP_TAG]], annotations.get(ANNOTATIONS[VERSION_TAG], UNKNOWN),
                                      annotations.get(ANNOTATIONS[SOURCE_TAG], UNKNOWN)))
    return sorted(served, key=lambda s: (s.endpoint, s.backend))


def served_models_table(stack: str, resources: list[StateResource]) -> Table:
    table = Table(title=f"Models served by stack {stack} (model package group, version; lineage: docs/experiments.md)", title_justify="left")
    for column in ("endpoint", "backend", "model package group", "version", "source"):
        table.add_column(column, overflow="fold")
    for model in served_models(resources):
        table.add_row(model.endpoint, model.backend, model.group, model.version, model.source)
    return table
