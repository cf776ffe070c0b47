"""SageMaker on the bill: real-time hosting instances (scaled by their autoscaling targets) and the
data they process in and out; serverless inference by GB-second of compute (requests x duration
x memory: AWS bills no fee per request), data in and out, and provisioned concurrency; and
managed MLflow tracking servers by size."""

from __future__ import annotations

from decimal import Decimal

from mlp.cost.context import PricingContext
from mlp.cost.core import HOURS, HOURS_PER_MONTH, NUMBER, ZERO, CostComponent, pricer, to_decimal
from mlp.state import StateResource

# CreateMlflowTrackingServer: "The default MLflow Tracking Server configuration size is Small".
MLFLOW_DEFAULT_SIZE = "Small"


def _variant_scaling(ctx: PricingContext, config: StateResource, variant: str) -> StateResource | None:
    config_name = config.inputs.get("name") or config.outputs.get("name")
    endpoints = [endpoint for endpoint, name in ctx.endpoint_config_of_endpoint.items() if name == config_name]
    for endpoint in endpoints:
        target = ctx.scaling_targets.get(f"endpoint/{endpoint}/variant/{variant}")
        if target is not None:
            return target
    by_variant = [t for rid, t in ctx.scaling_targets.items() if rid.endswith(f"/variant/{variant}")]
    return by_variant[0] if len(by_variant) == 1 else None


def _serverless(ctx: PricingContext, name: str, serverless: dict, usage: dict) -> list[CostComponent]:
    memory_gb = to_decimal(serverless.get("memorySizeInMb"), Decimal(1024)) / 1024
    seconds = to_decimal(usage.get("monthly_requests")) * to_decimal(usage.get("request_duration_ms")) / 1000
    busy_seconds = to_decimal(serverless.get("maxConcurrency"), Decimal(1)) * HOURS_PER_MONTH * 3600
    components = [CostComponent(f"{name}: serverless inference compute ({memory_gb.normalize():f} GB x requests x duration)", "GB-seconds",
                                ctx.price("sagemaker", "serverlessGbSecond"), seconds * memory_gb, ZERO, busy_seconds * memory_gb, "monthly_requests")]
    provisioned = to_decimal(serverless.get("provisionedConcurrency"))
    if provisioned:
        components.append(CostComponent(f"{name}: provisioned concurrency ({provisioned.normalize():f} x {memory_gb.normalize():f} GB)", "GB-seconds",
                                        ctx.price("sagemaker", "serverlessProvisionedGbSecond"), provisioned * memory_gb * HOURS_PER_MONTH * 3600))
    return components


@pricer("aws:sagemaker/endpointConfiguration:EndpointConfiguration", instances=NUMBER, monthly_hrs=HOURS,
        monthly_requests=NUMBER, request_duration_ms=NUMBER, monthly_data_processed_gb=NUMBER, monthly_data_in_gb=NUMBER, monthly_data_out_gb=NUMBER)
def _endpoint_configuration(resource, usage, ctx):
    """Data processed is per endpoint, not per variant: `monthly_data_in_gb` (or, as before,
    `monthly_data_processed_gb`) and `monthly_data_out_gb`."""
    components = []
    hours = ctx.hours(usage)
    variants = [v for v in resource.inputs.get("productionVariants") or [] if isinstance(v, dict)]
    for variant in variants:
        name = str(variant.get("variantName") or "variant")
        if variant.get("serverlessConfig"):
            components.extend(_serverless(ctx, name, variant["serverlessConfig"], usage))
            continue
        instance_type = str(variant.get("instanceType") or "")
        count = to_decimal(usage.get("instances"), to_decimal(variant.get("initialInstanceCount"), Decimal(1)))
        target = _variant_scaling(ctx, resource, name)
        minimum = to_decimal(target.inputs.get("minCapacity"), count) if target else count
        maximum = max(to_decimal(target.inputs.get("maxCapacity"), count), count) if target else count
        components.append(CostComponent(f"{name}: hosting ({instance_type or 'no instance type'})", "hours",
                                        ctx.price("sagemaker", "hostingInstances", instance_type) if instance_type else None,
                                        count * hours, minimum * hours, maximum * HOURS_PER_MONTH, "instances" if "instances" in usage else None))
    serverless = bool(variants) and all(v.get("serverlessConfig") for v in variants)
    in_key = "monthly_data_in_gb" if "monthly_data_in_gb" in usage else "monthly_data_processed_gb"
    in_price = ctx.price("sagemaker", "serverlessDataGb") if serverless else ctx.price("sagemaker", "hostingDataInGb")
    out_price = ctx.price("sagemaker", "serverlessDataOutGb" if serverless else "hostingDataOutGb")
    if variants:
        components.append(CostComponent("Data processed in", "GB", in_price, to_decimal(usage.get(in_key)), usage_key=in_key))
        components.append(CostComponent("Data processed out", "GB", out_price, to_decimal(usage.get("monthly_data_out_gb")), usage_key="monthly_data_out_gb"))
    return components


@pricer("aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer", monthly_hrs=HOURS)
def _mlflow_tracking_server(resource, usage, ctx):
    """A managed MLflow tracking server bills by the hour for its size whether used or not; its
    artifacts live in an S3 bucket priced there."""
    size = str(resource.inputs.get("trackingServerSize") or MLFLOW_DEFAULT_SIZE)
    return [CostComponent(f"MLflow tracking server ({size})", "hours", ctx.price("sagemaker", "mlflowTrackingServerHour", size), ctx.hours(usage))]
