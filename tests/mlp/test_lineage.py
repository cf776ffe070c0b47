"""`mlp plan` shows which model version each endpoint serves."""

from __future__ import annotations

from mlp.lineage import served_models
from mlp.state import StateResource
from tests.conftest import planned, run_mlp


def test_served_models_are_read_from_tags_and_annotations():
    resources = [
        StateResource(urn="urn:a", type="aws:sagemaker/endpoint:Endpoint", custom=True,
                      inputs={"name": "p-demand", "tags": {"ModelPackageGroup": "p-demand", "ModelVersion": "12", "ModelSource": "arn:x"}}),
        StateResource(urn="urn:b", type="kubernetes:apps/v1:Deployment", custom=True,
                      inputs={"metadata": {"name": "recs", "namespace": "team", "annotations": {
                          "mlplatform.io/model-package-group": "p-recs", "mlplatform.io/model-version": "v21", "mlplatform.io/model-source": "s3://b/k/"}}}),
        StateResource(urn="urn:c", type="kubernetes:apps/v1:Deployment", custom=True, inputs={"metadata": {"name": "hub", "namespace": "notebooks"}}),
    ]
    assert [(m.endpoint, m.backend, m.group, m.version) for m in served_models(resources)] == [
        ("p-demand", "sagemaker", "p-demand", "12"), ("team/recs", "kubernetes", "p-recs", "v21")]


def test_every_endpoint_of_a_stack_is_listed(stack):
    plan = planned(stack)
    served = {m.endpoint for m in served_models(plan.resources)}
    for endpoint in plan.config.endpoints:
        name = f"{plan.config.name_prefix}-{endpoint.name}" if endpoint.backend == "sagemaker" else f"{endpoint.team}/{endpoint.name}"
        assert name in served


def test_mlp_plan_prints_the_table():
    done = run_mlp("plan", "staging")
    assert done.returncode == 0, done.stderr
    assert "Models served by stack staging" in done.stdout
    assert "mlplatform-staging-demand-forecast" in done.stdout and "v8" in done.stdout  # the canary's model version
