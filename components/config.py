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
from dataclasses import dataclass, field
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


def _project_key(name: str) -> str:
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
    top = _Section(project_values, PROJECT_NAMESPACE)
    # Keys of the top level read as `mlplatform:key` (how they are written in the stack file).
    top.key = _project_key  # type: ignore[method-assign]

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
    )
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
