"""Lineage: every endpoint names the model package group and version it serves."""

from __future__ import annotations

import pytest

from components.config import S3Location
from components.lineage import ANNOTATIONS, GROUP_TAG, SOURCE_TAG, UNVERSIONED, VERSION_TAG, model_lineage
from tests.conftest import planned


@pytest.mark.parametrize("source, group, version", [
    ("arn:aws:sagemaker:us-west-2:123456789012:model-package/p-demand/12", "p-demand", "12"),
    (S3Location("b", "registry/demand/v3/model.tar.gz"), "p-demand", "v3"),
    (S3Location("b", "registry/vision/v7/"), "p-vision", "v7"),
    (S3Location("b", "registry/vision/latest/model.tar.gz"), "p-vision", UNVERSIONED),
    (S3Location("b", "scratch/model.tar.gz"), UNVERSIONED, UNVERSIONED),
])
def test_group_and_version_of_a_served_model(source, group, version):
    lineage = model_lineage(source, "p")
    assert (lineage[GROUP_TAG], lineage[VERSION_TAG]) == (group, version)
    assert lineage[SOURCE_TAG] == (source if isinstance(source, str) else source.uri)


def test_every_endpoint_carries_its_lineage(stack):
    plan = planned(stack)
    config = plan.config
    for endpoint in config.endpoints:
        expected = model_lineage(endpoint.model_source, config.name_prefix)
        assert expected[VERSION_TAG] != UNVERSIONED  # every stack's endpoints serve a versioned model
        if endpoint.backend == "sagemaker":
            (resource,) = [r for r in plan.run.by_type("aws:sagemaker/endpoint:Endpoint")
                           if r.inputs["name"] == f"{config.name_prefix}-{endpoint.name}"]
            assert {key: resource.inputs["tags"][key] for key in expected} == expected
        else:
            (deployment,) = [d for d in plan.run.by_type("kubernetes:apps/v1:Deployment") if d.inputs["metadata"]["name"] == endpoint.name]
            annotations = deployment.inputs["metadata"]["annotations"]
            assert {key: annotations[ANNOTATIONS[key]] for key in expected} == expected
