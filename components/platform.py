"""The whole platform of one environment: every capability, wired together.

The AWS provider is explicit and carries the stack-wide cost tags as `default_tags`; every child
component receives it, so no resource falls back to an untagged default provider.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.billing import BillingExports
from components.budgets import CostControls
from components.ci_runners import CiRunner
from components.cluster import Cluster
from components.config import PlatformConfig
from components.datalake import DataLake
from components.endpoints import Endpoints
from components.experiments import ExperimentTracking
from components.distributed import DistributedCompute, NotebookIdentities
from components.distributed.access import RAY_SERVICE_ACCOUNT
from components.distributed.operators import SPARK_JOB_SERVICE_ACCOUNT
from components.distributed.queues import LOCAL_QUEUE
from components.facts import StackFacts
from components.gpu_monitoring import GpuMonitoring
from components.iam import PodSubject
from components.monitoring import DriftMonitoring
from components.network import Network
from components.notebook_profiles import team_pod_subject
from components.notebooks import Notebooks
from components.registries import Registries
from components.tagging import CostTagging
from components.team_folders import TeamFolders, notebook_mounts


def team_data_role_users(config: PlatformConfig) -> dict[str, list[PodSubject]]:
    """By team, the pods that run with its data-lake role: its notebook servers, and its Ray and
    Spark work in its own namespace (team namespaces are named after the team)."""
    workloads = []
    if config.distributed is not None:
        workloads.append(RAY_SERVICE_ACCOUNT)
        if config.distributed.spark.enabled:
            workloads.append(SPARK_JOB_SERVICE_ACCOUNT)
    return {team: [team_pod_subject(team), *(PodSubject(team, account) for account in workloads)] for team in config.team_names}


class Platform(pulumi.ComponentResource):
    def __init__(self, name: str, config: PlatformConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:index:Platform", name, None, opts)
        self.tagging = CostTagging.from_config(config)
        # Each component gets its own config section and these shared facts, never the whole config.
        facts = StackFacts.from_config(config)

        self.aws_provider = aws.Provider(
            f"{name}-aws",
            region=config.region,
            profile=config.aws_profile,
            default_tags=aws.ProviderDefaultTagsArgs(tags=self.tagging.default_tags()),
            opts=pulumi.ResourceOptions(parent=self),
        )
        with_aws = pulumi.ResourceOptions(parent=self, providers=[self.aws_provider])

        self.network = Network(f"{name}-network", config.network, facts, self.tagging, opts=with_aws)
        self.datalake = DataLake(f"{name}-datalake", config.datalake, facts, self.tagging, team_data_role_users(config), opts=with_aws)
        self.cluster = Cluster(f"{name}-cluster", config.cluster, facts, self.tagging, self.network.placement, opts=with_aws)
        with_k8s = pulumi.ResourceOptions(parent=self, providers=[self.aws_provider, self.cluster.k8s_provider])
        self.registries = Registries(f"{name}-registries", config.registries, facts, self.tagging, self.datalake.access, self.cluster.access,
                                     opts=with_k8s)
        # Experiment tracking: run artifacts in the lake, registered models into the stack's groups.
        self.experiments = (
            ExperimentTracking(f"{name}-experiments", config.experiments, facts, self.tagging, self.datalake.access,
                               [f"{facts.name_prefix}-{group.name}" for group in config.registries.model_package_groups], opts=with_aws)
            if config.experiments else None
        )
        # Idle GPUs are measured wherever GPUs can run (config requires the agent with GPU pools).
        self.gpu_monitoring = (
            GpuMonitoring(f"{name}-gpu-monitoring", config.cluster.gpu_agent, facts, self.tagging, self.cluster.access,
                          self.registries.images, opts=with_k8s)
            if config.cluster.gpu_agent else None
        )
        self.notebooks = Notebooks(
            f"{name}-notebooks",
            config.notebooks,
            facts,
            self.tagging,
            self.cluster.access,
            team_role_arns=self.datalake.team_role_arns,
            repository_urls=self.registries.repository_urls,
            access_log_bucket=self.datalake.access.access_log_bucket_name,
            team_folders=notebook_mounts(config.team_folders) if config.team_folders else None,
            user_environment=self.experiments.notebook_environment if self.experiments else None,
            opts=with_k8s,
        )
        # Team folders: EFS shared by a team's notebooks and its namespace, reachable from the nodes only.
        self.team_folders = (
            TeamFolders(f"{name}-team-folders", config.team_folders, facts, self.tagging, self.network.placement, self.cluster.access,
                        self.cluster.cluster_security_group_id, self.notebooks.namespace, opts=with_k8s)
            if config.team_folders else None
        )
        # Ray and Spark for the teams, queued by Kueue within the pools and the budgets.
        self.distributed = (
            DistributedCompute(f"{name}-distributed", config.distributed, facts, self.tagging, self.cluster.access, config.cluster.node_pools,
                               self.datalake.team_role_arns,
                               NotebookIdentities(self.notebooks.namespace.metadata.name, self.notebooks.team_service_accounts), opts=with_k8s)
            if config.distributed else None
        )
        # Last: endpoints serve from the lake, pull from the registries and run on the cluster.
        self.endpoints = Endpoints(
            f"{name}-endpoints",
            config.endpoints,
            config.batch_jobs,
            facts,
            self.tagging,
            self.datalake.access,
            self.registries.images,
            self.cluster.access,
            local_queue=LOCAL_QUEUE if config.distributed else None,
            capture_shipper_image=config.monitoring.capture_shipper_image if config.monitoring else None,
            opts=with_k8s,
        )

        self.cost_controls = CostControls(f"{name}-cost-controls", config.budgets, facts, self.tagging, opts=with_aws)
        # CI for a private API endpoint runs inside the VPC (staging, prod: see .github/workflows).
        self.ci_runner = (
            CiRunner(f"{name}-ci-runner", config.ci_runner, facts, self.tagging, self.network.placement, self.cluster.cluster_security_group_id,
                     opts=with_aws)
            if config.ci_runner else None
        )
        # Billing exports, their Athena table and anomaly alerts; the account-wide parts only in the
        # stack that owns account-wide billing resources, like the cost-allocation tag activation.
        self.billing = (
            BillingExports(f"{name}-billing", config.billing, facts, self.tagging,
                           owns_account_billing=config.budgets.activate_cost_allocation_tags,
                           alert_topic_arn=self.cost_controls.alert_topic_arn,
                           access_log_bucket_name=config.datalake.access_log_bucket_name, opts=with_aws)
            if config.billing else None
        )

        # Drift jobs over what the endpoints capture, alarming to the alert topic and the owning teams.
        self.monitoring = (
            DriftMonitoring(f"{name}-monitoring", config.monitoring, config.endpoints, facts, self.tagging, self.datalake.access,
                            self.registries.images, self.cluster.access, self.cost_controls.alert_topic_arn,
                            local_queue=LOCAL_QUEUE if config.distributed else None, opts=with_k8s)
            if config.monitoring else None
        )

        self.outputs = {
            "region": config.region,
            "environment": config.environment,
            "vpcId": self.network.vpc_id,
            "privateSubnetIds": self.network.private_subnet_ids,
            "dataLakeBuckets": self.datalake.bucket_names,
            "dataLakeKmsKeyArn": self.datalake.kms_key_arn,
            "teamDataRoleArns": self.datalake.team_role_arns,
            "imageRepositoryUrls": self.registries.repository_urls,
            "modelPackageGroupArns": self.registries.model_package_group_arns,
            "modelArtifactUris": self.registries.model_artifact_uris,
            "modelRegisterRoleArns": self.registries.model_register_role_arns,
            "modelApproverRoleArn": self.registries.model_approver_role_arn,
            "notebooksUrl": self.notebooks.url,
            "clusterName": self.cluster.cluster_name,
            "clusterEndpoint": self.cluster.endpoint,
            "kubeconfig": self.cluster.kubeconfig,
            "sagemakerEndpointNames": self.endpoints.endpoint_names,
            "endpointRoleArns": self.endpoints.role_arns,
            "budgetAlertTopicArn": self.cost_controls.alert_topic_arn,
            "teamFolderFileSystemId": self.team_folders.file_system_id if self.team_folders else None,
            "mlflowTrackingServerArn": self.experiments.tracking_uri if self.experiments else None,
            "driftAlarmNames": {endpoint: alarm.name for endpoint, alarm in self.monitoring.alarms.items()} if self.monitoring else {},
        }
        self.register_outputs(self.outputs)
