"""SageMaker on the bill: real-time hosting instances (scaled by their autoscaling targets) and
serverless inference."""

from __future__ import annotations

from decimal import Decimal

from mlp.cost.core import HOURS, HOURS_PER_MONTH, NUMBER, ZERO, CostComponent, PricingContext, pricer, to_decimal
from mlp.state import StateResource


def _variant_scaling(ctx: PricingContext, config: StateResource, variant: str) -> StateResource | None:
    config_name = config.inputs.get("name") or config.outputs.get("name")
    endpoints = [endpoint for endpoint, name in ctx.endpoint_config_of_endpoint.items() if name == config_name]
    for endpoint in endpoints:
        target = ctx.scaling_targets.get(f"endpoint/{endpoint}/variant/{variant}")
        if target is not None:
            return target
    by_variant = [t for rid, t in ctx.scaling_targets.items() if rid.endswith(f"/variant/{variant}")]
    return by_variant[0] if len(by_variant) == 1 else None


@pricer("aws:sagemaker/endpointConfiguration:EndpointConfiguration", instances=NUMBER, monthly_hrs=HOURS,
        monthly_requests=NUMBER, request_duration_ms=NUMBER, monthly_data_processed_gb=NUMBER)
def _endpoint_configuration(resource, usage, ctx):
    components = []
    hours = ctx.hours(usage)
    price = ctx.catalogue.price
    for variant in resource.inputs.get("productionVariants") or []:
        name = str(variant.get("variantName") or "variant")
        serverless = variant.get("serverlessConfig")
        if serverless:
            memory_gb = to_decimal(serverless.get("memorySizeInMb"), Decimal(1024)) / 1024
            seconds = to_decimal(usage.get("monthly_requests")) * to_decimal(usage.get("request_duration_ms")) / 1000
            busy_seconds = to_decimal(serverless.get("maxConcurrency"), Decimal(1)) * HOURS_PER_MONTH * 3600
            components.append(CostComponent(f"{name}: serverless inference ({memory_gb.normalize()} GB)", "GB-seconds", price("sagemaker", "serverlessGbSecond"),
                                            seconds * memory_gb, ZERO, busy_seconds * memory_gb, usage_based=True))
            components.append(CostComponent(f"{name}: data processed", "GB", price("sagemaker", "serverlessDataGb"), to_decimal(usage.get("monthly_data_processed_gb")), usage_based=True))
            continue
        instance_type = str(variant.get("instanceType") or "")
        count = to_decimal(usage.get("instances"), to_decimal(variant.get("initialInstanceCount"), Decimal(1)))
        target = _variant_scaling(ctx, resource, name)
        minimum = to_decimal(target.inputs.get("minCapacity"), count) if target else count
        maximum = max(to_decimal(target.inputs.get("maxCapacity"), count), count) if target else count
        components.append(CostComponent(f"{name}: hosting ({instance_type or 'no instance type'})", "hours", price("sagemaker", "hostingInstances", instance_type) if instance_type else None,
                                        count * hours, minimum * hours, maximum * HOURS_PER_MONTH))
    return components
