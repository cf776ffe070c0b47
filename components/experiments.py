"""Experiment tracking: a SageMaker managed MLflow tracking server with its artifacts in the lake.

- The artifact store is a prefix of the lake's artifacts zone (`s3://<artifacts>/mlflow/`), so run
  artifacts are encrypted with the lake key (the bucket's default encryption), versioned, logged
  and expired like every lake object.
- The server runs as its own execution role, allowed exactly that prefix (through the lake key
  only via S3) and the stack's model package groups: with automatic model registration, a model
  registered in MLflow becomes a version, pending approval, of the group of the same name (AWS
  names the group `<registered model name>-<6 hex characters>` when a group of that name exists
  elsewhere; both spellings are allowed, nothing else). Approval stays with the approver role
  (components/registries.py).
- Teams log runs through their data roles, which notebook pods and team workloads already use:
  the MLflow API (`sagemaker-mlflow:` actions) on this server only, plus writing run artifacts under their own
  `mlflow/<team>/` prefix (the MLflow client uploads artifacts to S3 itself). Notebook servers get
  `MLFLOW_TRACKING_URI` (the server's ARN, which the `sagemaker-mlflow` plugin resolves) and
  `MLFLOW_ARTIFACT_ROOT`; experiments are created with the artifact location
  `$MLFLOW_ARTIFACT_ROOT$MLPLATFORM_TEAM/` (docs/experiments.md).
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_aws as aws

from components.config.experiments import ARTIFACT_ZONE, ExperimentsConfig
from components.facts import StackFacts
from components.iam import account_id_of, policy_document, service_trust_statement, source_condition, via_services
from components.interfaces import LakeAccess
from components.registries import PENDING
from components.tagging import CostTagging

COMPONENT = "experiments"
# The MLflow API of a SageMaker tracking server, action by action (Service Authorization Reference,
# "Actions, resources, and condition keys for Amazon SageMaker with MLflow"; all take the
# mlflow-tracking-server resource). Left out: deleting registered models and their versions, which
# would cut the lineage from an endpoint back to its run; the registry's approval governs them.
MLFLOW_ACTIONS = tuple(f"sagemaker-mlflow:{action}" for action in (
    "AccessUI", "CreateExperiment", "CreateModelVersion", "CreateRegisteredModel", "CreateRun", "DeleteExperiment",
    "DeleteModelVersionTag", "DeleteRegisteredModelAlias", "DeleteRegisteredModelTag", "DeleteRun", "DeleteTag",
    "GetDownloadURIForModelVersionArtifacts", "GetExperiment", "GetExperimentByName", "GetLatestModelVersions", "GetMetricHistory",
    "GetModelVersion", "GetModelVersionByAlias", "GetRegisteredModel", "GetRun", "ListArtifacts", "LogBatch", "LogInputs", "LogMetric",
    "LogModel", "LogParam", "RenameRegisteredModel", "RestoreExperiment", "RestoreRun", "SearchExperiments", "SearchModelVersions",
    "SearchRegisteredModels", "SearchRuns", "SetExperimentTag", "SetRegisteredModelAlias", "SetRegisteredModelTag", "SetTag",
    "TransitionModelVersionStage", "UpdateExperiment", "UpdateModelVersion", "UpdateRegisteredModel", "UpdateRun",
))
# The MLflow UI opens through a presigned URL; describing the server gives its URL and state.
SERVER_READ_ACTIONS = ["sagemaker:CreatePresignedMlflowTrackingServerUrl", "sagemaker:DescribeMlflowTrackingServer"]
# Suffix AWS adds to a synced registered model's group name: '-' and six hex characters.
SYNCED_GROUP_SUFFIX = "-??????"


def tracking_server_name(name_prefix: str) -> str:
    return f"{name_prefix}-mlflow"


def tracking_server_arn(region: str, account_id: str, server_name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account_id}:mlflow-tracking-server/{server_name}"


def team_artifact_prefix(settings: ExperimentsConfig, team: str) -> str:
    return f"{settings.artifact_prefix}{team}/"


def registry_resources(region: str, account_id: str, group_names: list[str]) -> tuple[list[str], list[str]]:
    """(group ARNs, version ARNs) of the stack's groups and their synced spellings, nothing else."""
    names = [spelling for group in group_names for spelling in (group, group + SYNCED_GROUP_SUFFIX)]
    groups = [f"arn:aws:sagemaker:{region}:{account_id}:model-package-group/{name}" for name in names]
    versions = [f"arn:aws:sagemaker:{region}:{account_id}:model-package/{name}/*" for name in names]
    return groups, versions


def execution_role_policy(*, region: str, account_id: str, artifacts_bucket_arn: str, artifact_prefix: str, key_arn: str,
                          group_names: list[str], register_models: bool) -> str:
    """The tracking server's own role: its artifact prefix and, registering models, the stack's groups."""
    statements = [
        {"Sid": "ListArtifactPrefix", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"], "Resource": [artifacts_bucket_arn],
         "Condition": {"StringLike": {"s3:prefix": [f"{artifact_prefix}*"]}}},
        {"Sid": "ReadWriteArtifacts", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
         "Resource": [f"{artifacts_bucket_arn}/{artifact_prefix}*"]},
        {"Sid": "UseLakeKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"], "Resource": [key_arn],
         "Condition": via_services("s3", region=region)},
    ]
    if register_models and group_names:
        groups, versions = registry_resources(region, account_id, group_names)
        statements += [
            {"Sid": "SyncRegisteredModelGroups", "Effect": "Allow",
             "Action": ["sagemaker:CreateModelPackageGroup", "sagemaker:DescribeModelPackageGroup", "sagemaker:AddTags", "sagemaker:ListTags"],
             "Resource": groups},
            {"Sid": "RegisterPendingVersions", "Effect": "Allow", "Action": ["sagemaker:CreateModelPackage"], "Resource": groups + versions,
             "Condition": {"StringEqualsIfExists": {"sagemaker:ModelApprovalStatus": PENDING}}},
            {"Sid": "ReadVersions", "Effect": "Allow", "Action": ["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages", "sagemaker:AddTags"],
             "Resource": groups + versions},
        ]
    return policy_document(statements)


def team_tracking_policy(*, server_arn: str, artifacts_bucket_arn: str, team_prefix: str) -> str:
    """What a team's data role adds to log runs: this server's MLflow API, the team's artifact prefix."""
    return policy_document([
        {"Sid": "UseTrackingServer", "Effect": "Allow", "Action": [*MLFLOW_ACTIONS, *SERVER_READ_ACTIONS], "Resource": [server_arn]},
        {"Sid": "WriteRunArtifacts", "Effect": "Allow", "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
         "Resource": [f"{artifacts_bucket_arn}/{team_prefix}*"]},
    ])


def trust_policy(account_id: str) -> str:
    # SageMaker acting for this account only (confused-deputy guard), like the endpoints' roles: the
    # tracking server's ARN is not among the source context SageMaker documents for assuming it.
    return policy_document([service_trust_statement("sagemaker.amazonaws.com", source_condition(account_id))])


class ExperimentTracking(pulumi.ComponentResource):
    """The stack's MLflow tracking server, its execution role and the teams' access to it."""

    def __init__(self, name: str, settings: ExperimentsConfig, facts: StackFacts, tagging: CostTagging, lake: LakeAccess,
                 model_package_group_names: list[str], opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("mlplatform:experiments:ExperimentTracking", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = tagging.resource_tags(COMPONENT)
        account_id = account_id_of(self)
        server_name = tracking_server_name(facts.name_prefix)
        server_arn = account_id.apply(lambda account: tracking_server_arn(facts.region, account, server_name))
        artifacts_bucket_arn = lake.bucket_arns[ARTIFACT_ZONE]
        bucket = lake.configured_bucket_names[ARTIFACT_ZONE]
        self.artifact_store_uri = f"s3://{bucket}/{settings.artifact_prefix}"

        self.role = aws.iam.Role(
            f"{name}-role",
            name=f"{facts.name_prefix}-mlflow",
            description=f"Execution role of MLflow tracking server {server_name}: its artifact prefix and the model registry",
            assume_role_policy=account_id.apply(trust_policy),
            tags=tags,
            opts=child,
        )
        self.role_policy = aws.iam.RolePolicy(
            f"{name}-role",
            role=self.role.id,
            policy=pulumi.Output.all(account_id, artifacts_bucket_arn, lake.kms_key_arn).apply(lambda args: execution_role_policy(
                region=facts.region, account_id=args[0], artifacts_bucket_arn=args[1], artifact_prefix=settings.artifact_prefix,
                key_arn=args[2], group_names=list(model_package_group_names), register_models=settings.automatic_model_registration,
            )),
            opts=child,
        )
        # SageMaker checks the role at creation: it must reach the artifact store already.
        self.server = aws.sagemaker.MlflowTrackingServer(
            f"{name}-server",
            tracking_server_name=server_name,
            artifact_store_uri=self.artifact_store_uri,
            role_arn=self.role.arn,
            tracking_server_size=settings.tracking_server_size,
            weekly_maintenance_window_start=settings.weekly_maintenance_window_start,
            mlflow_version=settings.mlflow_version,
            automatic_model_registration=settings.automatic_model_registration,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.role_policy]),
        )

        # Teams log runs with the data roles their notebooks and workloads already run as.
        for team, role_arn in sorted(lake.team_role_arns.items()):
            aws.iam.RolePolicy(
                f"{name}-team-{team}",
                name="experiment-tracking",
                role=role_arn.apply(lambda arn: arn.rsplit("/", 1)[-1]),
                policy=pulumi.Output.all(server_arn, artifacts_bucket_arn).apply(lambda args, team=team: team_tracking_policy(
                    server_arn=args[0], artifacts_bucket_arn=args[1], team_prefix=team_artifact_prefix(settings, team),
                )),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.server]),
            )

        # The ARN is the tracking URI the `sagemaker-mlflow` plugin resolves (same as server.arn).
        self.tracking_uri = server_arn
        # What notebook servers get: the tracking URI, and the artifact root their team's prefix is under.
        self.notebook_environment = {"MLFLOW_TRACKING_URI": self.tracking_uri, "MLFLOW_ARTIFACT_ROOT": self.artifact_store_uri}
        self.register_outputs({
            "trackingServerArn": self.server.arn,
            "trackingServerUrl": self.server.tracking_server_url,
            "artifactStoreUri": self.artifact_store_uri,
            "executionRoleArn": self.role.arn,
        })
