"""SageMaker endpoints per stack: blue/green canary with alarm rollback, autoscaling bounds from
config, request capture into the lake under the endpoint's prefix (encrypted), and an execution
role that can reach nothing outside its model, image, capture prefix, key, logs and metrics."""

from __future__ import annotations

import json

import pytest

from components.config import has_instance_storage
from components.endpoints_sagemaker import VARIANT_NAME
from tests.conftest import STACKS, planned


def _sagemaker_endpoints(stack):
    return [e for e in planned(stack).config.endpoints if e.backend == "sagemaker"]


def _resource(stack, type_token, name):
    return planned(stack).run.find(type_token, f"mlplatform-endpoints-{name}")


def _endpoint_cases():
    return [(stack, endpoint.name) for stack in STACKS for endpoint in _sagemaker_endpoints(stack)]


def _endpoint_config(stack, name):
    return next(e for e in planned(stack).config.endpoints if e.name == name)


def test_every_stack_declares_a_sagemaker_endpoint_from_config(stack):
    plan = planned(stack)
    declared = {r.inputs["name"] for r in plan.run.by_type("aws:sagemaker/endpoint:Endpoint")}
    assert declared == {f"{plan.config.name_prefix}-{e.name}" for e in _sagemaker_endpoints(stack)}
    assert declared


@pytest.mark.parametrize("stack,name", _endpoint_cases())
def test_canary_rollout_and_rollback_alarms_are_wired(stack, name):
    endpoint = _endpoint_config(stack, name)
    deployed = _resource(stack, "aws:sagemaker/endpoint:Endpoint", f"{name}-endpoint").inputs
    if endpoint.serverless is not None:
        # SageMaker's deployment guardrails exist only for real-time endpoints.
        assert endpoint.rollout is None and "deploymentConfig" not in deployed
        return
    policy = deployed["deploymentConfig"]["blueGreenUpdatePolicy"]
    routing = policy["trafficRoutingConfiguration"]
    if endpoint.rollout.canary_percent is not None:
        assert routing["type"] == "CANARY"
        assert routing["canarySize"] == {"type": "CAPACITY_PERCENT", "value": endpoint.rollout.canary_percent}
    else:
        assert routing["type"] == "ALL_AT_ONCE" and "canarySize" not in routing
    assert routing["waitIntervalInSeconds"] == endpoint.rollout.wait_seconds
    assert policy["terminationWaitInSeconds"] == endpoint.rollout.termination_wait_seconds
    assert policy["maximumExecutionTimeoutInSeconds"] == endpoint.rollout.maximum_execution_timeout_seconds

    errors = _resource(stack, "aws:cloudwatch/metricAlarm:MetricAlarm", f"{name}-5xx-errors").inputs
    latency = _resource(stack, "aws:cloudwatch/metricAlarm:MetricAlarm", f"{name}-model-latency").inputs
    rollback = {alarm["alarmName"] for alarm in deployed["deploymentConfig"]["autoRollbackConfiguration"]["alarms"]}
    assert rollback == {errors["name"], latency["name"]}
    dimensions = {"EndpointName": deployed["name"], "VariantName": VARIANT_NAME}
    assert errors["metricName"] == "Invocation5XXErrors" and errors["dimensions"] == dimensions
    assert errors["threshold"] == endpoint.alarms.max_5xx_errors
    assert latency["metricName"] == "ModelLatency" and latency["dimensions"] == dimensions
    # CloudWatch reports ModelLatency in microseconds.
    assert latency["threshold"] == endpoint.alarms.max_model_latency_ms * 1000
    for alarm in (errors, latency):
        assert alarm["namespace"] == "AWS/SageMaker"
        assert alarm["comparisonOperator"] == "GreaterThanThreshold"
        assert alarm["evaluationPeriods"] == endpoint.alarms.evaluation_periods
        # Endpoint metrics arrive once a minute; shorter periods would leave the alarm without data.
        assert alarm["period"] == endpoint.alarms.period_seconds and alarm["period"] % 60 == 0


@pytest.mark.parametrize("stack,name", _endpoint_cases())
def test_endpoint_uses_its_own_configuration_and_model(stack, name):
    deployed = _resource(stack, "aws:sagemaker/endpoint:Endpoint", f"{name}-endpoint")
    configuration = _resource(stack, "aws:sagemaker/endpointConfiguration:EndpointConfiguration", f"{name}-config")
    model = _resource(stack, "aws:sagemaker/model:Model", f"{name}-model")
    role = _resource(stack, "aws:iam/role:Role", f"{name}-role")
    assert deployed.inputs["endpointConfigName"] == configuration.outputs["name"]
    (variant,) = configuration.inputs["productionVariants"]
    assert variant["variantName"] == VARIANT_NAME and variant["modelName"] == model.outputs["name"]
    assert model.inputs["executionRoleArn"] == role.outputs["arn"]
    # Serverless Inference does not support network isolation; instance endpoints always use it.
    assert model.inputs["enableNetworkIsolation"] is (_endpoint_config(stack, name).serverless is None)


@pytest.mark.parametrize("stack,name", _endpoint_cases())
def test_autoscaling_bounds_equal_config(stack, name):
    endpoint = _endpoint_config(stack, name)
    run = planned(stack).run
    targets = [t for t in run.by_type("aws:appautoscaling/target:Target") if t.name == f"mlplatform-endpoints-{name}-scaling"]
    if endpoint.serverless is not None:
        # Serverless variants scale by concurrency; an instance-count target would be rejected.
        assert targets == []
        (variant,) = _resource(stack, "aws:sagemaker/endpointConfiguration:EndpointConfiguration", f"{name}-config").inputs["productionVariants"]
        assert variant["serverlessConfig"] == {"memorySizeInMb": endpoint.serverless.memory_size_mb, "maxConcurrency": endpoint.serverless.max_concurrency}
        assert "instanceType" not in variant
        return
    (target,) = targets
    endpoint_name = f"{planned(stack).config.name_prefix}-{name}"
    assert target.inputs["serviceNamespace"] == "sagemaker"
    assert target.inputs["scalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert target.inputs["resourceId"] == f"endpoint/{endpoint_name}/variant/{VARIANT_NAME}"
    assert (target.inputs["minCapacity"], target.inputs["maxCapacity"]) == (endpoint.min_capacity, endpoint.max_capacity)
    policy = _resource(stack, "aws:appautoscaling/policy:Policy", f"{name}-invocations").inputs
    assert policy["policyType"] == "TargetTrackingScaling"
    assert policy["resourceId"] == target.inputs["resourceId"]
    tracking = policy["targetTrackingScalingPolicyConfiguration"]
    assert tracking["predefinedMetricSpecification"]["predefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"
    assert tracking["targetValue"] == endpoint.target_invocations_per_instance
    (variant,) = _resource(stack, "aws:sagemaker/endpointConfiguration:EndpointConfiguration", f"{name}-config").inputs["productionVariants"]
    assert variant["instanceType"] == endpoint.instance_type
    assert variant["initialInstanceCount"] == endpoint.min_capacity


@pytest.mark.parametrize("stack,name", _endpoint_cases())
def test_capture_lands_in_the_lake_under_the_endpoint_prefix_encrypted(stack, name):
    plan = planned(stack)
    endpoint = _endpoint_config(stack, name)
    configuration = _resource(stack, "aws:sagemaker/endpointConfiguration:EndpointConfiguration", f"{name}-config").inputs
    (lake_key,) = [k for k in plan.run.by_type("aws:kms/key:Key") if "datalake" in k.urn]
    if endpoint.serverless is not None:
        # AWS does not capture data on serverless variants.
        assert "dataCaptureConfig" not in configuration
        return
    capture = configuration["dataCaptureConfig"]
    # Under the owning team's prefix, which no other team's data role may read.
    assert capture["destinationS3Uri"] == f"s3://{plan.config.datalake.bucket_name('artifacts')}/captures/{endpoint.team}/{name}/"
    assert capture["kmsKeyId"] == lake_key.outputs["arn"]
    assert capture["enableCapture"] is True
    assert capture["initialSamplingPercentage"] == endpoint.capture_sampling_percent
    assert sorted(option["captureMode"] for option in capture["captureOptions"]) == ["Input", "Output"]
    # Instance types with NVMe instance storage are hardware-encrypted and refuse a KMS key.
    if has_instance_storage(endpoint.instance_type):
        assert "kmsKeyArn" not in configuration
    else:
        assert configuration["kmsKeyArn"] == lake_key.outputs["arn"]


def _role_policy(stack, name):
    role = _resource(stack, "aws:iam/role:Role", f"{name}-role")
    (policy,) = [p for p in planned(stack).run.by_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.id]
    return role, json.loads(policy.inputs["policy"])["Statement"]


@pytest.mark.parametrize("stack,name", _endpoint_cases())
def test_execution_role_grants_nothing_outside_its_prefixes(stack, name):
    plan = planned(stack)
    endpoint = _endpoint_config(stack, name)
    lake = plan.config.datalake
    role, statements = _role_policy(stack, name)
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}

    models = f"arn:aws:s3:::{lake.bucket_name('models')}"
    if endpoint.model is not None:
        model_key = endpoint.model.key
    else:
        model_key = f"registry/{endpoint.model_package.rsplit('/', 2)[1].removeprefix(plan.config.name_prefix + '-')}/"
    allowed_objects = {f"{models}/{model_key}" + ("*" if model_key.endswith("/") else "")}
    if endpoint.capture_sampling_percent is not None:
        allowed_objects.add(f"arn:aws:s3:::{lake.bucket_name('artifacts')}/captures/{endpoint.team}/{name}/*")

    (lake_key,) = [k.outputs["arn"] for k in plan.run.by_type("aws:kms/key:Key") if "datalake" in k.urn]
    (repository,) = [r.outputs["arn"] for r in plan.run.by_type("aws:ecr/repository:Repository") if r.inputs["name"].endswith(f"/{endpoint.image.repository}")]
    s3_objects, wildcard_actions = set(), set()
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in statement["Action"]), statement
        for action in statement["Action"]:
            service = action.split(":")[0]
            if statement["Resource"] == ["*"]:
                wildcard_actions.add(action)
            elif service == "s3" and action != "s3:ListBucket":
                s3_objects.update(statement["Resource"])
            elif action == "s3:ListBucket":
                assert statement["Resource"] == [models] and statement["Condition"]["StringLike"]["s3:prefix"] == [model_key + "*"]
            elif service == "kms":
                assert statement["Resource"] == [lake_key]
                # Only through S3 (model, captures) and SageMaker itself, never directly.
                region = plan.config.region
                assert statement["Condition"] == {"StringEquals": {"kms:ViaService": [f"s3.{region}.amazonaws.com", f"sagemaker.{region}.amazonaws.com"]}}
            elif service == "ecr":
                assert statement["Resource"] == [repository]
            elif service == "logs":
                assert all(f"log-group:/aws/sagemaker/Endpoints/{plan.config.name_prefix}-{name}" in r for r in statement["Resource"])
            else:
                pytest.fail(f"unexpected action {action}")
    assert s3_objects == allowed_objects
    # Only calls that have no resource-level permissions may use "*" (and metrics are namespace-bound).
    assert wildcard_actions == {"ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"}
    metrics = next(s for s in statements if s["Action"] == ["cloudwatch:PutMetricData"])
    assert "cloudwatch:namespace" in metrics["Condition"]["StringEquals"]
    capture_writes = [s for s in statements if "s3:PutObject" in s["Action"]]
    assert len(capture_writes) == (endpoint.capture_sampling_percent is not None)


def test_model_is_read_from_the_lake_or_a_registered_package():
    prod = planned("prod")
    models = {r.name: r.inputs["primaryContainer"] for r in prod.run.by_type("aws:sagemaker/model:Model")}
    package = models["mlplatform-endpoints-demand-forecast-model"]
    assert package["modelPackageName"].endswith(":model-package/mlplatform-prod-demand-forecast/12")
    assert "image" not in package
    artifact = models["mlplatform-endpoints-defect-detection-model"]
    assert artifact["modelDataUrl"] == "s3://acme-mlplatform-prod-models/registry/defect-detection/v7/model.tar.gz"
    assert artifact["image"] == "123456789012.dkr.ecr.us-west-2.amazonaws.com/mlplatform-prod/serving:2025.11.0-gpu-6708e00"


def test_prod_runs_real_time_instances_with_a_higher_floor_than_staging():
    prod = [e for e in _sagemaker_endpoints("prod")]
    assert prod and all(e.serverless is None and e.min_capacity >= 2 for e in prod)
    assert all(e.rollout.canary_percent is not None and e.rollout.canary_percent <= 10 for e in prod)
    (dev,) = _sagemaker_endpoints("dev")
    assert dev.serverless is not None  # dev costs nothing while idle


def test_staging_single_instance_rolls_out_all_at_once_with_a_watched_bake():
    (endpoint,) = _sagemaker_endpoints("staging")
    assert endpoint.min_capacity == 1 and endpoint.rollout.canary_percent is None
    deployed = _resource("staging", "aws:sagemaker/endpoint:Endpoint", f"{endpoint.name}-endpoint").inputs
    policy = deployed["deploymentConfig"]["blueGreenUpdatePolicy"]
    assert policy["trafficRoutingConfiguration"]["type"] == "ALL_AT_ONCE"
    assert policy["terminationWaitInSeconds"] > 0
    assert len(deployed["deploymentConfig"]["autoRollbackConfiguration"]["alarms"]) == 2
