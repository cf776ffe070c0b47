"""Checks of what the region and the account must offer the node pools: the AMI release the
alias names, the instance families, the vCPU quotas; and split cost allocation data."""

from __future__ import annotations

import re

from mlp import aws
from mlp.preflight.lines import Clients, Line, fail, lookup, ok
from mlp.preflight.quotas import vcpu_needs
from components.config import PlatformConfig

CLUSTER = "mlplatform:cluster"
ARCHITECTURES = {"amd64": "x86_64", "arm64": "arm64"}


def ami_parameter(kubernetes: str, architecture: str, variant: str, release: str) -> str:
    """The SSM public parameter Karpenter resolves `al2023@<release>` through (its AL2023 family:
    pkg/providers/amifamily/al2023.go)."""
    name = "recommended" if release == "latest" else f"amazon-eks-node-al2023-{architecture}-{variant}-{kubernetes}-{release}"
    return f"/aws/service/eks/optimized-ami/{kubernetes}/amazon-linux-2023/{architecture}/{variant}/{name}/image_id"


def needed_amis(config: PlatformConfig) -> list[tuple[str, str]]:
    """(architecture, variant) the pools launch: standard x86_64 always, NVIDIA for GPU pools."""
    needed = {("x86_64", "standard")}
    for pool in config.cluster.node_pools:
        needed |= {(ARCHITECTURES[arch], "nvidia" if pool.gpu else "standard") for arch in pool.architectures}
    return sorted(needed)


def ami_checks(clients: Clients, config: PlatformConfig) -> list[Line]:
    alias = config.cluster.ami_alias
    release = alias.partition("@")[2]
    ssm = clients.get("ssm")
    lines = []
    for architecture, variant in needed_amis(config):
        name = ami_parameter(config.cluster.kubernetes_version, architecture, variant, release)
        answer = lookup(ssm, "get_parameter", ("ParameterNotFound",), Name=name)
        key = f"{CLUSTER}.amiAlias"
        if answer is None:
            lines.append(fail("ami", key, f"{alias} has no {architecture} {variant} AMI for Kubernetes {config.cluster.kubernetes_version} in {config.region} ({name})"))
            continue
        api = aws.api_name(ssm, "get_parameter")
        image_id = aws.need(aws.need(answer, "Parameter", dict, api, ""), "Value", str, api, "Parameter")
        lines.append(ok("ami", key, f"{alias} {architecture} {variant}: {image_id}"))
    return lines


def _selectors(config: PlatformConfig) -> list[tuple[str, str, str]]:
    """(key, kind, value) of every instance choice the stack makes: category, family or type."""
    found = [(f"{CLUSTER}.systemNodeGroup.instanceTypes", "type", t) for t in config.cluster.system_node_group.instance_types]
    for index, pool in enumerate(config.cluster.node_pools):
        key = f"{CLUSTER}.nodePools[{index}]"
        found += [(key, "category", category) for category in pool.instance_categories]
        found += [(key, "family", family) for family in pool.instance_families]
        found += [(key, "type", instance_type) for instance_type in pool.instance_types]
    return found


def _matches(kind: str, value: str, instance_type: str) -> bool:
    """Karpenter's labels: the family is what precedes the dot (g5, p4d, m6i), the category the
    family's leading letters (g, p, m)."""
    family = instance_type.split(".")[0]
    if kind == "type":
        return instance_type == value
    if kind == "family":
        return family == value
    return re.match(r"[a-z]+", family).group(0) == value


def offering_checks(clients: Clients, config: PlatformConfig, zones: list[str]) -> list[Line]:
    """Every selector must match an instance type offered in at least one of the stack's zones."""
    ec2 = clients.get("ec2")
    api = aws.api_name(ec2, "describe_instance_type_offerings")
    offered: dict[str, set[str]] = {}  # instance type -> zones
    for page in aws.pages(ec2, "describe_instance_type_offerings", LocationType="availability-zone",
                          Filters=[{"Name": "location", "Values": zones}]):
        for offering in aws.need(page, "InstanceTypeOfferings", list, api, "", optional=True):
            instance_type = aws.need(offering, "InstanceType", str, api, "InstanceTypeOfferings[]")
            offered.setdefault(instance_type, set()).add(aws.need(offering, "Location", str, api, "InstanceTypeOfferings[]"))
    lines = []
    for key, kind, value in _selectors(config):
        zones_offering = set().union(*[found for instance_type, found in offered.items() if _matches(kind, value, instance_type)])
        if not zones_offering:
            lines.append(fail("instance types", key, f"{kind} {value}: not offered in {', '.join(zones)} ({config.region})"))
        else:
            lines.append(ok("instance types", key, f"{kind} {value}: offered in {', '.join(sorted(zones_offering))}"))
    return lines


def _instance_vcpus(clients: Clients, instance_types: tuple[str, ...]) -> dict[str, int]:
    ec2 = clients.get("ec2")
    api = aws.api_name(ec2, "describe_instance_types")
    vcpus = {}
    for page in aws.pages(ec2, "describe_instance_types", InstanceTypes=list(instance_types)):
        for described in aws.need(page, "InstanceTypes", list, api, "", optional=True):
            name = aws.need(described, "InstanceType", str, api, "InstanceTypes[]")
            info = aws.need(described, "VCpuInfo", dict, api, f"InstanceTypes[{name}]")
            vcpus[name] = int(aws.amount(info.get("DefaultVCpus"), api, f"InstanceTypes[{name}].VCpuInfo.DefaultVCpus", minimum=1))
    return vcpus


def quota_checks(clients: Clients, config: PlatformConfig) -> list[Line]:
    needs, unknown = vcpu_needs(config, _instance_vcpus(clients, config.cluster.system_node_group.instance_types))
    quotas = clients.get("service-quotas")
    api = aws.api_name(quotas, "get_service_quota")
    lines = [fail("vcpu quota", u.key, f"{u.what}: its instances draw on a quota this check does not know; check it by hand") for u in unknown]
    for need in needs:
        answer = lookup(quotas, "get_service_quota", ("NoSuchResourceException",), ServiceCode="ec2", QuotaCode=need.quota_code)
        if answer is None:
            answer = aws.call(quotas, "get_aws_default_service_quota", ServiceCode="ec2", QuotaCode=need.quota_code)
        value = aws.amount(aws.need(answer, "Quota", dict, api, "").get("Value"), api, "Quota.Value", minimum=0)
        subject = f"{need.quota_code} {need.quota_name}"
        if value < need.vcpus:
            lines.append(fail("vcpu quota", CLUSTER, f"{subject}: {value.normalize():f} vCPUs, the pools may need {need.vcpus} "
                              f"({'; '.join(need.sources)}); request an increase in Service Quotas"))
        else:
            lines.append(ok("vcpu quota", CLUSTER, f"{subject}: {value.normalize():f} vCPUs cover {need.vcpus}"))
    return lines


def split_cost_allocation(confirmed: bool) -> Line:
    """No AWS API reports the account's opt-in to split cost allocation data (it is a Billing
    console preference, taking up to 24 hours), so the operator confirms it."""
    where = "Billing and Cost Management > Cost Management preferences > Split cost allocation data (Amazon EKS)"
    if confirmed:
        return ok("split cost alloc.", "account", f"confirmed by the operator ({where})")
    return fail("split cost alloc.", "account", f"no AWS API reports it: turn it on in {where} (payer account), then pass --split-cost-allocation-enabled")
