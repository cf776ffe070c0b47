"""The whole platform of one environment: every capability, wired together.

The AWS provider is explicit and carries the stack-wide cost tags as `default_tags`; every child
component receives it, so no resource falls back to an untagged default provider.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.budgets import CostControls
from components.cluster import Cluster
from components.config import PlatformConfig
from components.datalake import DataLake
from components.endpoints import Endpoints
from components.facts import StackFacts
from components.gpu_monitoring import GpuMonitoring
from components.network import Network
from components.notebooks import Notebooks
from components.registries import Registries
from components.tagging import CostTagging


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
        self.datalake = DataLake(f"{name}-datalake", config.datalake, facts, self.tagging, opts=with_aws)
        self.cluster = Cluster(f"{name}-cluster", config.cluster, facts, self.tagging, self.network.placement, opts=with_aws)
        self.registries = Registries(f"{name}-registries", config.registries, facts, self.tagging, self.datalake.access, opts=with_aws)
        with_k8s = pulumi.ResourceOptions(parent=self, providers=[self.aws_provider, self.cluster.k8s_provider])
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
            opts=with_k8s,
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
            opts=with_k8s,
        )

        self.cost_controls = CostControls(f"{name}-cost-controls", config.budgets, facts, self.tagging, opts=with_aws)

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
            "modelRegistryRoleArn": self.registries.model_registry_role_arn,
            "notebooksUrl": self.notebooks.url,
            "clusterName": self.cluster.cluster_name,
            "clusterEndpoint": self.cluster.endpoint,
            "kubeconfig": self.cluster.kubeconfig,
            "sagemakerEndpointNames": self.endpoints.endpoint_names,
            "endpointRoleArns": self.endpoints.role_arns,
            "budgetAlertTopicArn": self.cost_controls.alert_topic_arn,
        }
        self.register_outputs(self.outputs)
