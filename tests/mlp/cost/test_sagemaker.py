"""SageMaker figures computed by hand from the catalogue: hosted and serverless endpoints."""

from __future__ import annotations

from decimal import Decimal
from tests.mlp.cost.documents import cost_of, export, priced, resource, usd


def test_sagemaker_endpoint_instances_and_autoscaling_ceiling():
    config = resource("aws:sagemaker/endpointConfiguration:EndpointConfiguration", "churn-config", {
        "name": "churn-config", "productionVariants": [{"variantName": "primary", "instanceType": "ml.m5.large", "initialInstanceCount": 2}]})
    endpoint = resource("aws:sagemaker/endpoint:Endpoint", "churn", {"name": "churn", "endpointConfigName": "churn-config"})
    target = resource("aws:appautoscaling/target:Target", "churn-scaling", {
        "resourceId": "endpoint/churn/variant/primary", "minCapacity": 1, "maxCapacity": 4, "scalableDimension": "sagemaker:variant:DesiredInstanceCount"})
    result = priced(export(config, endpoint, target))
    assert [c.resource.name for c in result.costs] == ["churn-config"]  # endpoint and target: priced on the config
    cost = result.costs[0]
    assert cost.monthly_cost == 2 * usd("0.115") * 730
    assert cost.baseline_cost == 1 * usd("0.115") * 730
    assert cost.ceiling_cost == 4 * usd("0.115") * 730


def test_sagemaker_serverless_priced_from_invocations(tmp_path):
    config = resource("aws:sagemaker/endpointConfiguration:EndpointConfiguration", "serverless", {
        "productionVariants": [{"variantName": "primary", "serverlessConfig": {"memorySizeInMb": 2048, "maxConcurrency": 5}}]})
    usage = {"resource_usage": {"serverless": {"monthly_requests": 1_000_000, "request_duration_ms": 100, "monthly_data_processed_gb": 10}}}
    cost = cost_of(export(config), "serverless", usage, tmp_path)
    assert cost.monthly_cost == 1_000_000 * Decimal("0.1") * 2 * usd("0.00002") + 10 * usd("0.016")
    assert cost.ceiling_cost == 5 * 730 * 3600 * 2 * usd("0.00002") + 10 * usd("0.016")

