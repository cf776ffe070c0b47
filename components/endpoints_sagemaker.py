"""A SageMaker real-time (or serverless) endpoint: least-privilege role, model, capture, safe rollout.

The endpoint configuration captures requests and responses into the data lake's capture prefix,
encrypted with the lake key. Updates are blue/green: a canary share of capacity takes traffic
first and the whole update rolls back if the 5xx or model-latency alarm created here fires while it
bakes. Instance endpoints scale between the configured bounds on invocations per instance;
serverless endpoints cost nothing idle and scale by their maximum concurrency.
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_aws as aws

from components.config import (
    EndpointConfig,
    S3Location,
    has_instance_storage,
    model_package_group,
)
from components.facts import StackFacts
from components.iam import policy_document, source_condition, service_trust_statement, via_services
from components.lineage import model_lineage
from components.registries import MODEL_ARTIFACT_PREFIX
from components.tagging import CostTagging

COMPONENT = "endpoints"
# Blue/green updates need the new configuration to keep the variant name of the old one.
VARIANT_NAME = "primary"
SAGEMAKER_METRICS_NAMESPACE = "AWS/SageMaker"
# Namespaces SageMaker containers publish their own metrics into.
CONTAINER_METRICS_NAMESPACES = ["/aws/sagemaker/Endpoints", "AWS/SageMaker"]


def s3_object_arn(bucket_arn: str, key: str) -> str:
    return f"{bucket_arn}/{key}"


def model_read_statements(bucket_arn: str, model: S3Location) -> list[dict]:
    """Read one model artifact: the object itself, or every object under a model prefix."""
    if not model.is_prefix:
        return [{"Sid": "ReadModelArtifact", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [s3_object_arn(bucket_arn, model.key)]}]
    return [
        {"Sid": "ReadModelArtifacts", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [s3_object_arn(bucket_arn, model.key + "*")]},
        {
            "Sid": "ListModelPrefix",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [bucket_arn],
            "Condition": {"StringLike": {"s3:prefix": [model.key + "*"]}},
        },
    ]


def model_package_artifacts(package_arn: str, models_bucket_arn: str, name_prefix: str) -> S3Location:
    """Where a registered model's artifacts live: the registry prefix of its model family."""
    family = model_package_group(package_arn).removeprefix(f"{name_prefix}-")
    return S3Location(bucket=models_bucket_arn.rsplit(":", 1)[-1], key=f"{MODEL_ARTIFACT_PREFIX}{family}/")


def lake_key_statement(key_arn: str, actions: list[str], region: str, services: tuple[str, ...] = ("s3",)) -> dict:
    """The lake key, only through the services that read and write the lake for the role."""
    return {"Sid": "UseLakeKey", "Effect": "Allow", "Action": actions, "Resource": [key_arn], "Condition": via_services(*services, region=region)}


def execution_role_policy(
    *,
    endpoint: EndpointConfig,
    region: str,
    account_id: str,
    endpoint_name: str,
    models_bucket_arn: str,
    capture_bucket_arn: Optional[str],
    key_arn: str,
    repository_arn: str,
    name_prefix: str,
) -> str:
    """What the SageMaker execution role may do: its model, its image, its captures, its logs."""
    model = endpoint.model or model_package_artifacts(endpoint.model_package, models_bucket_arn, name_prefix)
    model_statements = model_read_statements(models_bucket_arn, model)
    statements = model_statements + [
        {
            "Sid": "PullServingImage",
            "Effect": "Allow",
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            "Resource": [repository_arn],
        },
        # ECR's token call has no resource-level permissions; it grants nothing by itself.
        {"Sid": "EcrAuthorizationToken", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": ["*"]},
        # SageMaker reads the model and writes captures through S3, and encrypts with the key itself.
        lake_key_statement(key_arn, ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"], region, ("s3", "sagemaker")),
        {
            "Sid": "WriteEndpointLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": [
                f"arn:aws:logs:{region}:{account_id}:log-group:/aws/sagemaker/Endpoints/{endpoint_name}",
                f"arn:aws:logs:{region}:{account_id}:log-group:/aws/sagemaker/Endpoints/{endpoint_name}:*",
            ],
        },
        # PutMetricData has no resource-level permissions; the namespace condition scopes it.
        {
            "Sid": "PublishEndpointMetrics",
            "Effect": "Allow",
            "Action": ["cloudwatch:PutMetricData"],
            "Resource": ["*"],
            "Condition": {"StringEquals": {"cloudwatch:namespace": CONTAINER_METRICS_NAMESPACES}},
        },
    ]
    if capture_bucket_arn is not None:
        statements.append({
            "Sid": "WriteCaptures",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": [s3_object_arn(capture_bucket_arn, endpoint.capture_prefix + "*")],
        })
    return policy_document(statements)


def sagemaker_trust_policy(account_id: str) -> str:
    # Only SageMaker acting for this account may use the role (confused-deputy guard).
    return policy_document([service_trust_statement("sagemaker.amazonaws.com", source_condition(account_id))])


class SageMakerEndpoint(pulumi.ComponentResource):
    """One SageMaker endpoint of the platform, built from one `endpoints` entry of the stack config."""

    def __init__(
        self,
        name: str,
        endpoint: EndpointConfig,
        facts: StackFacts,
        tagging: CostTagging,
        *,
        models_bucket_arn: pulumi.Input[str],
        capture_bucket_name: pulumi.Input[str],
        capture_bucket_arn: pulumi.Input[str],
        kms_key_arn: pulumi.Input[str],
        image_uri: pulumi.Input[str],
        repository_arn: pulumi.Input[str],
        opts: Optional[pulumi.ResourceOptions] = None,
    ):
        super().__init__("mlplatform:endpoints:SageMakerEndpoint", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = tagging.resource_tags(COMPONENT, endpoint.team)
        # The model and the endpoint say which group and version they serve (components/lineage.py).
        lineage_tags = {**tags, **model_lineage(endpoint.model_source, facts.name_prefix)}
        self.endpoint_name = f"{facts.name_prefix}-{endpoint.name}"
        captures = endpoint.capture_sampling_percent is not None
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))

        self.role = aws.iam.Role(
            f"{name}-role",
            name=f"{facts.name_prefix}-ep-{endpoint.name}",
            description=f"SageMaker execution role of endpoint {self.endpoint_name}",
            assume_role_policy=identity.account_id.apply(sagemaker_trust_policy),
            tags=tags,
            opts=child,
        )
        self.role_policy = aws.iam.RolePolicy(
            f"{name}-role",
            role=self.role.id,
            policy=pulumi.Output.all(identity.account_id, models_bucket_arn, capture_bucket_arn, kms_key_arn, repository_arn).apply(
                lambda args: execution_role_policy(
                    endpoint=endpoint,
                    region=facts.region,
                    account_id=args[0],
                    endpoint_name=self.endpoint_name,
                    models_bucket_arn=args[1],
                    capture_bucket_arn=args[2] if captures else None,
                    key_arn=args[3],
                    repository_arn=args[4],
                    name_prefix=facts.name_prefix,
                )
            ),
            opts=child,
        )

        # SageMaker checks at CreateModel that the role can read the model, so the policy comes first.
        self.model = aws.sagemaker.Model(
            f"{name}-model",
            execution_role_arn=self.role.arn,
            primary_container=_primary_container(endpoint, image_uri),
            # The serving container needs no network: SageMaker fetches the model and ships captures.
            # Serverless Inference refuses network-isolated models, so only instance endpoints get it.
            enable_network_isolation=endpoint.serverless is None,
            tags=lineage_tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.role_policy]),
        )

        alarms = endpoint.alarms

        def rollback_alarm(suffix: str, why: str, metric: str, statistic: str, threshold: float) -> aws.cloudwatch.MetricAlarm:
            return aws.cloudwatch.MetricAlarm(
                f"{name}-{suffix}",
                name=f"{self.endpoint_name}-{suffix}",
                alarm_description=f"Rolls back a deployment of {self.endpoint_name} {why}",
                namespace=SAGEMAKER_METRICS_NAMESPACE,
                metric_name=metric,
                dimensions={"EndpointName": self.endpoint_name, "VariantName": VARIANT_NAME},
                statistic=statistic,
                period=alarms.period_seconds,
                evaluation_periods=alarms.evaluation_periods,
                threshold=threshold,
                comparison_operator="GreaterThanThreshold",
                treat_missing_data="notBreaching",
                tags=tags,
                opts=child,
            )

        self.error_alarm = rollback_alarm("5xx-errors", "that answers with server errors", "Invocation5XXErrors", "Sum", alarms.max_5xx_errors)
        # ModelLatency is reported in microseconds.
        self.latency_alarm = rollback_alarm("model-latency", "whose model answers too slowly", "ModelLatency", "Average", alarms.max_model_latency_ms * 1000)

        if endpoint.serverless is not None:
            variant = aws.sagemaker.EndpointConfigurationProductionVariantArgs(
                variant_name=VARIANT_NAME,
                model_name=self.model.name,
                serverless_config=aws.sagemaker.EndpointConfigurationProductionVariantServerlessConfigArgs(
                    memory_size_in_mb=endpoint.serverless.memory_size_mb,
                    max_concurrency=endpoint.serverless.max_concurrency,
                ),
            )
        else:
            variant = aws.sagemaker.EndpointConfigurationProductionVariantArgs(
                variant_name=VARIANT_NAME,
                model_name=self.model.name,
                instance_type=endpoint.instance_type,
                initial_instance_count=endpoint.min_capacity,
                initial_variant_weight=1,
            )
        # A KMS key encrypts the instances' ML storage volumes; serverless variants have none, and
        # SageMaker refuses a key for instance types whose NVMe instance store is hardware-encrypted.
        volume_key = None
        if endpoint.instance_type is not None and not has_instance_storage(endpoint.instance_type):
            volume_key = kms_key_arn
        data_capture = None
        if captures:
            data_capture = aws.sagemaker.EndpointConfigurationDataCaptureConfigArgs(
                enable_capture=True,
                initial_sampling_percentage=endpoint.capture_sampling_percent,
                destination_s3_uri=pulumi.Output.concat("s3://", capture_bucket_name, "/", endpoint.capture_prefix),
                kms_key_id=kms_key_arn,
                capture_options=[
                    aws.sagemaker.EndpointConfigurationDataCaptureConfigCaptureOptionArgs(capture_mode="Input"),
                    aws.sagemaker.EndpointConfigurationDataCaptureConfigCaptureOptionArgs(capture_mode="Output"),
                ],
                capture_content_type_header=aws.sagemaker.EndpointConfigurationDataCaptureConfigCaptureContentTypeHeaderArgs(
                    json_content_types=["application/json"],
                    csv_content_types=["text/csv"],
                ),
            )
        # Endpoint configurations are immutable: no fixed name, so a change creates a new one
        # before the endpoint switches to it (blue/green) and the old one is deleted.
        self.endpoint_configuration = aws.sagemaker.EndpointConfiguration(
            f"{name}-config",
            production_variants=[variant],
            kms_key_arn=volume_key,
            data_capture_config=data_capture,
            tags=tags,
            opts=child,
        )

        rollout = endpoint.rollout
        # Deployment guardrails (canary shifting, alarm rollback) exist only for real-time endpoints;
        # a serverless endpoint updates in place and its alarms only page people.
        deployment = None if rollout is None else aws.sagemaker.EndpointDeploymentConfigArgs(
            blue_green_update_policy=aws.sagemaker.EndpointDeploymentConfigBlueGreenUpdatePolicyArgs(
                traffic_routing_configuration=_traffic_routing(endpoint),
                termination_wait_in_seconds=rollout.termination_wait_seconds,
                maximum_execution_timeout_in_seconds=rollout.maximum_execution_timeout_seconds,
            ),
            auto_rollback_configuration=aws.sagemaker.EndpointDeploymentConfigAutoRollbackConfigurationArgs(
                alarms=[
                    aws.sagemaker.EndpointDeploymentConfigAutoRollbackConfigurationAlarmArgs(alarm_name=self.error_alarm.name),
                    aws.sagemaker.EndpointDeploymentConfigAutoRollbackConfigurationAlarmArgs(alarm_name=self.latency_alarm.name),
                ],
            ),
        )
        self.endpoint = aws.sagemaker.Endpoint(
            f"{name}-endpoint",
            name=self.endpoint_name,
            endpoint_config_name=self.endpoint_configuration.name,
            deployment_config=deployment,
            tags=lineage_tags,
            opts=child,
        )

        self.scaling_target = None
        if endpoint.serverless is None:
            self.scaling_target = aws.appautoscaling.Target(
                f"{name}-scaling",
                service_namespace="sagemaker",
                scalable_dimension="sagemaker:variant:DesiredInstanceCount",
                resource_id=self.endpoint.name.apply(lambda endpoint_name: f"endpoint/{endpoint_name}/variant/{VARIANT_NAME}"),
                min_capacity=endpoint.min_capacity,
                max_capacity=endpoint.max_capacity,
                tags=tags,
                opts=child,
            )
            aws.appautoscaling.Policy(
                f"{name}-invocations",
                name=f"{self.endpoint_name}-invocations-per-instance",
                policy_type="TargetTrackingScaling",
                service_namespace=self.scaling_target.service_namespace,
                scalable_dimension=self.scaling_target.scalable_dimension,
                resource_id=self.scaling_target.resource_id,
                target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                    target_value=endpoint.target_invocations_per_instance,
                    predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                        predefined_metric_type="SageMakerVariantInvocationsPerInstance",
                    ),
                    # Add capacity quickly; give it back slowly so a bursty load does not flap.
                    scale_out_cooldown=60,
                    scale_in_cooldown=300,
                ),
                opts=child,
            )

        self.register_outputs({
            "endpointName": self.endpoint.name,
            "endpointArn": self.endpoint.arn,
            "executionRoleArn": self.role.arn,
            "modelName": self.model.name,
        })


def _traffic_routing(endpoint: EndpointConfig) -> aws.sagemaker.EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationArgs:
    rollout = endpoint.rollout
    if rollout.canary_percent is None:
        # One-instance fleets cannot split off a canary: move everything, keep blue for the bake.
        return aws.sagemaker.EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationArgs(
            type="ALL_AT_ONCE",
            wait_interval_in_seconds=rollout.wait_seconds,
        )
    return aws.sagemaker.EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationArgs(
        type="CANARY",
        canary_size=aws.sagemaker.EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationCanarySizeArgs(
            type="CAPACITY_PERCENT",
            value=rollout.canary_percent,
        ),
        wait_interval_in_seconds=rollout.wait_seconds,
    )


def _primary_container(endpoint: EndpointConfig, image_uri: pulumi.Input[str]) -> aws.sagemaker.ModelPrimaryContainerArgs:
    environment = dict(endpoint.environment) or None
    if endpoint.model_package is not None:
        # The package's inference specification names the image and the artifacts.
        return aws.sagemaker.ModelPrimaryContainerArgs(model_package_name=endpoint.model_package, environment=environment)
    if endpoint.model.is_prefix:
        # An uncompressed model directory: SageMaker copies every object under the prefix.
        return aws.sagemaker.ModelPrimaryContainerArgs(
            image=image_uri,
            environment=environment,
            model_data_source=aws.sagemaker.ModelPrimaryContainerModelDataSourceArgs(
                s3_data_sources=[aws.sagemaker.ModelPrimaryContainerModelDataSourceS3DataSourceArgs(
                    s3_uri=endpoint.model.uri,
                    s3_data_type="S3Prefix",
                    compression_type="None",
                )],
            ),
        )
    return aws.sagemaker.ModelPrimaryContainerArgs(image=image_uri, environment=environment, model_data_url=endpoint.model.uri)
