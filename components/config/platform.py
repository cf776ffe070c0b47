"""The whole stack configuration: identity, teams, every capability's section, and the rules
that need several sections at once.

A stack file (`stacks/Pulumi.<env>.yaml`) holds keys in two namespaces: `aws:` (region,
profile) and `mlplatform:` (everything else). `parse_config` turns that flat
`namespace:key -> value` map into a frozen `PlatformConfig`; every bad value raises one
`ConfigError` naming the full key path and saying what is expected.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Annotated, Any, Optional

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError, ValidationInfo, field_validator, model_validator

from components.config.base import (
    DERIVED,
    SECTION_CONFIG,
    DnsLabel,
    ImageRef,
    S3Location,
    Section,
    TagValue,
    Text,
    camel_case,
    check_known_keys,
    matching,
    no_duplicates,
    one_of,
    section,
)
from components.config.budgets import BudgetsConfig
from components.config.billing import BillingConfig, check_billing
from components.config.ci_runners import CiRunnerConfig
from components.config.cluster import ClusterConfig
from components.config.datalake import DataLakeConfig
from components.config.distributed import DistributedConfig, check_queues
from components.config.endpoints import (
    CAPTURE_ZONE,
    HOSTING_INSTANCES_FILE,
    BatchJobConfig,
    EndpointConfig,
    cpu_cores,
    memory_gi,
    model_package_group,
    sagemaker_hosting_instance_types,
)
from components.config.errors import PROJECT_NAMESPACE, ConfigError, Invalid, config_key, describe, from_validation_error
from components.config.experiments import ExperimentsConfig
from components.config.monitoring import MonitoringConfig, check_monitoring
from components.config.load_balancers import check_shared_load_balancer
from components.config.network import NetworkConfig
from components.config.notebooks import INSECURE_AUTH_ENVIRONMENTS, NotebooksConfig
from components.config.registries import RegistriesConfig
from components.config.team_folders import TeamFoldersSection

ENVIRONMENTS = ("dev", "staging", "prod")
# Keys of the `aws:` namespace the platform reads; the provider is explicit, so nothing else applies.
AWS_KEYS = ("aws:region", "aws:profile")
# IAM role names are at most 64 characters: `<name prefix>-ep-<endpoint>` / `-job-<job>`.
_IAM_ROLE_NAME_MAX = 64


@section
class TeamConfig(Section):
    """A data-science team: its data-lake prefix, namespace, quota and cost tags."""

    name: DnsLabel = Field(description="Team name: its namespace, lake prefix and Team tag.")
    cost_center: Optional[TagValue] = Field(default=None, description="Finance may bill a team to its own cost centre (default: the stack's).")


@section(config=ConfigDict(SECTION_CONFIG, alias_generator=lambda name: f"{PROJECT_NAMESPACE}:{camel_case(name)}"))
class PlatformConfig(Section):
    """One stack's platform. Fields are validated in this order, so later ones may rely on
    earlier ones (the platform team is not a team, the cluster knows the teams)."""

    stack: Annotated[str, DERIVED] = Field(description="The stack being deployed; parse_config is given it.")
    region: matching(r"[a-z]{2}(-gov)?-[a-z]+-\d", "an AWS region like us-east-1") = Field(alias="aws:region", description="AWS region of the stack.")
    aws_profile: Optional[Text] = Field(default=None, alias="aws:profile", description="AWS CLI profile the provider uses (default: the environment's credentials).")
    environment: one_of(*ENVIRONMENTS) = Field(description="Environment of the stack (dev, staging or prod); must equal the stack name.")
    project: matching(r"[a-z][a-z0-9-]{1,20}", "a project name: lowercase letters, digits, '-', 2-21 characters") = Field(
        default="mlplatform", description="Project tag value and prefix of physical names.",
    )
    cost_center: TagValue = Field(description="Finance cost centre, the CostCenter tag of every resource.")
    teams: tuple[TeamConfig, ...] = Field(min_length=1, description="Data-science teams; each gets data-lake access, a namespace and a quota.")
    platform_team: DnsLabel = Field(description="Team that owns the shared parts (Team tag of network, cluster, lake); not one of teams.")
    network: NetworkConfig = Field(description="VPC, subnets, NAT and VPC endpoints.")
    datalake: DataLakeConfig = Field(description="Data lake zones, lifecycle, access logs and key.")
    registries: RegistriesConfig = Field(description="ECR repositories and model package groups.")
    notebooks: NotebooksConfig = Field(description="JupyterHub with CPU, GPU and RStudio profiles.")
    cluster: ClusterConfig = Field(description="EKS, node pools, team namespaces and the GPU agent.")
    endpoints: tuple[EndpointConfig, ...] = Field(default=(), description="Real-time inference endpoints.")
    batch_jobs: tuple[BatchJobConfig, ...] = Field(default=(), description="Scheduled batch scoring jobs.")
    budgets: BudgetsConfig = Field(description="Budgets and cost alerts.")
    billing: Optional[BillingConfig] = Field(
        default=None, description="CUR 2.0 / FOCUS billing exports with split cost allocation data, their Athena table, cost anomaly alerts.",
    )
    distributed: Optional[DistributedConfig] = Field(
        default=None, description="Ray and Spark on the cluster, with a fair, budget-aware Kueue queue per team.",
    )
    experiments: Optional[ExperimentsConfig] = Field(
        default=None, description="Experiment tracking: a managed MLflow server with its artifacts in the lake (required with real-time endpoints).",
    )
    monitoring: Optional[MonitoringConfig] = Field(
        default=None, description="Drift jobs over captured requests, drift metrics and alarms (required when endpoints capture).",
    )
    ci_runner: Optional[CiRunnerConfig] = Field(
        default=None, description="A CodeBuild-hosted GitHub Actions runner in the private subnets, for CI of a stack whose API endpoint is private.",
    )
    team_folders: Optional[TeamFoldersSection] = Field(
        default=None, description="Team folders: an EFS file system with a folder per team, mounted in every notebook of the team.",
    )

    @classmethod
    def _check_keys(cls, data: dict) -> None:
        for key in data:
            namespace = str(key).partition(":")[0]
            if namespace == "aws" and key not in AWS_KEYS:
                raise Invalid(f"unknown key (the platform reads only {', '.join(AWS_KEYS)})", key)
            if namespace not in ("aws", PROJECT_NAMESPACE):
                raise Invalid(f"unknown config namespace {namespace!r} (expected aws: or {PROJECT_NAMESPACE}:)", str(key))
        check_known_keys(cls, data)

    @classmethod
    def _prepare(cls, data: dict, info: ValidationInfo) -> dict:
        return {**data, "stack": info.context["stack"]} if info.context and "stack" in info.context else data

    @field_validator("environment")
    @classmethod
    def _is_the_stack(cls, environment: str, info: ValidationInfo) -> str:
        if environment != info.data.get("stack", environment):
            raise Invalid(f"is {environment!r} but the stack is {info.data['stack']!r}; they must match")
        return environment

    @field_validator("teams")
    @classmethod
    def _unique_teams(cls, teams: tuple[TeamConfig, ...]) -> tuple[TeamConfig, ...]:
        no_duplicates("team", [team.name for team in teams])
        return teams

    @field_validator("platform_team")
    @classmethod
    def _not_a_team(cls, platform_team: str, info: ValidationInfo) -> str:
        if platform_team in [team.name for team in info.data.get("teams", ())]:
            raise Invalid(f"{platform_team!r} is also listed in teams; the platform team owns the shared parts only")
        return platform_team

    @field_validator("cluster")
    @classmethod
    def _namespaces_for_teams(cls, cluster: ClusterConfig, info: ValidationInfo) -> ClusterConfig:
        names = tuple(team.name for team in info.data.get("teams", ()))
        return cluster if cluster.teams == names else dataclasses.replace(cluster, teams=names)

    @field_validator("endpoints", "batch_jobs")
    @classmethod
    def _unique_names(cls, items: tuple, info: ValidationInfo) -> tuple:
        no_duplicates("endpoint" if info.field_name == "endpoints" else "batch job", [item.name for item in items])
        return items

    @model_validator(mode="after")
    def _across_sections(self, info: ValidationInfo) -> "PlatformConfig":
        # Rules between sections hold for a stack document, which parse_config validates with
        # the stack as context; a copy changed in Python (a test's what-if) is taken as given.
        if info.context is not None:
            for check in (
                _check_owners,
                _check_network,
                _check_notebook_references,
                _check_cluster,
                _check_budgets,
                check_billing,
                _check_notebooks,
                _check_endpoints,
                _check_gpu_agent,
                _check_distributed,
                check_monitoring,
                _check_load_balancers,
            ):
                check(self)
        return self

    @property
    def name_prefix(self) -> str:
        """Prefix of physical names (`mlplatform-dev-...`), so stacks can share one account."""
        return f"{self.project}-{self.environment}"

    @property
    def cluster_name(self) -> str:
        # Needed before the cluster exists: subnets carry it as their Karpenter discovery tag.
        return f"{self.name_prefix}-eks"

    @property
    def team_names(self) -> tuple[str, ...]:
        return tuple(team.name for team in self.teams)

    def team(self, name: str) -> TeamConfig:
        return next(team for team in self.teams if team.name == name)


def _unknown_team(key: str, config: PlatformConfig) -> ConfigError:
    return ConfigError(key, f"unknown team (configured teams: {', '.join(config.team_names)})")


def _check_network(config: PlatformConfig) -> None:
    for i, zone in enumerate(config.network.availability_zones):
        if not re.fullmatch(rf"{re.escape(config.region)}[a-z]", zone):
            raise ConfigError(
                config_key("network", "availabilityZones", i),
                f"expected an availability zone of {config.region} (like {config.region}a), got {describe(zone)}",
            )


def _check_owners(config: PlatformConfig) -> None:
    for list_key, i, team in config.registries.owners:
        if team is not None and team not in config.team_names and team != config.platform_team:
            raise ConfigError(
                config_key("registries", list_key, i, "team"),
                f"expected a configured team ({', '.join(config.team_names)}) or the platform team {config.platform_team!r}, got {describe(team)}",
            )


def _check_notebook_references(config: PlatformConfig) -> None:
    """Profiles name platform repositories; the identity provider has a group for every team."""
    repositories = config.registries.repository_names
    for i, profile in enumerate(config.notebooks.profiles):
        if profile.repository is not None and profile.repository not in repositories:
            raise ConfigError(config_key("notebooks", "profiles", i, "repository"), f"expected one of {', '.join(repositories)}, got {describe(profile.repository)}")
    auth = config.notebooks.auth
    if auth.type == "oidc":
        groups = dict(auth.team_groups)
        for team in groups:
            if team not in config.team_names:
                raise _unknown_team(config_key("notebooks", "auth", "teamGroups", team), config)
        for team in config.team_names:
            if team not in groups:
                raise ConfigError(config_key("notebooks", "auth", "teamGroups"), f"expected an identity-provider group for every team; {team!r} has none")


def _check_notebooks(config: PlatformConfig) -> None:
    """The hub against the environment, the region and the cluster's pools."""
    notebooks = config.notebooks
    auth = notebooks.auth
    if auth.type == "dummy" and config.environment not in INSECURE_AUTH_ENVIRONMENTS:
        raise ConfigError(
            config_key("notebooks", "auth", "type"),
            f"dummy authentication is allowed only in {', '.join(INSECURE_AUTH_ENVIRONMENTS)}; {config.environment} needs oidc",
        )
    # An ALB only uses certificates of its own region; Secrets Manager is read in the stack's region.
    certificate_region = notebooks.ingress.certificate_arn.split(":")[3]
    if certificate_region != config.region:
        raise ConfigError(
            config_key("notebooks", "ingress", "certificateArn"),
            f"the certificate is in {certificate_region} but the stack runs in {config.region}; an ALB needs a certificate of its own region",
        )
    secret = auth.client_secret_name or ""
    if secret.startswith("arn:") and secret.split(":")[3] != config.region:
        raise ConfigError(
            config_key("notebooks", "auth", "clientSecretName"),
            f"the secret is in {secret.split(':')[3]} but the stack runs in {config.region}; replicate it to {config.region}",
        )
    node_pools = config_key("cluster", "nodePools")
    cpu_pools = [pool.name for pool in config.cluster.node_pools if not pool.gpu]
    for i, profile in enumerate(notebooks.profiles):
        if profile.kind == "gpu" and not config.cluster.gpu_pool_names:
            raise ConfigError(config_key("notebooks", "profiles", i, "kind"), f"a gpu profile needs a GPU node pool, but {node_pools} has no pool with gpu: true")
        # User servers never run on the system nodes, and GPU pools are tainted against them.
        if profile.kind != "gpu" and not cpu_pools:
            raise ConfigError(config_key("notebooks", "profiles", i, "kind"), f"a {profile.kind} profile needs a CPU node pool, but {node_pools} has no pool with gpu: false")


def _check_cluster(config: PlatformConfig) -> None:
    cluster = config.cluster
    overrides = dict(cluster.team_quota_settings.teams)
    for team in overrides:
        if team not in config.team_names:
            raise _unknown_team(config_key("cluster", "teamQuotas", "teams", team), config)
    for team, quota in cluster.team_quotas:
        where = config_key("cluster", "teamQuotas", *(("teams", team) if team in overrides else ("default",)), "gpus")
        if quota.gpus and not cluster.gpu_pool_names:
            raise ConfigError(where, f"team {team!r} has a GPU quota but the cluster has no GPU node pool")
        if quota.gpus > cluster.gpu_limit:
            raise ConfigError(where, f"team {team!r} may request {quota.gpus} GPUs but the GPU pools are limited to {cluster.gpu_limit}")


def _check_budgets(config: PlatformConfig) -> None:
    for team, _ in config.budgets.team_monthly_limits:
        if team not in config.team_names:
            raise ConfigError(config_key("budgets", "teamMonthlyLimits", team), f"unknown team (teams: {', '.join(config.team_names)})")


def _check_gpu_agent(config: PlatformConfig) -> None:
    key = config_key("cluster", "gpuAgent")
    agent = config.cluster.gpu_agent
    if config.cluster.gpu_pool_names and agent is None:
        raise ConfigError(key, "is required when the cluster has GPU node pools: it measures what idle GPUs cost")
    if agent is not None and not config.cluster.gpu_pool_names:
        raise ConfigError(key, "the cluster has no GPU node pool for the agent to run on")
    if agent is not None:
        _check_image(f"{key}.image", agent.image, config, require_ecr=False)


def _check_image(key: str, image: ImageRef, config: PlatformConfig, require_ecr: bool) -> None:
    names = config.registries.repository_names
    if image.repository is not None:
        if image.repository not in names:
            raise ConfigError(key, f"repository {image.repository!r} is not one of the platform's ECR repositories ({', '.join(names)}); give one of them or a full image URI")
    elif require_ecr and image.ecr_repository_arn_parts is None:
        raise ConfigError(key, f"SageMaker pulls images from ECR only; expected a platform repository or an <account>.dkr.ecr.<region>.amazonaws.com URI, got {image.uri!r}")


def _check_in_models_zone(key: str, location: S3Location, config: PlatformConfig) -> None:
    models_bucket = config.datalake.bucket_name("models")
    if location.bucket != models_bucket:
        raise ConfigError(key, f"models are served from the lake's models zone; expected s3://{models_bucket}/..., got {location.uri}")


def _check_gpus(key: str, gpus: int, config: PlatformConfig) -> None:
    if gpus and not config.cluster.gpu_pool_names:
        raise ConfigError(key, "requests GPUs but this stack's cluster has no GPU node pool")
    # Pods stay off the system nodes and GPU pools are tainted against CPU work.
    if not gpus and all(pool.gpu for pool in config.cluster.node_pools):
        raise ConfigError(key, "runs on CPUs but this stack's cluster has no CPU node pool (one with gpu: false)")


def _check_role_name(key: str, kind: str, name: str, config: PlatformConfig) -> None:
    role = f"{config.name_prefix}-{kind}-{name}"
    if len(role) > _IAM_ROLE_NAME_MAX:
        raise ConfigError(key, f"too long: the role name {role} must fit in {_IAM_ROLE_NAME_MAX} characters")


def _check_endpoints(config: PlatformConfig) -> None:
    """Endpoints and batch jobs against teams, the lake, the registries, the region and the cluster."""
    hosting_types = sagemaker_hosting_instance_types(config.region)
    groups = [f"{config.name_prefix}-{group.name}" for group in config.registries.model_package_groups]
    for i, endpoint in enumerate(config.endpoints):
        here = config_key("endpoints", i)
        if endpoint.team not in config.team_names:
            raise ConfigError(f"{here}.team", f"unknown team {endpoint.team!r} (configured teams: {', '.join(config.team_names)})")
        if endpoint.model is not None:
            _check_in_models_zone(f"{here}.model", endpoint.model, config)
        if endpoint.model_package is not None:
            package_region = endpoint.model_package.split(":")[3]
            if package_region != config.region:
                raise ConfigError(f"{here}.model", f"the model package is in {package_region}, the stack in {config.region}")
            group = model_package_group(endpoint.model_package)
            if group not in groups:
                raise ConfigError(f"{here}.model", f"model package group {group!r} is not one of the platform's ({', '.join(groups) or 'none configured'})")
        _check_image(f"{here}.image", endpoint.image, config, require_ecr=endpoint.backend == "sagemaker")
        _check_role_name(f"{here}.name", "ep", endpoint.name, config)
        if endpoint.instance_type is not None:
            if not hosting_types:
                raise ConfigError(f"{here}.instanceType", f"no SageMaker hosting offering is known for region {config.region} (components/{HOSTING_INSTANCES_FILE})")
            if endpoint.instance_type not in hosting_types:
                raise ConfigError(f"{here}.instanceType", f"{endpoint.instance_type} is not offered for SageMaker hosting in {config.region}")
        if endpoint.kubernetes is not None:
            _check_gpus(f"{here}.kubernetes.gpus", endpoint.kubernetes.gpus, config)
            canary = endpoint.kubernetes.canary
            if canary is not None:
                _check_image(f"{here}.kubernetes.canary.image", canary.image, config, require_ecr=False)
                if canary.model is not None:
                    _check_in_models_zone(f"{here}.kubernetes.canary.model", canary.model, config)
    if any(endpoint.capture is not None for endpoint in config.endpoints) and CAPTURE_ZONE not in [zone.name for zone in config.datalake.zones]:
        raise ConfigError(config_key("datalake", "zones"), f"endpoints capture requests into the {CAPTURE_ZONE!r} zone, which this lake lacks")

    for i, job in enumerate(config.batch_jobs):
        here = config_key("batchJobs", i)
        if job.team not in config.team_names:
            raise ConfigError(f"{here}.team", f"unknown team {job.team!r} (configured teams: {', '.join(config.team_names)})")
        _check_in_models_zone(f"{here}.model", job.model, config)
        _check_image(f"{here}.image", job.image, config, require_ecr=False)
        _check_gpus(f"{here}.gpus", job.gpus, config)
        _check_role_name(f"{here}.name", "job", job.name, config)
    _check_team_quotas(config)


def _check_team_quotas(config: PlatformConfig) -> None:
    """At full scale a team's model servers (plus canaries) and one run of each of its scoring
    jobs must fit the team's namespace quota, or the autoscaler's last replicas never start."""
    usage: dict[str, list[float]] = {}
    culprit: dict[str, str] = {}
    for i, endpoint in enumerate(config.endpoints):
        if endpoint.kubernetes is None:
            continue
        serving = endpoint.kubernetes
        pods = endpoint.max_capacity + (serving.canary.replicas if serving.canary else 0)
        total = usage.setdefault(endpoint.team, [0.0, 0.0, 0.0])
        total[0] += pods * cpu_cores(serving.cpu)
        total[1] += pods * memory_gi(serving.memory)
        total[2] += pods * serving.gpus
        culprit[endpoint.team] = config_key("endpoints", i, "maxCapacity")
    for i, job in enumerate(config.batch_jobs):
        total = usage.setdefault(job.team, [0.0, 0.0, 0.0])
        total[0] += cpu_cores(job.cpu)
        total[1] += memory_gi(job.memory)
        total[2] += job.gpus
        culprit.setdefault(job.team, config_key("batchJobs", i))
    for team, (cpu, memory, gpus) in usage.items():
        quota = config.cluster.team_quota(team)
        for what, needed, allowed in (("CPU", cpu, quota.cpu), ("memory (Gi)", memory, quota.memory_gi), ("GPUs", gpus, quota.gpus)):
            if needed > allowed:
                raise ConfigError(
                    culprit[team],
                    f"team {team!r} would need {needed:g} {what} at full scale, above its namespace quota of {allowed} ({config_key('cluster', 'teamQuotas')})",
                )


def _check_load_balancers(config: PlatformConfig) -> None:
    if config.cluster.shared_load_balancer:
        check_shared_load_balancer(
            [(("notebooks", "ingress"), config.notebooks.ingress, config.notebooks.hostname, ("notebooks", "hostname"))]
            + [(("endpoints", i, "kubernetes", "ingress"), e.kubernetes.ingress, e.kubernetes.ingress.hostname, ("endpoints", i, "kubernetes", "ingress", "hostname"))
               for i, e in enumerate(config.endpoints) if e.backend == "kubernetes"]
        )


def _check_distributed(config: PlatformConfig) -> None:
    """Queues against the cluster's pools, teams and namespace quotas; with enforceBudgets, against the budgets."""
    distributed = config.distributed
    if distributed is None:
        return
    check_queues(distributed, config.team_names, config.cluster.node_pools, config.cluster.team_quota)
    if distributed.enforce_budgets:
        # Imported here: only this check and `mlp plan` read the price catalogue.
        from components.distributed_budget import team_ceilings

        budgets = dict(config.budgets.team_monthly_limits)
        for ceiling in team_ceilings(distributed, config.cluster.node_pools, config.team_names, budgets, config.region):
            if ceiling.problem():
                raise ConfigError(config_key("distributed", *distributed.queues.config_key_of(ceiling.team)), f"{ceiling.problem()} (enforceBudgets: true)")


_DOCUMENT = TypeAdapter(PlatformConfig)


def parse_config(raw: dict[str, Any], stack: str) -> PlatformConfig:
    """Validate a stack's config (`{"mlplatform:network": {...}, "aws:region": "..."}`)."""
    try:
        return _DOCUMENT.validate_python(raw, context={"stack": stack})
    except ValidationError as error:
        raise from_validation_error(error) from None


def decode_pulumi_config(values: dict[str, Any]) -> dict[str, Any]:
    """Pulumi hands structured config to the program as JSON strings; decode them back."""
    decoded = {}
    for key, value in values.items():
        if isinstance(value, str) and value[:1] in ("{", "["):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass  # a plain string that happens to start with a bracket
            except RecursionError:
                raise ConfigError(f"{key}", "is nested too deeply to be a stack setting") from None
        decoded[key] = value
    return decoded


def load_from_pulumi() -> PlatformConfig:
    """Read the running program's config (real `pulumi up` or `mlp plan` under mocks)."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    # The SDK has no public "all keys" call; the unknown-key check needs every key that was set.
    values = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    return parse_config(decode_pulumi_config(values), pulumi.get_stack())
