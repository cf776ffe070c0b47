"""Lineage in one place: which model package group and version an endpoint serves.

Every endpoint carries it where anyone can search for it: SageMaker endpoints and models as tags
(`ModelPackageGroup`, `ModelVersion`, `ModelSource`, findable with the Resource Groups Tagging API),
model servers on the cluster as annotations of their Deployments (`mlplatform.io/model-*`). The
version is the package version of a model package ARN, or the `v<N>` directory of the artifact's
registry path (`registry/<family>/v<N>/...`, components/registries.py). From the group and
version, the MLflow run that produced it is one step away: with automatic model registration the
registered model of the same name holds the run of every version (docs/experiments.md); the
other way, a run's registered versions name their group, and the tags name its endpoints.
`mlp plan` shows the table of it (mlp/lineage.py).
"""

from __future__ import annotations

import re
from typing import Union

from components.config import S3Location, model_package_group
from components.registries import MODEL_ARTIFACT_PREFIX

GROUP_TAG = "ModelPackageGroup"
VERSION_TAG = "ModelVersion"
SOURCE_TAG = "ModelSource"
ANNOTATION_PREFIX = "mlplatform.io/"
ANNOTATIONS = {GROUP_TAG: f"{ANNOTATION_PREFIX}model-package-group", VERSION_TAG: f"{ANNOTATION_PREFIX}model-version",
               SOURCE_TAG: f"{ANNOTATION_PREFIX}model-source"}
UNVERSIONED = "unversioned"
_VERSION_DIRECTORY = re.compile(r"v\d+")


def model_lineage(source: Union[S3Location, str], name_prefix: str) -> dict[str, str]:
    """GROUP_TAG, VERSION_TAG and SOURCE_TAG of a served model (a package ARN or a models-zone URI)."""
    if isinstance(source, str):
        return {GROUP_TAG: model_package_group(source), VERSION_TAG: source.rsplit("/", 1)[1], SOURCE_TAG: source}
    parts = source.key.split("/")
    if source.key.startswith(MODEL_ARTIFACT_PREFIX) and len(parts) > 2 and parts[1]:
        version = parts[2] if _VERSION_DIRECTORY.fullmatch(parts[2]) else UNVERSIONED
        return {GROUP_TAG: f"{name_prefix}-{parts[1]}", VERSION_TAG: version, SOURCE_TAG: source.uri}
    return {GROUP_TAG: UNVERSIONED, VERSION_TAG: UNVERSIONED, SOURCE_TAG: source.uri}


def lineage_annotations(source: Union[S3Location, str], name_prefix: str) -> dict[str, str]:
    return {ANNOTATIONS[key]: value for key, value in model_lineage(source, name_prefix).items()}
