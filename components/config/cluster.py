"""Cluster settings: EKS, its add-ons and charts, the system node group, Karpenter node pools,
team namespaces and the GPU utilisation agent."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Optional

from pydantic import Field, model_validator

from components.config.base import (
    DERIVED,
    Bool,
    ChartVersion,
    CidrText,
    Image,
    Int,
    LogRetention,
    Number,
    Pairs,
    Section,
    Text,
    Unique,
    check_order,
    matching,
    no_duplicates,
    one_of,
    section,
)
from components.config.errors import Invalid
from components.config.load_balancers import refuse_the_whole_internet
from components.config.nodepools import InstanceType, NodePoolConfig, is_gpu_family, is_graviton

IamRoleArn = matching(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+", "an IAM role ARN like arn:aws:iam::123456789012:role/Admin")
AddonVersion = matching(r"v\d+\.\d+\.\d+-eksbuild\.\d+", "an exact EKS add-on version like v1.20.4-eksbuild.1")


@section
class ClusterEndpointConfig(Section):
    """Who can reach the Kubernetes API server."""

    public_access: Bool = Field(description="Whether the API server has a public endpoint (it always has a private one).")
    public_access_cidrs: Unique[CidrText] = Field(default=(), description="Networks that may reach the public endpoint; required with publicAccess: true.")

    @model_validator(mode="after")
    def _cidrs_with_public_access(self) -> "ClusterEndpointConfig":
        if self.public_access and not self.public_access_cidrs:
            raise Invalid("is required with publicAccess: true; list the networks that need the API server", "publicAccessCidrs")
        if not self.public_access and self.public_access_cidrs:
            raise Invalid("only applies with publicAccess: true (the endpoint is private)", "publicAccessCidrs")
        refuse_the_whole_internet(self.public_access_cidrs, "publicAccessCidrs", "opens the API server to the internet")
        return self


@section
class ClusterAddonVersions(Section):
    """Exact EKS add-on versions, so an upgrade is a reviewed change."""

    vpc_cni: AddonVersion = Field(description="Amazon VPC CNI add-on version.")
    coredns: AddonVersion = Field(description="CoreDNS add-on version.")
    kube_proxy: AddonVersion = Field(description="kube-proxy add-on version; must be a build for kubernetesVersion.")
    aws_ebs_csi_driver: AddonVersion = Field(description="EBS CSI driver add-on version.")
    eks_pod_identity_agent: AddonVersion = Field(description="EKS Pod Identity agent add-on version.")

    def by_addon_name(self) -> dict[str, str]:
        """EKS add-on name -> pinned version."""
        return {
            "vpc-cni": self.vpc_cni,
            "coredns": self.coredns,
            "kube-proxy": self.kube_proxy,
            "aws-ebs-csi-driver": self.aws_ebs_csi_driver,
            "eks-pod-identity-agent": self.eks_pod_identity_agent,
        }


CHART_KEYS = ("karpenter", "nvidiaDevicePlugin", "awsLoadBalancerController")


@section
class ClusterChartVersions(Section):
    """Exact Helm chart versions of the cluster's controllers."""

    karpenter: ChartVersion = Field(description="Karpenter chart version.")
    nvidia_device_plugin: ChartVersion = Field(description="NVIDIA device plugin chart version.")
    aws_load_balancer_controller: ChartVersion = Field(description="AWS Load Balancer Controller chart version.")
    pin_reasons: Pairs[one_of(*CHART_KEYS), Text] = Field(
        default=(),
        description="Why this stack pins a different version of a chart than the other stacks, by chart key.",
    )


@section
class SystemNodeGroupConfig(Section):
    """The small managed node group that runs the controllers (on-demand unless a stack accepts spot)."""

    instance_types: Unique[InstanceType] = Field(
        min_length=1,
        description="Non-GPU instance types of the group, all x86_64 or all Arm (Graviton: the group then runs the arm64 AL2023 AMI; "
                    "every system image is published for arm64, see components/data/system_images_arm64.json).",
    )
    min_size: Int = Field(ge=1, le=100, description="Nodes the group never shrinks below.")
    desired_size: Optional[Int] = Field(default=None, ge=1, le=100, description="Nodes at creation (default: minSize).")
    max_size: Int = Field(ge=1, le=100, description="Nodes the group never grows beyond.")
    disk_size_gi: Int = Field(ge=20, le=1000, description="Root volume size (GiB) of each node.")
    capacity_type: one_of("ON_DEMAND", "SPOT") = Field(
        default="ON_DEMAND",
        description="SPOT costs about a third where an interruption may stop the controllers for minutes (EKS rebalances "
                    "spot node groups before an interruption when it can); it needs two or more instance types to draw from.",
    )

    @classmethod
    def _prepare(cls, data: dict, info: object) -> dict:
        return {"desiredSize": data["minSize"], **data} if "minSize" in data else data

    @model_validator(mode="after")
    def _sizes_and_types(self) -> "SystemNodeGroupConfig":
        check_order("minSize", self.min_size, "maxSize", self.max_size)
        if not self.min_size <= self.desired_size <= self.max_size:
            raise Invalid(f"must be between minSize ({self.min_size}) and maxSize ({self.max_size}), got {self.desired_size}", "desiredSize")
        for i, instance_type in enumerate(self.instance_types):
            if is_gpu_family(instance_type):
                raise Invalid(f"{instance_type} is a GPU instance; GPUs belong in a Karpenter pool that scales from zero", "instanceTypes", i)
        if self.capacity_type == "SPOT" and len(self.instance_types) < 2:
            raise Invalid("a spot node group needs two or more instance types, so one type's shortage does not stop the controllers",
                          "instanceTypes")
        # A managed node group runs one AMI type, so one architecture.
        for i, instance_type in enumerate(self.instance_types):
            if is_graviton(instance_type) != is_graviton(self.instance_types[0]):
                raise Invalid(f"{instance_type} is {'Arm' if is_graviton(instance_type) else 'x86_64'} but {self.instance_types[0]} is not; "
                              "one group runs one AMI, so list instance types of one architecture", "instanceTypes", i)
        return self

    @property
    def architecture(self) -> str:
        """`arm64` or `amd64`, as Kubernetes labels nodes (kubernetes.io/arch)."""
        return "arm64" if is_graviton(self.instance_types[0]) else "amd64"


@section
class TeamQuotaConfig(Section):
    """A team namespace's ResourceQuota."""

    cpu: Int = Field(ge=1, description="CPU cores the team's pods may request in total.")
    memory_gi: Int = Field(ge=1, description="Memory (GiB) the team's pods may request in total.")
    gpus: Int = Field(ge=0, description="NVIDIA GPUs the team's pods may request in total.")
    persistent_volume_claims: Int = Field(ge=0, description="Persistent volume claims the team may hold.")
    storage_gi: Int = Field(ge=0, description="Storage (GiB) the team's claims may request in total.")


@section
class TeamQuotaOverrides(Section):
    """A team's differences from the default quota."""

    cpu: Optional[Int] = Field(default=None, ge=1, description="CPU cores, instead of the default.")
    memory_gi: Optional[Int] = Field(default=None, ge=1, description="Memory (GiB), instead of the default.")
    gpus: Optional[Int] = Field(default=None, ge=0, description="NVIDIA GPUs, instead of the default.")
    persistent_volume_claims: Optional[Int] = Field(default=None, ge=0, description="Persistent volume claims, instead of the default.")
    storage_gi: Optional[Int] = Field(default=None, ge=0, description="Storage (GiB), instead of the default.")


@section
class TeamQuotasConfig(Section):
    """Namespace quotas: one default, and per-team overrides."""

    default: TeamQuotaConfig = Field(description="Quota of every team without an override.")
    teams: Pairs[str, TeamQuotaOverrides] = Field(default=(), description="Overrides by team name.")

    def for_team(self, team: str) -> TeamQuotaConfig:
        overrides = dict(self.teams).get(team)
        if overrides is None:
            return self.default
        changes = {field.name: getattr(overrides, field.name) for field in dataclasses.fields(overrides)}
        return dataclasses.replace(self.default, **{name: value for name, value in changes.items() if value is not None})


@section
class ContainerDefaultsConfig(Section):
    """LimitRange defaults for containers that declare no resources of their own."""

    cpu_request_millicores: Int = Field(ge=10, le=64000, description="CPU request (millicores) of a container that sets none.")
    memory_request_mi: Int = Field(ge=16, le=1048576, description="Memory request (MiB) of a container that sets none.")
    memory_limit_mi: Int = Field(ge=16, le=1048576, description="Memory limit (MiB) of a container that sets none.")

    @model_validator(mode="after")
    def _limit_above_request(self) -> "ContainerDefaultsConfig":
        check_order("memoryRequestMi", self.memory_request_mi, "memoryLimitMi", self.memory_limit_mi)
        return self


@section
class GpuAgentConfig(Section):
    """The GPU utilisation agent (`mlp gpu-agent`) on every GPU node: what idle-GPU cost is measured with."""

    image: Image = Field(description="Agent image: a platform repository with a tag or digest, or a full URI.")
    sample_seconds: Int = Field(default=10, ge=1, le=300, description="Seconds between NVML samples.")
    publish_seconds: Int = Field(default=60, ge=60, le=3600, description="Seconds between published CloudWatch metrics; a multiple of sampleSeconds.")
    idle_threshold_percent: Number = Field(default=5.0, ge=0.0, le=100.0, description="Utilisation (%) below which a GPU counts as idle.")

    @model_validator(mode="after")
    def _whole_samples(self) -> "GpuAgentConfig":
        if self.publish_seconds % self.sample_seconds:
            raise Invalid(f"must be a multiple of sampleSeconds ({self.sample_seconds}), got {self.publish_seconds}", "publishSeconds")
        return self


@section
class ClusterConfig(Section):
    """EKS, its controllers, node pools and team namespaces."""

    kubernetes_version: matching(r"1\.(2[89]|3\d)", "a supported EKS Kubernetes version like 1.33 (quote it in YAML)") = Field(
        description="Kubernetes minor version of the control plane.",
    )
    support_type: one_of("STANDARD", "EXTENDED") = Field(description="STANDARD upgrades at the end of standard support; EXTENDED pays for extended support.")
    deletion_protection: Bool = Field(description="Whether EKS refuses to delete the cluster.")
    deploy_role_arn: IamRoleArn = Field(description="The role `pulumi up` assumes for Kubernetes API calls; gets cluster admin access.")
    admin_role_arns: Unique[IamRoleArn] = Field(min_length=1, description="Roles given cluster admin access (access entries are named after the role).")
    endpoint: ClusterEndpointConfig = Field(description="Who can reach the API server.")
    control_plane_log_retention_days: LogRetention = Field(description="Days control plane logs are kept.")
    kms_deletion_window_days: Int = Field(default=30, ge=7, le=30, description="Waiting period before a deleted secrets key is gone.")
    ami_alias: matching(r"al2023@(v\d{8}|latest)", "an AL2023 AMI alias like al2023@v20251117 (Karpenter picks the NVIDIA variant for GPU instances)") = Field(
        description="AMI release of Karpenter nodes.",
    )
    controller_replicas: Int = Field(ge=1, le=5, description="Replicas of Karpenter and the load balancer controller; each needs its own system node.")
    addons: ClusterAddonVersions = Field(description="EKS add-on versions.")
    charts: ClusterChartVersions = Field(description="Helm chart versions.")
    shared_load_balancer: Bool = Field(
        default=False,
        description="Put the notebook hub and every model server on the cluster behind one ALB (an ingress group): one load balancer's "
                    "hourly charge instead of one each. They must then agree on scheme, allowedCidrs, deletionProtection and wafAclArn, "
                    "and each model server needs its own hostname.",
    )
    system_node_group: SystemNodeGroupConfig = Field(description="The managed node group of the controllers.")
    node_pools: tuple[NodePoolConfig, ...] = Field(min_length=1, description="Karpenter node pools for the platform's work.")
    team_quota_settings: TeamQuotasConfig = Field(alias="teamQuotas", description="Namespace quotas of the teams.")
    container_defaults: ContainerDefaultsConfig = Field(description="Resource defaults of containers that declare none.")
    gpu_agent: Optional[GpuAgentConfig] = Field(
        default=None,
        description="The GPU utilisation agent; required with GPU pools (idle GPUs are what finance asks about first).",
    )
    # Filled in from mlplatform:teams: every team gets a namespace and a quota.
    teams: Annotated[tuple[str, ...], DERIVED] = ()

    @model_validator(mode="after")
    def _consistent(self) -> "ClusterConfig":
        if self.deploy_role_arn in self.admin_role_arns:
            raise Invalid(f"{self.deploy_role_arn} is already deployRoleArn (it gets cluster admin access once)", "adminRoleArns")
        role_names = [arn.rsplit("/", 1)[1] for arn in self.admin_role_arns]
        for i, role_name in enumerate(role_names):
            if role_name in role_names[:i]:
                raise Invalid(f"another admin role is also named {role_name!r}; access entries are named after their role", "adminRoleArns", i)
        no_duplicates("node pool", [pool.name for pool in self.node_pools], "nodePools")
        # kube-proxy is built per Kubernetes minor version and must match the control plane.
        if not self.addons.kube_proxy.startswith(f"v{self.kubernetes_version}."):
            raise Invalid(
                f"must be a build for Kubernetes {self.kubernetes_version} (v{self.kubernetes_version}.x-eksbuild.N), got {self.addons.kube_proxy}",
                "addons",
                "kubeProxy",
            )
        # Karpenter's chart keeps its replicas on distinct nodes (required anti-affinity) and
        # nothing scales the system node group up, so only the nodes it always has count.
        if self.controller_replicas > self.system_node_group.min_size:
            raise Invalid(
                "controller replicas each need their own system node, and the system node group may shrink to minSize "
                f"({self.system_node_group.min_size}); got {self.controller_replicas} replicas",
                "controllerReplicas",
            )
        return self

    @property
    def gpu_pool_names(self) -> tuple[str, ...]:
        return tuple(pool.name for pool in self.node_pools if pool.gpu)

    @property
    def gpu_limit(self) -> int:
        return sum(pool.gpu_limit for pool in self.node_pools)

    def node_pool(self, name: str) -> NodePoolConfig:
        return next(pool for pool in self.node_pools if pool.name == name)

    def team_quota(self, team: str) -> TeamQuotaConfig:
        return self.team_quota_settings.for_team(team)

    @property
    def team_quotas(self) -> tuple[tuple[str, TeamQuotaConfig], ...]:
        return tuple((team, self.team_quota(team)) for team in self.teams)
