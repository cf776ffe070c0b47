"""SageMaker figures computed by hand from the catalogue: hosted endpoints and the data they
process, serverless inference, and MLflow tracking servers."""

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
    assert cost.floor_cost == 1 * usd("0.115") * 730
    assert cost.ceiling_cost == 4 * usd("0.115") * 730


def test_instance_backed_endpoints_pay_for_the_data_they_process_in_and_out(tmp_path):
    config = resource("aws:sagemaker/endpointConfiguration:EndpointConfiguration", "config", {
        "productionVariants": [{"variantName": "primary", "instanceType": "ml.m5.large", "initialInstanceCount": 1}]})
    usage = {"resource_usage": {"config": {"monthly_data_in_gb": 300, "monthly_data_out_gb": 100}}}
    cost = cost_of(export(config), "config", usage, tmp_path)
    data_in, data_out = cost.components[-2:]
    assert (data_in.monthly_cost, data_out.monthly_cost) == (300 * usd("0.016"), 100 * usd("0.016"))
    assert (data_in.usage_key, data_out.usage_key) == ("monthly_data_in_gb", "monthly_data_out_gb")
    assert cost.usage_cost == 400 * usd("0.016") and cost.fixed_cost == usd("0.115") * 730
    legacy = cost_of(export(config), "config", {"resource_usage": {"config": {"monthly_data_processed_gb": 200}}}, tmp_path)
    assert legacy.components[-2].monthly_cost == 200 * usd("0.016")  # the earlier key still means data in


def test_sagemaker_serverless_priced_by_gb_second_of_requests_and_data(tmp_path):
    config = resource("aws:sagemaker/endpointConfiguration:EndpointConfiguration", "serverless", {
        "productionVariants": [{"variantName": "primary", "serverlessConfig": {"memorySizeInMb": 2048, "maxConcurrency": 5}}]})
    usage = {"resource_usage": {"serverless": {"monthly_requests": 1_000_000, "request_duration_ms": 100, "monthly_data_processed_gb": 10,
                                               "monthly_data_out_gb": 5}}}
    cost = cost_of(export(config), "serverless", usage, tmp_path)
    compute = 1_000_000 * Decimal("0.1") * 2 * usd("0.00002")  # requests x seconds x GB: $4.00, no fee per request
    assert cost.monthly_cost == compute + 10 * usd("0.016") + 5 * usd("0.016")
    assert cost.ceiling_cost == 5 * 730 * 3600 * 2 * usd("0.00002") + 15 * usd("0.016")


def test_provisioned_concurrency_without_a_catalogue_price_is_not_priced(tmp_path):
    config = resource("aws:sagemaker/endpointConfiguration:EndpointConfiguration", "warm", {
        "productionVariants": [{"variantName": "primary", "serverlessConfig": {"memorySizeInMb": 1024, "maxConcurrency": 5, "provisionedConcurrency": 2}}]})
    cost = cost_of(export(config), "warm")
    assert cost.price_not_found
    assert [c.name for c in cost.components if c.price is None] == ["primary: provisioned concurrency (2 x 1 GB)"]


def test_mlflow_tracking_servers_by_size(tmp_path):
    document = export(resource("aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer", "tracking", {"trackingServerName": "t", "artifactStoreUri": "s3://b/p"}),
                      resource("aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer", "big", {"trackingServerSize": "Large"}))
    costs = {c.resource.name: c for c in priced(document).costs}
    assert costs["tracking"].components[0].name == "MLflow tracking server (Small)"  # the API's default size
    assert costs["tracking"].monthly_cost == 730 * usd("0.642")
    assert costs["big"].monthly_cost == 730 * usd("2.52")
    part_time = cost_of(document, "tracking", {"resource_usage": {"tracking": {"monthly_hrs": 200}}}, tmp_path)
    assert part_time.monthly_cost == 200 * usd("0.642")
