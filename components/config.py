"""The whole stack configuration, parsed and validated before any resource is declared.

A stack file (`stacks/Pulumi.<env>.yaml`) holds keys in two namespaces: `aws:` (region, profile)
and `mlplatform:` (everything else). `parse_config` turns the flat `namespace:key -> value` map
into a frozen `PlatformConfig`; every bad value raises one `ConfigError` naming the full key path
(`mlplatform:network.privateSubnetCidrs[1]`) and saying what is expected.

Each capability owns one section below: a dataclass for its settings and a `_parse_<section>`
function. Readers (`_Section`) reject keys they were not asked about, so a typo never passes
silently.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Optional, TypeVar

PROJECT_NAMESPACE = "mlplatform"
ENVIRONMENTS = ("dev", "staging", "prod")

T = TypeVar("T")


class ConfigError(ValueError):
    """One bad value in the stack configuration: the key path and what was expected."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


# ---------------------------------------------------------------------------------------------
# Readers: typed access to one mapping of the config, with key paths for error messages.
# ---------------------------------------------------------------------------------------------


def _describe(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Section:
    """A mapping of the config being read; `done()` rejects every key nobody asked for."""

    def __init__(self, data: Any, path: str):
        if not isinstance(data, dict):
            raise ConfigError(path, f"expected a mapping, got {_describe(data)}")
        self.data = data
        self.path = path
        self._seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}"

    def has(self, name: str) -> bool:
        return name in self.data

    def get(self, name: str, check: Callable[[Any, str], T], default: Any = ...) -> T:
        self._seen.add(name)
        if name not in self.data or self.data[name] is None:
            if default is ...:
                raise ConfigError(self.key(name), "is required")
            return default
        return check(self.data[name], self.key(name))

    def section(self, name: str, required: bool = True) -> "_Section":
        self._seen.add(name)
        if name not in self.data:
            if required:
                raise ConfigError(self.key(name), "is required")
            return _Section({}, self.key(name))
        return _Section(self.data[name], self.key(name))

    def sections(self, name: str, min_items: int = 0, default: Any = ...) -> list["_Section"]:
        """A list of mappings, each read as its own section (`key[i]`)."""
        self._seen.add(name)
        if name not in self.data:
            if default is ...:
                raise ConfigError(self.key(name), "is required")
            return list(default)
        items = self.data[name]
        if not isinstance(items, list):
            raise ConfigError(self.key(name), f"expected a list, got {_describe(items)}")
        if len(items) < min_items:
            raise ConfigError(self.key(name), f"expected at least {min_items} item(s)")
        return [_Section(item, f"{self.key(name)}[{i}]") for i, item in enumerate(items)]

    def done(self) -> None:
        unknown = sorted(set(self.data) - self._seen)
        if unknown:
            known = ", ".join(sorted(self._seen)) or "none"
            raise ConfigError(self.key(unknown[0]), f"unknown key (known keys here: {known})")


def _string(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, f"expected a non-empty string, got {_describe(value)}")
    return value


def _boolean(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(key, f"expected true or false, got {_describe(value)}")
    return value


def integer(minimum: Optional[int] = None, maximum: Optional[int] = None) -> Callable[[Any, str], int]:
    def check(value: Any, key: str) -> int:
        # YAML gives ints; JSON-encoded config may give 30.0. Booleans are ints in Python: refuse.
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise ConfigError(key, f"expected a whole number, got {_describe(value)}")
        value = int(value)
        if minimum is not None and value < minimum:
            raise ConfigError(key, f"expected a number >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise ConfigError(key, f"expected a number <= {maximum}, got {value}")
        return value

    return check


def number(minimum: float = 0.0, maximum: Optional[float] = None) -> Callable[[Any, str], float]:
    def check(value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(key, f"expected a number, got {_describe(value)}")
        if value < minimum or (maximum is not None and value > maximum):
            upper = f" and <= {maximum}" if maximum is not None else ""
            raise ConfigError(key, f"expected a number >= {minimum}{upper}, got {value}")
        return float(value)

    return check


def one_of(*choices: str) -> Callable[[Any, str], str]:
    def check(value: Any, key: str) -> str:
        if value not in choices:
            raise ConfigError(key, f"expected one of {', '.join(choices)}, got {_describe(value)}")
        return value

    return check


def pattern(regex: str, expected: str) -> Callable[[Any, str], str]:
    compiled = re.compile(regex)

    def check(value: Any, key: str) -> str:
        if not isinstance(value, str) or not compiled.fullmatch(value):
            raise ConfigError(key, f"expected {expected}, got {_describe(value)}")
        return value

    return check


def list_of(check_item: Callable[[Any, str], T], min_items: int = 0, unique: bool = True) -> Callable[[Any, str], tuple]:
    def check(value: Any, key: str) -> tuple:
        if not isinstance(value, list):
            raise ConfigError(key, f"expected a list, got {_describe(value)}")
        if len(value) < min_items:
            raise ConfigError(key, f"expected at least {min_items} item(s), got {len(value)}")
        items = tuple(check_item(item, f"{key}[{i}]") for i, item in enumerate(value))
        if unique:
            for i, item in enumerate(items):
                if item in items[:i]:
                    raise ConfigError(f"{key}[{i}]", f"duplicate value {_describe(item)}")
        return items

    return check


def map_of(check_value: Callable[[Any, str], T]) -> Callable[[Any, str], dict]:
    def check(value: Any, key: str) -> dict:
        if not isinstance(value, dict):
            raise ConfigError(key, f"expected a mapping, got {_describe(value)}")
        return {k: check_value(v, f"{key}.{k}") for k, v in value.items()}

    return check


def cidr(value: Any, key: str) -> ipaddress.IPv4Network:
    try:
        if not isinstance(value, str) or "/" not in value:
            raise ValueError
        return ipaddress.IPv4Network(value, strict=True)
    except ValueError:
        raise ConfigError(key, f"expected an IPv4 CIDR block like 10.0.0.0/16, got {_describe(value)}") from None


def check_min_max(section: _Section, low_name: str, low: float, high_name: str, high: float) -> None:
    if low > high:
        raise ConfigError(section.key(high_name), f"must be >= {low_name} ({low}), got {high}")


# DNS label (RFC 1123) short enough to sit inside IAM role, namespace and bucket names.
dns_label = pattern(r"[a-z]([-a-z0-9]{0,30}[a-z0-9])?", "a lowercase DNS label (a-z, 0-9, '-', at most 32 characters)")

# AWS tag rules: values <= 256 characters from letters, digits, spaces and _.:/=+-@; no aws: prefix.
_TAG_VALUE = re.compile(r"[\w .:/=+\-@]{1,256}", re.UNICODE)
_TAG_KEY = re.compile(r"[\w .:/=+\-@]{1,128}", re.UNICODE)


def tag_value(value: Any, key: str) -> str:
    if not isinstance(value, str) or not _TAG_VALUE.fullmatch(value):
        raise ConfigError(
            key,
            "expected an AWS tag value: 1-256 characters of letters, digits, spaces and _ . : / = + - @, "
            f"got {_describe(value)}",
        )
    if value.lower().startswith("aws:"):
        raise ConfigError(key, "tag values may not start with the reserved prefix 'aws:'")
    return value


def tag_key(value: Any, key: str) -> str:
    if not isinstance(value, str) or not _TAG_KEY.fullmatch(value):
        raise ConfigError(key, f"expected an AWS tag key: 1-128 characters of letters, digits, spaces and _ . : / = + - @, got {_describe(value)}")
    if value.lower().startswith("aws:"):
        raise ConfigError(key, "tag keys may not start with the reserved prefix 'aws:'")
    return value


region_name = pattern(r"[a-z]{2}(-gov)?-[a-z]+-\d", "an AWS region like us-east-1")
iam_role_arn = pattern(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+", "an IAM role ARN like arn:aws:iam::123456789012:role/Admin")
account_id = pattern(r"\d{12}", "a 12-digit AWS account id")


# ---------------------------------------------------------------------------------------------
# Foundation: identity of the stack, teams and cost tags.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamConfig:
    name: str
    cost_center: Optional[str] = None  # finance may bill a team to its own cost centre


# ---------------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkConfig:
    vpc_cidr: ipaddress.IPv4Network
    availability_zones: tuple[str, ...]
    public_subnet_cidrs: tuple[ipaddress.IPv4Network, ...]
    private_subnet_cidrs: tuple[ipaddress.IPv4Network, ...]
    nat_gateways: str  # "single" or "one-per-az"
    interface_endpoints: tuple[str, ...]
    flow_log_retention_days: int
    flow_log_traffic_type: str


# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)


def log_retention(value: Any, key: str) -> int:
    days = integer(minimum=1)(value, key)
    if days not in LOG_RETENTION_DAYS:
        raise ConfigError(key, f"expected a CloudWatch Logs retention period ({', '.join(map(str, LOG_RETENTION_DAYS))}), got {days}")
    return days


def _parse_network(section: _Section, region: str) -> NetworkConfig:
    vpc_cidr = section.get("vpcCidr", cidr)
    if not 16 <= vpc_cidr.prefixlen <= 24:
        raise ConfigError(section.key("vpcCidr"), f"expected a prefix between /16 and /24, got /{vpc_cidr.prefixlen}")
    if not vpc_cidr.is_private:
        raise ConfigError(section.key("vpcCidr"), f"expected a private (RFC 1918) range, got {vpc_cidr}")

    az_pattern = pattern(rf"{re.escape(region)}[a-z]", f"an availability zone of {region} (like {region}a)")
    azs = section.get("availabilityZones", list_of(az_pattern, min_items=1))
    if not 2 <= len(azs) <= 3:
        raise ConfigError(section.key("availabilityZones"), f"expected 2 or 3 availability zones, got {len(azs)}")

    subnets: dict[str, tuple[ipaddress.IPv4Network, ...]] = {}
    for name in ("publicSubnetCidrs", "privateSubnetCidrs"):
        blocks = section.get(name, list_of(cidr))
        if len(blocks) != len(azs):
            raise ConfigError(section.key(name), f"expected one CIDR per availability zone ({len(azs)}), got {len(blocks)}")
        for i, block in enumerate(blocks):
            if not block.subnet_of(vpc_cidr):
                raise ConfigError(f"{section.key(name)}[{i}]", f"{block} is outside vpcCidr {vpc_cidr}")
        subnets[name] = blocks

    seen: list[tuple[str, ipaddress.IPv4Network]] = []
    for name, blocks in subnets.items():
        for i, block in enumerate(blocks):
            here = f"{section.key(name)}[{i}]"
            for other_key, other in seen:
                if block.overlaps(other):
                    raise ConfigError(here, f"{block} overlaps {other} ({other_key})")
            seen.append((here, block))

    config = NetworkConfig(
        vpc_cidr=vpc_cidr,
        availability_zones=azs,
        public_subnet_cidrs=subnets["publicSubnetCidrs"],
        private_subnet_cidrs=subnets["privateSubnetCidrs"],
        nat_gateways=section.get("natGateways", one_of("single", "one-per-az")),
        interface_endpoints=section.get(
            "interfaceEndpoints",
            list_of(pattern(r"[a-z0-9.-]+", "an AWS service endpoint suffix like ecr.api")),
            default=("ecr.api", "ecr.dkr", "sts"),
        ),
        flow_log_retention_days=section.get("flowLogRetentionDays", log_retention),
        flow_log_traffic_type=section.get("flowLogTrafficType", one_of("ALL", "ACCEPT", "REJECT"), default="ALL"),
    )
    section.done()
    return config


# ---------------------------------------------------------------------------------------------
# Data lake
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZoneConfig:
    name: str
    infrequent_access_after_days: Optional[int]
    glacier_after_days: Optional[int]
    expire_after_days: Optional[int]
    noncurrent_version_expiry_days: int
    team_writable: bool


@dataclass(frozen=True)
class DataLakeConfig:
    bucket_prefix: str
    zones: tuple[ZoneConfig, ...]
    access_log_retention_days: int
    protect: bool  # prod: buckets and key survive `pulumi destroy`
    kms_deletion_window_days: int

    def zone(self, name: str) -> ZoneConfig:
        return next(zone for zone in self.zones if zone.name == name)

    def bucket_name(self, zone: str) -> str:
        return f"{self.bucket_prefix}-{zone}"

    @property
    def access_log_bucket_name(self) -> str:
        return f"{self.bucket_prefix}-access-logs"


# S3 bucket names: 3-63 characters, lowercase, digits, hyphens; the zone suffix must still fit.
_bucket_prefix = pattern(r"[a-z0-9][a-z0-9-]{1,40}[a-z0-9]", "a bucket name prefix: 3-42 lowercase letters, digits and hyphens")


def _parse_zone(section: _Section) -> ZoneConfig:
    zone = ZoneConfig(
        name=section.get("name", pattern(r"[a-z][a-z0-9-]{0,18}", "a zone name: lowercase letters, digits, '-', at most 19 characters")),
        infrequent_access_after_days=section.get("infrequentAccessAfterDays", integer(minimum=30), default=None),
        glacier_after_days=section.get("glacierAfterDays", integer(minimum=1), default=None),
        expire_after_days=section.get("expireAfterDays", integer(minimum=1), default=None),
        noncurrent_version_expiry_days=section.get("noncurrentVersionExpiryDays", integer(minimum=1)),
        team_writable=section.get("teamWritable", _boolean, default=True),
    )
    # Lifecycle transitions must run in order: IA before Glacier before expiry.
    steps = [
        ("infrequentAccessAfterDays", zone.infrequent_access_after_days),
        ("glacierAfterDays", zone.glacier_after_days),
        ("expireAfterDays", zone.expire_after_days),
    ]
    present = [(name, days) for name, days in steps if days is not None]
    for (low_name, low), (high_name, high) in zip(present, present[1:]):
        if high <= low:
            raise ConfigError(section.key(high_name), f"must be greater than {low_name} ({low}), got {high}")
    section.done()
    return zone


def _parse_datalake(section: _Section) -> DataLakeConfig:
    zones = tuple(_parse_zone(zone) for zone in section.sections("zones", min_items=1))
    names = [zone.name for zone in zones]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(f"{section.key('zones')}[{i}].name", f"duplicate zone {name!r}")
    for required in ("models", "curated"):
        if required not in names:
            raise ConfigError(section.key("zones"), f"expected a {required!r} zone (registries and endpoints use it), got {', '.join(names)}")
    config = DataLakeConfig(
        bucket_prefix=section.get("bucketPrefix", _bucket_prefix),
        zones=zones,
        access_log_retention_days=section.get("accessLogRetentionDays", integer(minimum=1)),
        protect=section.get("protect", _boolean),
        kms_deletion_window_days=section.get("kmsDeletionWindowDays", integer(minimum=7, maximum=30), default=30),
    )
    section.done()
    return config


# ---------------------------------------------------------------------------------------------
# Registries: container images and the model registry
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepositoryConfig:
    name: str
    team: Optional[str]  # owner for cost tags; None means the platform team
    untagged_expiry_days: int
    keep_tagged_images: int


@dataclass(frozen=True)
class ModelPackageGroupConfig:
    name: str  # the model family
    team: str
    description: str


@dataclass(frozen=True)
class RegistriesConfig:
    immutable_tags: bool
    force_delete: bool  # let `pulumi destroy` remove repositories that still hold images
    pull_account_ids: tuple[str, ...]
    repositories: tuple[RepositoryConfig, ...]
    model_package_groups: tuple[ModelPackageGroupConfig, ...]

    @property
    def repository_names(self) -> tuple[str, ...]:
        return tuple(repository.name for repository in self.repositories)


# ECR repository name component: lowercase, digits, and single separators (. _ -).
_repository_name = pattern(r"[a-z0-9]+(?:[._-][a-z0-9]+)*", "a repository name: lowercase letters and digits separated by '.', '_' or '-'")
# SageMaker model package group names are at most 63 characters; the stack prefix is added.
_model_family = pattern(r"[a-z0-9](-?[a-z0-9]){0,31}", "a model family name: lowercase letters, digits and single '-', at most 32 characters")


def _owner_team(team_names: tuple[str, ...], platform_team: str) -> Callable[[Any, str], str]:
    def check(value: Any, key: str) -> str:
        if value not in team_names and value != platform_team:
            raise ConfigError(key, f"expected a configured team ({', '.join(team_names)}) or the platform team {platform_team!r}, got {_describe(value)}")
        return value

    return check


def _unique_names(section: _Section, list_key: str, names: list[str], what: str) -> None:
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(f"{section.key(list_key)}[{i}].name", f"duplicate {what} {name!r}")


def _parse_registries(section: _Section, team_names: tuple[str, ...], platform_team: str) -> RegistriesConfig:
    owner = _owner_team(team_names, platform_team)
    untagged_days = section.get("untaggedExpiryDays", integer(minimum=1, maximum=3650))
    keep_tagged = section.get("keepTaggedImages", integer(minimum=1, maximum=10000))

    repositories = []
    for item in section.sections("repositories", min_items=1):
        repositories.append(RepositoryConfig(
            name=item.get("name", _repository_name),
            team=item.get("team", owner, default=None),
            untagged_expiry_days=item.get("untaggedExpiryDays", integer(minimum=1, maximum=3650), default=untagged_days),
            keep_tagged_images=item.get("keepTaggedImages", integer(minimum=1, maximum=10000), default=keep_tagged),
        ))
        item.done()
    _unique_names(section, "repositories", [r.name for r in repositories], "repository")

    groups = []
    for item in section.sections("modelPackageGroups", default=()):
        groups.append(ModelPackageGroupConfig(
            name=item.get("name", _model_family),
            team=item.get("team", owner),
            description=item.get("description", pattern(r"[^\x00-\x1f]{1,1000}", "a one-line description of at most 1000 characters")),
        ))
        item.done()
    _unique_names(section, "modelPackageGroups", [g.name for g in groups], "model package group")

    config = RegistriesConfig(
        immutable_tags=section.get("immutableTags", _boolean),
        force_delete=section.get("forceDelete", _boolean, default=False),
        pull_account_ids=section.get("pullAccountIds", list_of(account_id), default=()),
        repositories=tuple(repositories),
        model_package_groups=tuple(groups),
    )
    section.done()
    return config


# ---------------------------------------------------------------------------------------------
# Cluster: EKS, the system node group, Karpenter node pools, team namespaces
# ---------------------------------------------------------------------------------------------

CAPACITY_TYPES = ("on-demand", "spot")
CONSOLIDATION_POLICIES = ("WhenEmpty", "WhenEmptyOrUnderutilized")
ARCHITECTURES = ("amd64", "arm64")
# The system node group is selected by this pool label; no Karpenter pool may take the name.
SYSTEM_POOL_NAME = "system"
# EC2 instance categories and families that carry NVIDIA GPUs (g: graphics/inference, p: training).
_GPU_CATEGORIES = ("g", "p")


@dataclass(frozen=True)
class ClusterEndpointConfig:
    public_access: bool
    public_access_cidrs: tuple[str, ...]  # empty unless public_access


@dataclass(frozen=True)
class ClusterAddonVersions:
    vpc_cni: str
    coredns: str
    kube_proxy: str
    aws_ebs_csi_driver: str
    eks_pod_identity_agent: str

    def by_addon_name(self) -> dict[str, str]:
        """EKS add-on name -> pinned version."""
        return {
            "vpc-cni": self.vpc_cni,
            "coredns": self.coredns,
            "kube-proxy": self.kube_proxy,
            "aws-ebs-csi-driver": self.aws_ebs_csi_driver,
            "eks-pod-identity-agent": self.eks_pod_identity_agent,
        }


@dataclass(frozen=True)
class ClusterChartVersions:
    karpenter: str
    nvidia_device_plugin: str
    aws_load_balancer_controller: str


@dataclass(frozen=True)
class SystemNodeGroupConfig:
    instance_types: tuple[str, ...]
    min_size: int
    desired_size: int
    max_size: int
    disk_size_gi: int


@dataclass(frozen=True)
class NodePoolConfig:
    name: str
    gpu: bool
    instance_categories: tuple[str, ...]
    instance_families: tuple[str, ...]
    instance_types: tuple[str, ...]
    capacity_types: tuple[str, ...]
    architectures: tuple[str, ...]
    cpu_limit: int  # vCPUs the pool may run at once
    memory_limit_gi: int
    gpu_limit: int  # nvidia.com/gpu the pool may run at once; 0 for CPU pools
    consolidation_policy: str
    consolidate_after: str
    expire_after: str
    disk_size_gi: int
    weight: Optional[int]


@dataclass(frozen=True)
class TeamQuotaConfig:
    cpu: int
    memory_gi: int
    gpus: int
    persistent_volume_claims: int
    storage_gi: int


@dataclass(frozen=True)
class ContainerDefaultsConfig:
    """LimitRange defaults for containers that declare no resources of their own."""
    cpu_request_millicores: int
    memory_request_mi: int
    memory_limit_mi: int


@dataclass(frozen=True)
class GpuAgentConfig:
    """The GPU utilisation agent (`mlp gpu-agent`) on every GPU node: what idle-GPU cost is measured with."""

    image: "ImageRef"
    sample_seconds: int
    publish_seconds: int
    idle_threshold_percent: float


def _parse_gpu_agent(section: _Section) -> GpuAgentConfig:
    config = GpuAgentConfig(
        image=section.get("image", image_ref),
        sample_seconds=section.get("sampleSeconds", integer(minimum=1, maximum=300), default=10),
        publish_seconds=section.get("publishSeconds", integer(minimum=60, maximum=3600), default=60),
        idle_threshold_percent=section.get("idleThresholdPercent", number(minimum=0.0, maximum=100.0), default=5.0),
    )
    if config.publish_seconds % config.sample_seconds:
        raise ConfigError(section.key("publishSeconds"), f"must be a multiple of sampleSeconds ({config.sample_seconds}), got {config.publish_seconds}")
    section.done()
    return config


@dataclass(frozen=True)
class ClusterConfig:
    kubernetes_version: str
    support_type: str  # STANDARD: upgraded at end of standard support; EXTENDED: pays for extended support
    deletion_protection: bool
    deploy_role_arn: str  # the role `pulumi up` assumes for Kubernetes API calls
    admin_role_arns: tuple[str, ...]
    endpoint: ClusterEndpointConfig
    control_plane_log_retention_days: int
    kms_deletion_window_days: int
    ami_alias: str
    controller_replicas: int
    addons: ClusterAddonVersions
    charts: ClusterChartVersions
    system_node_group: SystemNodeGroupConfig
    node_pools: tuple[NodePoolConfig, ...]
    team_quotas: tuple[tuple[str, TeamQuotaConfig], ...]
    container_defaults: ContainerDefaultsConfig
    gpu_agent: Optional[GpuAgentConfig]  # required with GPU pools: idle GPUs are what finance asks about first

    @property
    def gpu_pool_names(self) -> tuple[str, ...]:
        return tuple(pool.name for pool in self.node_pools if pool.gpu)

    @property
    def gpu_limit(self) -> int:
        return sum(pool.gpu_limit for pool in self.node_pools)

    def node_pool(self, name: str) -> NodePoolConfig:
        return next(pool for pool in self.node_pools if pool.name == name)

    def team_quota(self, team: str) -> TeamQuotaConfig:
        return dict(self.team_quotas)[team]


_kubernetes_version = pattern(r"1\.(2[89]|3\d)", "a supported EKS Kubernetes version like 1.33 (quote it in YAML)")
_addon_version = pattern(r"v\d+\.\d+\.\d+-eksbuild\.\d+", "an exact EKS add-on version like v1.20.4-eksbuild.1")
_ami_alias = pattern(r"al2023@(v\d{8}|latest)", "an AL2023 AMI alias like al2023@v20251117 (Karpenter picks the NVIDIA variant for GPU instances)")
_instance_type = pattern(r"[a-z][a-z0-9-]*\.[a-z0-9]+", "an EC2 instance type like m6i.large")
_instance_family = pattern(r"[a-z][a-z0-9-]*", "an EC2 instance family like m6i or g5")
_instance_category = pattern(r"[a-z]", "an EC2 instance category letter like c, m, r or g")
# Go durations as Karpenter reads them (`30s`, `10m`, `1h30m`).
_duration = pattern(r"(\d+(h|m|s))+", "a duration like 30s, 10m or 720h")


def _expire_after(value: Any, key: str) -> str:
    if value == "Never":
        return value
    return pattern(r"(\d+(h|m|s))+", "a duration like 720h, or Never")(value, key)


def _is_gpu_family(family: str) -> bool:
    return family[:1] in _GPU_CATEGORIES


def _is_graviton(instance_type: str) -> bool:
    """Arm instance families: a1, and a `g` right after the generation (m7g, c6gn, t4g, x2gd)."""
    family = instance_type.split(".")[0]
    return family == "a1" or re.fullmatch(r"[a-z]+\d+g[a-z]*", family) is not None


def _parse_endpoint_access(section: _Section) -> ClusterEndpointConfig:
    public = section.get("publicAccess", _boolean)
    if public:
        cidrs = section.get("publicAccessCidrs", list_of(cidr, min_items=1))
        for i, block in enumerate(cidrs):
            if block.prefixlen == 0:
                raise ConfigError(f"{section.key('publicAccessCidrs')}[{i}]", "0.0.0.0/0 opens the API server to the internet; list the networks that need it")
    elif section.has("publicAccessCidrs"):
        raise ConfigError(section.key("publicAccessCidrs"), "only applies with publicAccess: true (the endpoint is private)")
    else:
        cidrs = ()
    section.done()
    return ClusterEndpointConfig(public_access=public, public_access_cidrs=tuple(str(block) for block in cidrs))


def _parse_addons(section: _Section, kubernetes_version: str) -> ClusterAddonVersions:
    addons = ClusterAddonVersions(
        vpc_cni=section.get("vpcCni", _addon_version),
        coredns=section.get("coredns", _addon_version),
        kube_proxy=section.get("kubeProxy", _addon_version),
        aws_ebs_csi_driver=section.get("awsEbsCsiDriver", _addon_version),
        eks_pod_identity_agent=section.get("eksPodIdentityAgent", _addon_version),
    )
    # kube-proxy is built per Kubernetes minor version and must match the control plane.
    if not addons.kube_proxy.startswith(f"v{kubernetes_version}."):
        raise ConfigError(section.key("kubeProxy"), f"must be a build for Kubernetes {kubernetes_version} (v{kubernetes_version}.x-eksbuild.N), got {addons.kube_proxy}")
    section.done()
    return addons


def _parse_charts(section: _Section) -> ClusterChartVersions:
    charts = ClusterChartVersions(
        karpenter=section.get("karpenter", _chart_version),
        nvidia_device_plugin=section.get("nvidiaDevicePlugin", _chart_version),
        aws_load_balancer_controller=section.get("awsLoadBalancerController", _chart_version),
    )
    section.done()
    return charts


def _parse_system_node_group(section: _Section) -> SystemNodeGroupConfig:
    min_size = section.get("minSize", integer(minimum=1, maximum=100))
    max_size = section.get("maxSize", integer(minimum=1, maximum=100))
    check_min_max(section, "minSize", min_size, "maxSize", max_size)
    desired = section.get("desiredSize", integer(minimum=1, maximum=100), default=min_size)
    if not min_size <= desired <= max_size:
        raise ConfigError(section.key("desiredSize"), f"must be between minSize ({min_size}) and maxSize ({max_size}), got {desired}")
    group = SystemNodeGroupConfig(
        instance_types=section.get("instanceTypes", list_of(_instance_type, min_items=1)),
        min_size=min_size,
        desired_size=desired,
        max_size=max_size,
        disk_size_gi=section.get("diskSizeGi", integer(minimum=20, maximum=1000)),
    )
    for i, instance_type in enumerate(group.instance_types):
        if _is_gpu_family(instance_type):
            raise ConfigError(f"{section.key('instanceTypes')}[{i}]", f"{instance_type} is a GPU instance; GPUs belong in a Karpenter pool that scales from zero")
        if _is_graviton(instance_type):
            raise ConfigError(f"{section.key('instanceTypes')}[{i}]", f"{instance_type} is an Arm (Graviton) instance; the system node group runs the x86_64 AL2023 AMI")
    section.done()
    return group


def _parse_node_pool(section: _Section) -> NodePoolConfig:
    name = section.get("name", dns_label)
    if name == SYSTEM_POOL_NAME:
        raise ConfigError(section.key("name"), f"{SYSTEM_POOL_NAME!r} is the managed system node group's pool label; choose another name")
    gpu = section.get("gpu", _boolean)
    categories = section.get("instanceCategories", list_of(_instance_category, min_items=1), default=())
    families = section.get("instanceFamilies", list_of(_instance_family, min_items=1), default=())
    types = section.get("instanceTypes", list_of(_instance_type, min_items=1), default=())
    if not (categories or families or types):
        raise ConfigError(section.key("instanceFamilies"), "give instanceCategories, instanceFamilies or instanceTypes so the pool's capacity is bounded")
    for list_key, values in (("instanceCategories", categories), ("instanceFamilies", families), ("instanceTypes", types)):
        for i, value in enumerate(values):
            if gpu and not _is_gpu_family(value):
                raise ConfigError(f"{section.key(list_key)}[{i}]", f"{value} has no NVIDIA GPU; a gpu pool takes g or p instances only")
            if not gpu and _is_gpu_family(value):
                raise ConfigError(f"{section.key(list_key)}[{i}]", f"{value} is a GPU instance; put it in a pool with gpu: true so it gets the nvidia.com/gpu taint")

    limits = section.section("limits")
    cpu_limit = limits.get("cpu", integer(minimum=1))
    memory_limit = limits.get("memoryGi", integer(minimum=1))
    if gpu:
        gpu_limit = limits.get("gpus", integer(minimum=0))
    elif limits.has("gpus"):
        raise ConfigError(limits.key("gpus"), "only pools with gpu: true have a GPU limit")
    else:
        gpu_limit = 0
    limits.done()

    pool = NodePoolConfig(
        name=name,
        gpu=gpu,
        instance_categories=categories,
        instance_families=families,
        instance_types=types,
        capacity_types=section.get("capacityTypes", list_of(one_of(*CAPACITY_TYPES), min_items=1)),
        architectures=section.get("architectures", list_of(one_of(*ARCHITECTURES), min_items=1), default=("amd64",)),
        cpu_limit=cpu_limit,
        memory_limit_gi=memory_limit,
        gpu_limit=gpu_limit,
        consolidation_policy=section.get("consolidationPolicy", one_of(*CONSOLIDATION_POLICIES)),
        consolidate_after=section.get("consolidateAfter", _duration),
        expire_after=section.get("expireAfter", _expire_after),
        disk_size_gi=section.get("diskSizeGi", integer(minimum=20, maximum=16384)),
        weight=section.get("weight", integer(minimum=0, maximum=100), default=None),
    )
    section.done()
    return pool


_QUOTA_KEYS = {
    "cpu": ("cpu", integer(minimum=1)),
    "memoryGi": ("memory_gi", integer(minimum=1)),
    "gpus": ("gpus", integer(minimum=0)),
    "persistentVolumeClaims": ("persistent_volume_claims", integer(minimum=0)),
    "storageGi": ("storage_gi", integer(minimum=0)),
}


def _parse_team_quotas(section: _Section, team_names: tuple[str, ...]) -> tuple[tuple[str, TeamQuotaConfig], ...]:
    default_section = section.section("default")
    default = {field_name: default_section.get(key, check) for key, (field_name, check) in _QUOTA_KEYS.items()}
    default_section.done()
    overrides = section.section("teams", required=False)
    quotas = []
    for team in team_names:
        values = dict(default)
        if overrides.has(team):
            team_section = overrides.section(team)
            for key, (field_name, check) in _QUOTA_KEYS.items():
                values[field_name] = team_section.get(key, check, default=values[field_name])
            team_section.done()
        quotas.append((team, TeamQuotaConfig(**values)))
    for team in overrides.data:
        if team not in team_names:
            raise ConfigError(overrides.key(team), f"unknown team (configured teams: {', '.join(team_names)})")
    overrides.done()
    section.done()
    return tuple(quotas)


def _parse_container_defaults(section: _Section) -> ContainerDefaultsConfig:
    defaults = ContainerDefaultsConfig(
        cpu_request_millicores=section.get("cpuRequestMillicores", integer(minimum=10, maximum=64000)),
        memory_request_mi=section.get("memoryRequestMi", integer(minimum=16, maximum=1048576)),
        memory_limit_mi=section.get("memoryLimitMi", integer(minimum=16, maximum=1048576)),
    )
    check_min_max(section, "memoryRequestMi", defaults.memory_request_mi, "memoryLimitMi", defaults.memory_limit_mi)
    section.done()
    return defaults


def _parse_cluster(section: _Section, team_names: tuple[str, ...]) -> ClusterConfig:
    kubernetes_version = section.get("kubernetesVersion", _kubernetes_version)
    deploy_role = section.get("deployRoleArn", iam_role_arn)
    admins = section.get("adminRoleArns", list_of(iam_role_arn, min_items=1))
    if deploy_role in admins:
        raise ConfigError(section.key("adminRoleArns"), f"{deploy_role} is already deployRoleArn (it gets cluster admin access once)")
    role_names = [arn.rsplit("/", 1)[1] for arn in admins]
    for i, role_name in enumerate(role_names):
        if role_name in role_names[:i]:
            raise ConfigError(f"{section.key('adminRoleArns')}[{i}]", f"another admin role is also named {role_name!r}; access entries are named after their role")
    pools = tuple(_parse_node_pool(item) for item in section.sections("nodePools", min_items=1))
    _unique_names(section, "nodePools", [pool.name for pool in pools], "node pool")
    config = ClusterConfig(
        kubernetes_version=kubernetes_version,
        support_type=section.get("supportType", one_of("STANDARD", "EXTENDED")),
        deletion_protection=section.get("deletionProtection", _boolean),
        deploy_role_arn=deploy_role,
        admin_role_arns=admins,
        endpoint=_parse_endpoint_access(section.section("endpoint")),
        control_plane_log_retention_days=section.get("controlPlaneLogRetentionDays", log_retention),
        kms_deletion_window_days=section.get("kmsDeletionWindowDays", integer(minimum=7, maximum=30), default=30),
        ami_alias=section.get("amiAlias", _ami_alias),
        controller_replicas=section.get("controllerReplicas", integer(minimum=1, maximum=5)),
        addons=_parse_addons(section.section("addons"), kubernetes_version),
        charts=_parse_charts(section.section("charts")),
        system_node_group=_parse_system_node_group(section.section("systemNodeGroup")),
        node_pools=pools,
        team_quotas=_parse_team_quotas(section.section("teamQuotas"), team_names),
        container_defaults=_parse_container_defaults(section.section("containerDefaults")),
        gpu_agent=_parse_gpu_agent(section.section("gpuAgent")) if section.has("gpuAgent") else None,
    )
    # Karpenter's chart keeps its replicas on distinct nodes (required anti-affinity) and nothing
    # scales the system node group up, so only the nodes it always has count.
    if config.controller_replicas > config.system_node_group.min_size:
        raise ConfigError(section.key("controllerReplicas"), f"controller replicas each need their own system node, and the system node group may shrink to minSize ({config.system_node_group.min_size}); got {config.controller_replicas} replicas")
    for team, quota in config.team_quotas:
        where = section.key("teamQuotas") + (f".teams.{team}.gpus" if team in section.data["teamQuotas"].get("teams", {}) else ".default.gpus")
        if quota.gpus and not config.gpu_pool_names:
            raise ConfigError(where, f"team {team!r} has a GPU quota but the cluster has no GPU node pool")
        if quota.gpus > config.gpu_limit:
            raise ConfigError(where, f"team {team!r} may request {quota.gpus} GPUs but the GPU pools are limited to {config.gpu_limit}")
    section.done()
    return config


def _check_gpu_agent(top: _Section, config: "PlatformConfig") -> None:
    key = f"{top.key('cluster')}.gpuAgent"
    agent = config.cluster.gpu_agent
    if config.cluster.gpu_pool_names and agent is None:
        raise ConfigError(key, "is required when the cluster has GPU node pools: it measures what idle GPUs cost")
    if agent is not None and not config.cluster.gpu_pool_names:
        raise ConfigError(key, "the cluster has no GPU node pool for the agent to run on")
    if agent is not None:
        _check_image(f"{key}.image", agent.image, config, require_ecr=False)


# ---------------------------------------------------------------------------------------------
# Notebooks: JupyterHub with CPU, GPU and RStudio profiles
# ---------------------------------------------------------------------------------------------

PROFILE_KINDS = ("cpu", "gpu", "rstudio")
AUTH_TYPES = ("oidc", "dummy")
# Only these environments may run JupyterHub without a real identity provider.
INSECURE_AUTH_ENVIRONMENTS = ("dev",)


@dataclass(frozen=True)
class NotebookProfileConfig:
    name: str
    display_name: str
    description: str
    kind: str  # cpu, gpu or rstudio
    cpu: float
    memory_gi: int
    gpus: int  # 0 unless kind is gpu
    repository: Optional[str]  # a registries repository; the image is <its URL>:<tag>
    tag: Optional[str]
    image: Optional[str]  # a full image reference instead of repository + tag
    default: bool
    start_timeout_seconds: Optional[int]  # None: the hub-wide default


@dataclass(frozen=True)
class NotebookAuthConfig:
    type: str  # oidc or dummy
    client_id: Optional[str] = None
    client_secret_name: Optional[str] = None  # Secrets Manager secret name or ARN, never the secret
    authorize_url: Optional[str] = None
    token_url: Optional[str] = None
    userdata_url: Optional[str] = None
    username_claim: str = "preferred_username"
    groups_claim: str = "groups"
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    admin_groups: tuple[str, ...] = ()
    team_groups: tuple[tuple[str, str], ...] = ()  # (team, identity-provider group)


@dataclass(frozen=True)
class NotebookCullingConfig:
    enabled: bool
    idle_timeout_minutes: int
    check_interval_minutes: int
    max_age_hours: int  # 0: no maximum age


@dataclass(frozen=True)
class NotebookIngressConfig:
    scheme: str  # internet-facing or internal
    certificate_arn: str
    allowed_cidrs: tuple[str, ...]


@dataclass(frozen=True)
class NotebooksConfig:
    chart_version: str
    hostname: str
    start_timeout_seconds: int
    storage_capacity_gi: int
    ingress: NotebookIngressConfig
    auth: NotebookAuthConfig
    culling: NotebookCullingConfig
    profiles: tuple[NotebookProfileConfig, ...]


_https_url = pattern(r"https://[A-Za-z0-9.-]+(:\d+)?(/[^\s]*)?", "an https:// URL")
_hostname = pattern(r"(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", "a fully qualified lowercase host name like notebooks.example.com")
acm_certificate_arn = pattern(r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}", "an ACM certificate ARN like arn:aws:acm:us-east-1:123456789012:certificate/<uuid>")
_secret_reference = pattern(
    r"(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+)|([\w/+=.@-]{1,512})",
    "a Secrets Manager secret name or ARN",
)
_chart_version = pattern(r"\d+\.\d+\.\d+", "an exact chart version like 4.2.0 (no ranges)")
_image_tag = pattern(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", "an image tag (letters, digits, '_', '.', '-')")
_image_reference = pattern(r"[a-z0-9.-]+(:\d+)?/[a-z0-9._/-]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})", "a full image reference with a registry and a tag or digest, like quay.io/jupyter/scipy-notebook:2025-01-13")
_claim = pattern(r"[A-Za-z_][A-Za-z0-9_.:-]{0,63}", "a token claim name")
_group = pattern(r"[^\s,]{1,128}", "an identity-provider group name without spaces or commas")


def _parse_profile(section: _Section, repositories: tuple[str, ...]) -> NotebookProfileConfig:
    kind = section.get("kind", one_of(*PROFILE_KINDS))
    name = section.get("name", dns_label)
    if kind == "gpu":
        gpus = section.get("gpus", integer(minimum=1, maximum=8))
    elif section.has("gpus"):
        raise ConfigError(section.key("gpus"), f"only gpu profiles request GPUs; this profile is {kind!r}")
    else:
        gpus = 0

    repository = section.get("repository", one_of(*repositories), default=None)
    tag = section.get("tag", _image_tag, default=None)
    image = section.get("image", _image_reference, default=None)
    if image is not None and (repository is not None or tag is not None):
        raise ConfigError(section.key("image"), "give either image or repository + tag, not both")
    if image is None:
        if repository is None:
            raise ConfigError(section.key("repository"), f"is required (one of {', '.join(repositories)}) unless image is given")
        if tag is None:
            raise ConfigError(section.key("tag"), "is required with repository (pin the image; tags are immutable outside dev)")
    if tag == "latest" or (image or "").endswith(":latest"):
        raise ConfigError(section.key("tag" if tag else "image"), "'latest' is not a pinned image; use a version tag")

    profile = NotebookProfileConfig(
        name=name,
        display_name=section.get("displayName", pattern(r"[^\x00-\x1f]{1,80}", "a display name of at most 80 characters")),
        description=section.get("description", pattern(r"[^\x00-\x1f]{1,300}", "a one-line description of at most 300 characters"), default=""),
        kind=kind,
        cpu=section.get("cpu", number(minimum=0.25, maximum=192)),
        memory_gi=section.get("memoryGi", integer(minimum=1, maximum=1536)),
        gpus=gpus,
        repository=repository,
        tag=tag,
        image=image,
        default=section.get("default", _boolean, default=False),
        start_timeout_seconds=section.get("startTimeoutSeconds", integer(minimum=60, maximum=3600), default=None),
    )
    section.done()
    return profile


def _parse_notebook_auth(section: _Section, team_names: tuple[str, ...]) -> NotebookAuthConfig:
    auth_type = section.get("type", one_of(*AUTH_TYPES))
    if auth_type == "dummy":
        section.done()  # a dummy authenticator takes no identity-provider settings
        return NotebookAuthConfig(type="dummy")
    team_groups = section.get("teamGroups", map_of(_group))
    for team in team_groups:
        if team not in team_names:
            raise ConfigError(f"{section.key('teamGroups')}.{team}", f"unknown team (configured teams: {', '.join(team_names)})")
    for team in team_names:
        if team not in team_groups:
            raise ConfigError(section.key("teamGroups"), f"expected an identity-provider group for every team; {team!r} has none")
    auth = NotebookAuthConfig(
        type=auth_type,
        client_id=section.get("clientId", pattern(r"[\w.@:/-]{1,255}", "an OAuth client id")),
        client_secret_name=section.get("clientSecretName", _secret_reference),
        authorize_url=section.get("authorizeUrl", _https_url),
        token_url=section.get("tokenUrl", _https_url),
        userdata_url=section.get("userdataUrl", _https_url),
        username_claim=section.get("usernameClaim", _claim, default="preferred_username"),
        groups_claim=section.get("groupsClaim", _claim, default="groups"),
        scopes=section.get("scopes", list_of(pattern(r"[\w.:/-]{1,128}", "an OAuth scope"), min_items=1), default=("openid", "profile", "email")),
        admin_groups=section.get("adminGroups", list_of(_group), default=()),
        team_groups=tuple(sorted(team_groups.items())),
    )
    if "openid" not in auth.scopes:
        raise ConfigError(section.key("scopes"), "expected the 'openid' scope (the hub reads OIDC claims)")
    section.done()
    return auth


def _parse_culling(section: _Section) -> NotebookCullingConfig:
    culling = NotebookCullingConfig(
        enabled=section.get("enabled", _boolean),
        idle_timeout_minutes=section.get("idleTimeoutMinutes", integer(minimum=5, maximum=10080)),
        check_interval_minutes=section.get("checkIntervalMinutes", integer(minimum=1, maximum=60)),
        max_age_hours=section.get("maxAgeHours", integer(minimum=0, maximum=720)),
    )
    if culling.check_interval_minutes >= culling.idle_timeout_minutes:
        raise ConfigError(section.key("checkIntervalMinutes"), f"must be shorter than idleTimeoutMinutes ({culling.idle_timeout_minutes}), got {culling.check_interval_minutes}")
    if culling.max_age_hours and culling.max_age_hours * 60 < culling.idle_timeout_minutes:
        raise ConfigError(section.key("maxAgeHours"), f"must be 0 (no maximum) or at least idleTimeoutMinutes ({culling.idle_timeout_minutes} minutes), got {culling.max_age_hours} hours")
    section.done()
    return culling


def _parse_notebook_ingress(section: _Section) -> NotebookIngressConfig:
    ingress = NotebookIngressConfig(
        scheme=section.get("scheme", one_of("internet-facing", "internal")),
        certificate_arn=section.get("certificateArn", acm_certificate_arn),
        allowed_cidrs=tuple(str(block) for block in section.get("allowedCidrs", list_of(cidr, min_items=1))),
    )
    section.done()
    return ingress


def _parse_notebooks(section: _Section, team_names: tuple[str, ...], repositories: tuple[str, ...]) -> NotebooksConfig:
    profiles = tuple(_parse_profile(item, repositories) for item in section.sections("profiles", min_items=1))
    _unique_names(section, "profiles", [p.name for p in profiles], "profile")
    defaults = [i for i, profile in enumerate(profiles) if profile.default]
    if len(defaults) > 1:
        raise ConfigError(f"{section.key('profiles')}[{defaults[1]}].default", "only one profile can be the default")
    start_timeout = section.get("startTimeoutSeconds", integer(minimum=60, maximum=3600))
    for i, profile in enumerate(profiles):
        if profile.kind != "gpu":
            continue
        key = f"{section.key('profiles')}[{i}].startTimeoutSeconds"
        # GPU nodes scale from zero: a node must launch and pull a large image before the pod starts.
        if profile.start_timeout_seconds is None:
            raise ConfigError(key, f"is required for gpu profiles (longer than startTimeoutSeconds {start_timeout}: GPU nodes scale from zero)")
        if profile.start_timeout_seconds <= start_timeout:
            raise ConfigError(key, f"must be longer than startTimeoutSeconds ({start_timeout}) because GPU nodes scale from zero, got {profile.start_timeout_seconds}")
    config = NotebooksConfig(
        chart_version=section.get("chartVersion", _chart_version),
        hostname=section.get("hostname", _hostname),
        start_timeout_seconds=start_timeout,
        storage_capacity_gi=section.get("storageCapacityGi", integer(minimum=1, maximum=16384)),
        ingress=_parse_notebook_ingress(section.section("ingress")),
        auth=_parse_notebook_auth(section.section("auth"), team_names),
        culling=_parse_culling(section.section("culling")),
        profiles=profiles,
    )
    section.done()
    return config


def _check_notebooks_across_sections(top: "_Section", config: "PlatformConfig") -> None:
    """Rules that compare the notebooks section with the environment and the cluster."""
    notebooks = config.notebooks
    auth_key = f"{top.key('notebooks')}.auth.type"
    if notebooks.auth.type == "dummy" and config.environment not in INSECURE_AUTH_ENVIRONMENTS:
        raise ConfigError(auth_key, f"dummy authentication is allowed only in {', '.join(INSECURE_AUTH_ENVIRONMENTS)}; {config.environment} needs oidc")
    # An ALB only uses certificates of its own region; Secrets Manager is read in the stack's region.
    certificate_region = notebooks.ingress.certificate_arn.split(":")[3]
    if certificate_region != config.region:
        raise ConfigError(f"{top.key('notebooks')}.ingress.certificateArn", f"the certificate is in {certificate_region} but the stack runs in {config.region}; an ALB needs a certificate of its own region")
    secret = notebooks.auth.client_secret_name or ""
    if secret.startswith("arn:") and secret.split(":")[3] != config.region:
        raise ConfigError(f"{top.key('notebooks')}.auth.clientSecretName", f"the secret is in {secret.split(':')[3]} but the stack runs in {config.region}; replicate it to {config.region}")
    cpu_pools = [pool.name for pool in config.cluster.node_pools if not pool.gpu]
    for i, profile in enumerate(notebooks.profiles):
        if profile.kind == "gpu" and not config.cluster.gpu_pool_names:
            raise ConfigError(f"{top.key('notebooks')}.profiles[{i}].kind", f"a gpu profile needs a GPU node pool, but {top.key('cluster')}.nodePools has no pool with gpu: true")
        # User servers never run on the system nodes, and GPU pools are tainted against them.
        if profile.kind != "gpu" and not cpu_pools:
            raise ConfigError(f"{top.key('notebooks')}.profiles[{i}].kind", f"a {profile.kind} profile needs a CPU node pool, but {top.key('cluster')}.nodePools has no pool with gpu: false")


# ---------------------------------------------------------------------------------------------
# Endpoints and batch scoring jobs
# ---------------------------------------------------------------------------------------------

ENDPOINT_BACKENDS = ("sagemaker", "kubernetes")
# Data capture of SageMaker endpoints lands in this zone: its lifecycle expiry bounds what
# captured payloads (which may hold personal data) cost and how long they are kept, while the
# models zone keeps immutable model artifacts indefinitely.
CAPTURE_ZONE = "artifacts"
# Batch scoring reads its input from and writes predictions back to this zone.
SCORING_ZONE = "curated"

_HOSTING_INSTANCES_FILE = "data/sagemaker_hosting_instances.json"


def sagemaker_hosting_instance_types(region: str) -> tuple[str, ...]:
    """Instance types SageMaker offers for real-time hosting in `region` (empty if unknown)."""
    return tuple(_hosting_table()["regions"].get(region, ()))


def has_instance_storage(instance_type: str) -> bool:
    """Whether a hosting instance type has NVMe instance storage (SageMaker then refuses a KMS key)."""
    return instance_type.split(".")[1] in _hosting_table()["instanceStorageFamilies"]


def _hosting_table() -> dict:
    from pathlib import Path

    return json.loads((Path(__file__).parent / _HOSTING_INSTANCES_FILE).read_text())


@dataclass(frozen=True)
class ImageRef:
    """A serving image: a platform ECR repository plus tag or digest, or a full image URI."""

    repository: Optional[str]  # platform repository name (config.registries), None for a full URI
    uri: Optional[str]  # full URI when not a platform repository
    tag: Optional[str]
    digest: Optional[str]

    @property
    def reference(self) -> str:
        """`:tag` or `@sha256:...`, appended to the repository URL."""
        return f"@{self.digest}" if self.digest else f":{self.tag}"

    @property
    def ecr_repository_arn_parts(self) -> Optional[tuple[str, str, str]]:
        """(region, account, repository) of a full private-ECR URI, else None."""
        if self.uri is None:
            return None
        match = _ECR_URI.fullmatch(self.uri)
        return (match["region"], match["account"], match["repository"]) if match else None


_ECR_URI = re.compile(r"(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repository>[a-z0-9][a-z0-9._/-]*)")
_IMAGE_NAME = r"[a-z0-9][a-z0-9._/-]*"
_IMAGE_HOST = r"[a-zA-Z0-9.-]+(:\d+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"sha256:[a-f0-9]{64}"
_IMAGE_REF = re.compile(rf"(?:(?P<host>{_IMAGE_HOST})/)?(?P<name>{_IMAGE_NAME})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?")


def image_ref(value: Any, key: str) -> ImageRef:
    match = _IMAGE_REF.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise ConfigError(key, f"expected an image like serving:1.4.2, serving@sha256:<digest> or a full image URI, got {_describe(value)}")
    if not match["tag"] and not match["digest"]:
        raise ConfigError(key, f"the image must be pinned by a tag or digest, got {_describe(value)}")
    if match["tag"] == "latest" and not match["digest"]:
        raise ConfigError(key, "the tag 'latest' moves; pin the image by a version tag or a digest")
    host = match["host"]
    if host and ("." in host or ":" in host or host == "localhost"):
        return ImageRef(repository=None, uri=f"{host}/{match['name']}", tag=match["tag"], digest=match["digest"])
    name = f"{host}/{match['name']}" if host else match["name"]
    return ImageRef(repository=name, uri=None, tag=match["tag"], digest=match["digest"])


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str  # object key, or a prefix ending in '/'

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def is_prefix(self) -> bool:
        return self.key.endswith("/")


def s3_uri(value: Any, key: str) -> S3Location:
    match = re.fullmatch(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(\S+)", value) if isinstance(value, str) else None
    if not match:
        raise ConfigError(key, f"expected an S3 URI like s3://bucket/path/model.tar.gz, got {_describe(value)}")
    return S3Location(bucket=match[1], key=match[2])


model_package_arn = pattern(
    r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[A-Za-z0-9-]{1,63}/\d+",
    "a versioned SageMaker model package ARN like arn:aws:sagemaker:us-east-1:123456789012:model-package/demand/3",
)

def model_package_group(package_arn: str) -> str:
    """The model package group of a versioned package ARN (`...:model-package/<group>/<version>`)."""
    return package_arn.rsplit("/", 2)[1]


# Kubernetes resource quantities: CPU like 500m or 2, memory like 512Mi or 4Gi.
cpu_quantity = pattern(r"\d+(\.\d+)?|\d+m", "a CPU quantity like 500m or 2")
memory_quantity = pattern(r"\d+(Ki|Mi|Gi|Ti)", "a memory quantity like 512Mi or 4Gi")
# A key prefix inside a zone bucket, like teams/forecasting/sales/.
key_prefix = pattern(r"([A-Za-z0-9!_.*'()-]+/)+", "an S3 key prefix ending in '/' like teams/forecasting/sales/")


def cron_schedule(value: Any, key: str) -> str:
    """A schedule Kubernetes CronJobs accept: five cron fields or a macro like @daily."""
    from croniter import croniter

    macros = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
    if isinstance(value, str) and (value in macros or (len(value.split()) == 5 and croniter.is_valid(value))):
        return value
    raise ConfigError(key, f"expected a cron schedule of five fields (like '0 3 * * *') or one of {', '.join(macros)}, got {_describe(value)}")


@dataclass(frozen=True)
class ServerlessConfig:
    memory_size_mb: int
    max_concurrency: int


@dataclass(frozen=True)
class RolloutConfig:
    """Blue/green update: shift `canary_percent` of capacity, bake, then the rest; without a
    canary all traffic moves at once and the old fleet stays up for the termination wait."""

    canary_percent: Optional[int]
    wait_seconds: int
    termination_wait_seconds: int
    maximum_execution_timeout_seconds: int


@dataclass(frozen=True)
class RollbackAlarmsConfig:
    """Alarms that roll a deployment back: 5xx errors and model latency per period."""

    max_5xx_errors: int
    max_model_latency_ms: int
    period_seconds: int
    evaluation_periods: int


@dataclass(frozen=True)
class KubernetesCanaryConfig:
    image: ImageRef
    model: Optional[S3Location]
    weight_percent: int
    replicas: int


@dataclass(frozen=True)
class KubernetesServingConfig:
    port: int
    health_path: str
    cpu: str
    memory: str
    gpus: int
    target_cpu_utilization_percent: int
    canary: Optional[KubernetesCanaryConfig]


@dataclass(frozen=True)
class EndpointConfig:
    name: str
    team: str
    backend: str
    model: Optional[S3Location]  # S3 artifact (object or prefix) in the models zone
    model_package: Optional[str]  # or a SageMaker model package ARN
    image: ImageRef
    environment: tuple[tuple[str, str], ...]
    min_capacity: int
    max_capacity: int
    # sagemaker
    instance_type: Optional[str] = None
    serverless: Optional[ServerlessConfig] = None
    target_invocations_per_instance: Optional[int] = None
    capture_sampling_percent: Optional[int] = None
    rollout: Optional[RolloutConfig] = None
    alarms: Optional[RollbackAlarmsConfig] = None
    # kubernetes
    kubernetes: Optional[KubernetesServingConfig] = None

    @property
    def capture_prefix(self) -> str:
        return f"captures/{self.name}/"


@dataclass(frozen=True)
class BatchJobConfig:
    name: str
    team: str
    schedule: str
    image: ImageRef
    model: S3Location
    input_prefix: str  # in the curated zone
    output_prefix: str  # in the curated zone, under the team's prefix
    cpu: str
    memory: str
    gpus: int
    active_deadline_seconds: int
    environment: tuple[tuple[str, str], ...]


_env_name = pattern(r"[A-Za-z_][A-Za-z0-9_]*", "an environment variable name")
# Names the platform sets itself; config may not override them.
_RESERVED_ENV = ("MODEL_URI", "INPUT_URI", "OUTPUT_URI", "AWS_REGION", "PORT")


def _environment(section: _Section) -> tuple[tuple[str, str], ...]:
    values = section.get("environment", map_of(_string), default={})
    for name in values:
        _env_name(name, f"{section.key('environment')}.{name}")
        if name in _RESERVED_ENV:
            raise ConfigError(f"{section.key('environment')}.{name}", f"is set by the platform ({', '.join(_RESERVED_ENV)} are reserved)")
    return tuple(sorted(values.items()))


_BACKEND_ONLY_KEYS = {
    "sagemaker": ("instanceType", "serverless", "targetInvocationsPerInstance", "capture", "rollout", "alarms"),
    "kubernetes": ("kubernetes",),
}


def _parse_endpoint(section: _Section) -> EndpointConfig:
    backend = section.get("backend", one_of(*ENDPOINT_BACKENDS), default="sagemaker")
    for other, keys in _BACKEND_ONLY_KEYS.items():
        for name in keys:
            if other != backend and section.has(name):
                raise ConfigError(section.key(name), f"applies only to backend {other}, this endpoint's backend is {backend}")

    model_value = section.get("model", _string)
    model = model_package = None
    if model_value.startswith("arn:"):
        if backend != "sagemaker":
            raise ConfigError(section.key("model"), "model package ARNs are served by backend sagemaker only; use an s3:// model URI")
        model_package = model_package_arn(model_value, section.key("model"))
    else:
        model = s3_uri(model_value, section.key("model"))

    common = dict(
        name=section.get("name", dns_label),
        team=section.get("team", dns_label),
        backend=backend,
        model=model,
        model_package=model_package,
        image=section.get("image", image_ref),
        environment=_environment(section),
    )
    if backend == "sagemaker":
        endpoint = _parse_sagemaker_endpoint(section, common)
    else:
        endpoint = _parse_kubernetes_endpoint(section, common)
    section.done()
    return endpoint


def _parse_rollout(section: _Section, min_capacity: int) -> RolloutConfig:
    rollout_section = section.section("rollout")
    rollout = RolloutConfig(
        canary_percent=rollout_section.get("canaryPercent", integer(minimum=1, maximum=50), default=None),
        wait_seconds=rollout_section.get("waitSeconds", integer(minimum=0, maximum=3600)),
        termination_wait_seconds=rollout_section.get("terminationWaitSeconds", integer(minimum=0, maximum=3600), default=0),
        maximum_execution_timeout_seconds=rollout_section.get("maximumExecutionTimeoutSeconds", integer(minimum=600, maximum=14400), default=3600),
    )
    if rollout.canary_percent is not None and -(-min_capacity * rollout.canary_percent // 100) > min_capacity / 2:
        # SageMaker's canary is at most half the fleet, and at least one whole instance.
        raise ConfigError(
            rollout_section.key("canaryPercent"),
            f"a canary of {rollout.canary_percent}% is more than half of a {min_capacity}-instance fleet; raise minCapacity to 2 or more, "
            "or leave canaryPercent out for an all-at-once blue/green update",
        )
    if rollout.wait_seconds >= rollout.maximum_execution_timeout_seconds:
        raise ConfigError(rollout_section.key("waitSeconds"), f"must be shorter than maximumExecutionTimeoutSeconds ({rollout.maximum_execution_timeout_seconds})")
    rollout_section.done()
    return rollout


def _parse_sagemaker_endpoint(section: _Section, common: dict) -> EndpointConfig:
    serverless = None
    if section.has("serverless"):
        # Serverless endpoints cost nothing idle but take no instance type, instance autoscaling or
        # data capture (AWS does not support capture on serverless variants).
        # Nor deployment guardrails: canary shifting and alarm rollback exist only for real-time endpoints.
        for name in ("instanceType", "minCapacity", "maxCapacity", "targetInvocationsPerInstance", "capture", "rollout"):
            if section.has(name):
                raise ConfigError(section.key(name), "does not apply to a serverless endpoint (it scales by serverless.maxConcurrency, cannot capture data, "
                                  "and SageMaker's canary rollout and rollback exist only for real-time endpoints)")
        serverless_section = section.section("serverless")
        memory = serverless_section.get("memorySizeMb", integer(minimum=1024, maximum=6144))
        if memory % 1024:
            raise ConfigError(serverless_section.key("memorySizeMb"), f"expected 1024, 2048, 3072, 4096, 5120 or 6144, got {memory}")
        serverless = ServerlessConfig(memory_size_mb=memory, max_concurrency=serverless_section.get("maxConcurrency", integer(minimum=1, maximum=200)))
        serverless_section.done()
        min_capacity = max_capacity = 0
        instance_type = target = sampling = None
    else:
        instance_type = section.get("instanceType", pattern(r"ml\.[a-z0-9]+\.[a-z0-9]+", "a SageMaker instance type like ml.m5.large"))
        min_capacity = section.get("minCapacity", integer(minimum=1))
        max_capacity = section.get("maxCapacity", integer(minimum=1))
        check_min_max(section, "minCapacity", min_capacity, "maxCapacity", max_capacity)
        target = section.get("targetInvocationsPerInstance", integer(minimum=1))
        capture = section.section("capture")
        sampling = capture.get("samplingPercent", integer(minimum=1, maximum=100))
        capture.done()

    rollout = None if serverless else _parse_rollout(section, min_capacity)

    alarms_section = section.section("alarms")
    alarms = RollbackAlarmsConfig(
        max_5xx_errors=alarms_section.get("max5xxErrors", integer(minimum=0)),
        max_model_latency_ms=alarms_section.get("maxModelLatencyMs", integer(minimum=1)),
        # SageMaker publishes endpoint metrics once a minute: a 10 or 30 second alarm period would
        # mostly see no data and, treating missing data as fine, never roll anything back.
        period_seconds=alarms_section.get("periodSeconds", one_of_int(60, 120, 300, 600), default=60),
        evaluation_periods=alarms_section.get("evaluationPeriods", integer(minimum=1, maximum=10), default=2),
    )
    alarms_section.done()

    return EndpointConfig(
        **common,
        min_capacity=min_capacity,
        max_capacity=max_capacity,
        instance_type=instance_type,
        serverless=serverless,
        target_invocations_per_instance=target,
        capture_sampling_percent=sampling,
        rollout=rollout,
        alarms=alarms,
    )


def one_of_int(*choices: int) -> Callable[[Any, str], int]:
    def check(value: Any, key: str) -> int:
        number_value = integer()(value, key)
        if number_value not in choices:
            raise ConfigError(key, f"expected one of {', '.join(map(str, choices))}, got {number_value}")
        return number_value

    return check


def _parse_kubernetes_endpoint(section: _Section, common: dict) -> EndpointConfig:
    min_capacity = section.get("minCapacity", integer(minimum=1))
    max_capacity = section.get("maxCapacity", integer(minimum=1))
    check_min_max(section, "minCapacity", min_capacity, "maxCapacity", max_capacity)
    serving = section.section("kubernetes")
    canary = None
    if serving.has("canary"):
        canary_section = serving.section("canary")
        canary_model = canary_section.get("model", s3_uri, default=None)
        canary = KubernetesCanaryConfig(
            image=canary_section.get("image", image_ref),
            model=canary_model,
            weight_percent=canary_section.get("weightPercent", integer(minimum=1, maximum=50)),
            replicas=canary_section.get("replicas", integer(minimum=1), default=1),
        )
        canary_section.done()
    config = KubernetesServingConfig(
        port=serving.get("port", integer(minimum=1024, maximum=65535), default=8080),
        health_path=serving.get("healthPath", pattern(r"/[A-Za-z0-9/_.-]*", "an HTTP path like /ping"), default="/ping"),
        cpu=serving.get("cpu", cpu_quantity),
        memory=serving.get("memory", memory_quantity),
        gpus=serving.get("gpus", integer(minimum=0, maximum=8), default=0),
        target_cpu_utilization_percent=serving.get("targetCpuUtilizationPercent", integer(minimum=10, maximum=95)),
        canary=canary,
    )
    serving.done()
    return EndpointConfig(**common, min_capacity=min_capacity, max_capacity=max_capacity, kubernetes=config)


def _parse_batch_job(section: _Section) -> BatchJobConfig:
    job = BatchJobConfig(
        name=section.get("name", dns_label),
        team=section.get("team", dns_label),
        schedule=section.get("schedule", cron_schedule),
        image=section.get("image", image_ref),
        model=section.get("model", s3_uri),
        input_prefix=section.get("inputPrefix", key_prefix),
        output_prefix=section.get("outputPrefix", key_prefix),
        cpu=section.get("cpu", cpu_quantity),
        memory=section.get("memory", memory_quantity),
        gpus=section.get("gpus", integer(minimum=0, maximum=8), default=0),
        active_deadline_seconds=section.get("activeDeadlineSeconds", integer(minimum=60, maximum=86400), default=3600),
        environment=_environment(section),
    )
    if not job.output_prefix.startswith(f"teams/{job.team}/"):
        raise ConfigError(section.key("outputPrefix"), f"predictions are written under the team's own prefix teams/{job.team}/, got {job.output_prefix!r}")
    section.done()
    return job


def _parse_endpoints(top: _Section) -> tuple[tuple[EndpointConfig, ...], tuple[BatchJobConfig, ...]]:
    endpoints = tuple(_parse_endpoint(item) for item in top.sections("endpoints", default=()))
    _unique_names(top, "endpoints", [e.name for e in endpoints], "endpoint")
    jobs = tuple(_parse_batch_job(item) for item in top.sections("batchJobs", default=()))
    _unique_names(top, "batchJobs", [j.name for j in jobs], "batch job")
    return endpoints, jobs


# IAM role names are at most 64 characters: `<name prefix>-ep-<endpoint>` / `-job-<job>`.
_IAM_ROLE_NAME_MAX = 64


def _check_image(key: str, image: ImageRef, config: "PlatformConfig", require_ecr: bool) -> None:
    if image.repository is not None:
        if image.repository not in config.registries.repository_names:
            raise ConfigError(key, f"repository {image.repository!r} is not one of the platform's ECR repositories ({', '.join(config.registries.repository_names)}); give one of them or a full image URI")
    elif require_ecr and image.ecr_repository_arn_parts is None:
        raise ConfigError(key, f"SageMaker pulls images from ECR only; expected a platform repository or an <account>.dkr.ecr.<region>.amazonaws.com URI, got {image.uri!r}")


def _check_in_models_zone(key: str, location: S3Location, config: "PlatformConfig") -> None:
    models_bucket = config.datalake.bucket_name("models")
    if location.bucket != models_bucket:
        raise ConfigError(key, f"models are served from the lake's models zone; expected s3://{models_bucket}/..., got {location.uri}")


def _check_gpus(key: str, gpus: int, config: "PlatformConfig") -> None:
    if gpus and not config.cluster.gpu_pool_names:
        raise ConfigError(key, "requests GPUs but this stack's cluster has no GPU node pool")
    # Pods stay off the system nodes and GPU pools are tainted against CPU work.
    if not gpus and all(pool.gpu for pool in config.cluster.node_pools):
        raise ConfigError(key, "runs on CPUs but this stack's cluster has no CPU node pool (one with gpu: false)")


def cpu_cores(quantity: str) -> float:
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def memory_gi(quantity: str) -> float:
    scale = {"Ki": 1 / 1024**2, "Mi": 1 / 1024, "Gi": 1, "Ti": 1024}[quantity[-2:]]
    return int(quantity[:-2]) * scale


def _check_team_quotas(top: _Section, config: "PlatformConfig") -> None:
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
        culprit[endpoint.team] = f"{top.key('endpoints')}[{i}].maxCapacity"
    for i, job in enumerate(config.batch_jobs):
        total = usage.setdefault(job.team, [0.0, 0.0, 0.0])
        total[0] += cpu_cores(job.cpu)
        total[1] += memory_gi(job.memory)
        total[2] += job.gpus
        culprit.setdefault(job.team, f"{top.key('batchJobs')}[{i}]")
    for team, (cpu, memory, gpus) in usage.items():
        quota = config.cluster.team_quota(team)
        for what, needed, allowed in (("CPU", cpu, quota.cpu), ("memory (Gi)", memory, quota.memory_gi), ("GPUs", gpus, quota.gpus)):
            if needed > allowed:
                raise ConfigError(culprit[team], f"team {team!r} would need {needed:g} {what} at full scale, above its namespace quota of {allowed} (mlplatform:cluster.teamQuotas)")


def _check_endpoints_across_sections(top: _Section, config: "PlatformConfig") -> None:
    """Endpoints and batch jobs against teams, the lake, the registries, the region and the cluster."""
    hosting_types = sagemaker_hosting_instance_types(config.region)
    needs_capture_zone = False
    for i, endpoint in enumerate(config.endpoints):
        here = f"{top.key('endpoints')}[{i}]"
        if endpoint.team not in config.team_names:
            raise ConfigError(f"{here}.team", f"unknown team {endpoint.team!r} (configured teams: {', '.join(config.team_names)})")
        if endpoint.model is not None:
            _check_in_models_zone(f"{here}.model", endpoint.model, config)
        if endpoint.model_package is not None:
            if endpoint.model_package.split(":")[3] != config.region:
                raise ConfigError(f"{here}.model", f"the model package is in {endpoint.model_package.split(':')[3]}, the stack in {config.region}")
            groups = [f"{config.name_prefix}-{group.name}" for group in config.registries.model_package_groups]
            if model_package_group(endpoint.model_package) not in groups:
                raise ConfigError(f"{here}.model", f"model package group {model_package_group(endpoint.model_package)!r} is not one of the platform's ({', '.join(groups) or 'none configured'})")
        _check_image(f"{here}.image", endpoint.image, config, require_ecr=endpoint.backend == "sagemaker")
        if len(f"{config.name_prefix}-ep-{endpoint.name}") > _IAM_ROLE_NAME_MAX:
            raise ConfigError(f"{here}.name", f"too long: the role name {config.name_prefix}-ep-{endpoint.name} must fit in {_IAM_ROLE_NAME_MAX} characters")
        if endpoint.instance_type is not None:
            if not hosting_types:
                raise ConfigError(f"{here}.instanceType", f"no SageMaker hosting offering is known for region {config.region} (components/{_HOSTING_INSTANCES_FILE})")
            if endpoint.instance_type not in hosting_types:
                raise ConfigError(f"{here}.instanceType", f"{endpoint.instance_type} is not offered for SageMaker hosting in {config.region}")
        if endpoint.capture_sampling_percent is not None:
            needs_capture_zone = True
        if endpoint.kubernetes is not None:
            _check_gpus(f"{here}.kubernetes.gpus", endpoint.kubernetes.gpus, config)
            canary = endpoint.kubernetes.canary
            if canary is not None:
                _check_image(f"{here}.kubernetes.canary.image", canary.image, config, require_ecr=False)
                if canary.model is not None:
                    _check_in_models_zone(f"{here}.kubernetes.canary.model", canary.model, config)
    if needs_capture_zone and CAPTURE_ZONE not in [zone.name for zone in config.datalake.zones]:
        raise ConfigError(f"{top.key('datalake')}.zones", f"endpoints capture requests into the {CAPTURE_ZONE!r} zone, which this lake lacks")

    for i, job in enumerate(config.batch_jobs):
        here = f"{top.key('batchJobs')}[{i}]"
        if job.team not in config.team_names:
            raise ConfigError(f"{here}.team", f"unknown team {job.team!r} (configured teams: {', '.join(config.team_names)})")
        _check_in_models_zone(f"{here}.model", job.model, config)
        _check_image(f"{here}.image", job.image, config, require_ecr=False)
        _check_gpus(f"{here}.gpus", job.gpus, config)
        if len(f"{config.name_prefix}-job-{job.name}") > _IAM_ROLE_NAME_MAX:
            raise ConfigError(f"{here}.name", f"too long: the role name {config.name_prefix}-job-{job.name} must fit in {_IAM_ROLE_NAME_MAX} characters")
    _check_team_quotas(top, config)


# ---------------------------------------------------------------------------------------------
# Cost controls
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetsConfig:
    monthly_limit: float  # the whole environment, in USD
    team_monthly_limits: tuple[tuple[str, float], ...]
    actual_alert_percents: tuple[int, ...]
    forecast_alert_percent: Optional[int]
    alert_emails: tuple[str, ...]
    activate_cost_allocation_tags: bool  # account-wide setting: exactly one stack of an account owns it


email_address = pattern(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", "an email address")


def _parse_budgets(section: _Section, team_names: tuple[str, ...]) -> BudgetsConfig:
    team_limits = section.get("teamMonthlyLimits", map_of(number(minimum=1.0)), default={})
    for team in team_limits:
        if team not in team_names:
            raise ConfigError(f"{section.key('teamMonthlyLimits')}.{team}", f"unknown team (teams: {', '.join(team_names)})")
    monthly_limit = section.get("monthlyLimit", number(minimum=1.0))
    for team, limit in team_limits.items():
        if limit > monthly_limit:
            raise ConfigError(f"{section.key('teamMonthlyLimits')}.{team}", f"must be <= monthlyLimit ({monthly_limit:g}), got {limit:g}")
    config = BudgetsConfig(
        monthly_limit=monthly_limit,
        team_monthly_limits=tuple(sorted(team_limits.items())),
        actual_alert_percents=section.get("actualAlertPercents", list_of(integer(minimum=1, maximum=1000), min_items=1), default=(80, 100)),
        forecast_alert_percent=section.get("forecastAlertPercent", integer(minimum=1, maximum=1000), default=100),
        alert_emails=section.get("alertEmails", list_of(email_address, min_items=1)),
        activate_cost_allocation_tags=section.get("activateCostAllocationTags", _boolean, default=False),
    )
    if len(config.alert_emails) > 10:
        raise ConfigError(section.key("alertEmails"), f"AWS Budgets notifies at most 10 addresses, got {len(config.alert_emails)}")
    section.done()
    return config


# ---------------------------------------------------------------------------------------------
# The whole platform
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlatformConfig:
    stack: str
    region: str
    aws_profile: Optional[str]
    environment: str
    project: str
    cost_center: str
    platform_team: str
    teams: tuple[TeamConfig, ...]
    network: NetworkConfig
    datalake: DataLakeConfig
    registries: RegistriesConfig
    notebooks: NotebooksConfig
    endpoints: tuple[EndpointConfig, ...]
    batch_jobs: tuple[BatchJobConfig, ...]
    cluster: ClusterConfig
    budgets: BudgetsConfig

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


# Keys of the `aws:` namespace the platform reads; the provider is explicit, so nothing else applies.
AWS_KEYS = ("aws:region", "aws:profile")


class _ProjectSection(_Section):
    """The top level: keys read as `mlplatform:key`, as they are written in the stack file."""

    def __init__(self, data: dict[str, Any]):
        super().__init__(data, PROJECT_NAMESPACE)

    def key(self, name: str) -> str:
        return f"{PROJECT_NAMESPACE}:{name}"


def parse_config(raw: dict[str, Any], stack: str) -> PlatformConfig:
    """Validate a stack's config (`{"mlplatform:network": {...}, "aws:region": "..."}`)."""
    for key in raw:
        namespace, _, _ = key.partition(":")
        if namespace == "aws" and key not in AWS_KEYS:
            raise ConfigError(key, f"unknown key (the platform reads only {', '.join(AWS_KEYS)})")
        if namespace not in ("aws", PROJECT_NAMESPACE):
            raise ConfigError(key, f"unknown config namespace {namespace!r} (expected aws: or {PROJECT_NAMESPACE}:)")

    region = _Section({"region": raw.get("aws:region")}, "aws").get("region", region_name)
    aws_profile = raw.get("aws:profile")
    if aws_profile is not None:
        _string(aws_profile, "aws:profile")

    project_values = {key.split(":", 1)[1]: value for key, value in raw.items() if key.startswith(PROJECT_NAMESPACE + ":")}
    top = _ProjectSection(project_values)

    environment = top.get("environment", one_of(*ENVIRONMENTS))
    if environment != stack:
        raise ConfigError(top.key("environment"), f"is {environment!r} but the stack is {stack!r}; they must match")

    teams = []
    for team_section in top.sections("teams", min_items=1):
        teams.append(TeamConfig(
            name=team_section.get("name", dns_label),
            cost_center=team_section.get("costCenter", tag_value, default=None),
        ))
        team_section.done()
    names = [team.name for team in teams]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(f"{top.key('teams')}[{i}].name", f"duplicate team {name!r}")

    platform_team = top.get("platformTeam", dns_label)
    if platform_team in names:
        raise ConfigError(top.key("platformTeam"), f"{platform_team!r} is also listed in teams; the platform team owns the shared parts only")

    registries = _parse_registries(top.section("registries"), tuple(names), platform_team)
    endpoints, batch_jobs = _parse_endpoints(top)
    config = PlatformConfig(
        stack=stack,
        region=region,
        aws_profile=aws_profile,
        environment=environment,
        project=top.get("project", pattern(r"[a-z][a-z0-9-]{1,20}", "a project name: lowercase letters, digits, '-', 2-21 characters"), default="mlplatform"),
        cost_center=top.get("costCenter", tag_value),
        platform_team=platform_team,
        teams=tuple(teams),
        network=_parse_network(top.section("network"), region),
        datalake=_parse_datalake(top.section("datalake")),
        registries=registries,
        notebooks=_parse_notebooks(top.section("notebooks"), tuple(names), registries.repository_names),
        cluster=_parse_cluster(top.section("cluster"), tuple(names)),
        endpoints=endpoints,
        batch_jobs=batch_jobs,
        budgets=_parse_budgets(top.section("budgets"), tuple(names)),
    )
    _check_notebooks_across_sections(top, config)
    _check_endpoints_across_sections(top, config)
    _check_gpu_agent(top, config)
    top.done()
    return config


def decode_pulumi_config(values: dict[str, Any]) -> dict[str, Any]:
    """Pulumi hands structured config to the program as JSON strings; decode them back."""
    decoded = {}
    for key, value in values.items():
        if isinstance(value, str) and value[:1] in ("{", "["):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass  # a plain string that happens to start with a bracket
        decoded[key] = value
    return decoded


def load_from_pulumi() -> PlatformConfig:
    """Read the running program's config (real `pulumi up` or `mlp plan` under mocks)."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    # The SDK has no public "all keys" call; the unknown-key check needs every key that was set.
    values = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    return parse_config(decode_pulumi_config(values), pulumi.get_stack())
