"""Compute on the bill: EC2 instance hours of EKS managed node groups and Karpenter NodePools
(with their node disks), and Lambda functions."""

from __future__ import annotations

from decimal import Decimal
from typing import Iterable

from mlp.cost.core import GIB, HOURS, HOURS_PER_MONTH, NUMBER, ZERO, CostComponent, PricingContext, ResourceCost, kubernetes_quantity, pricer, to_decimal
from mlp.cost.storage import ebs_components
from mlp.prices import Catalogue, InstanceType


def instance_hour_price(ctx: PricingContext, instance_type: str, capacity: str) -> Decimal | None:
    """An instance type's hourly price; spot as the catalogue's fraction of on-demand, since spot
    prices move too often to ship."""
    instance = ctx.catalogue.instance(instance_type)
    if instance is None:
        return None
    if capacity.lower().replace("-", "_") == "spot":
        ratio = ctx.catalogue.price("ec2", "spotToOnDemandRatio")
        return None if ratio is None else instance.hourly * ratio
    return instance.hourly


@pricer("aws:eks/nodeGroup:NodeGroup", instances=NUMBER, monthly_hrs=HOURS)
def _node_group(resource, usage, ctx):
    inputs = resource.inputs
    scaling = inputs.get("scalingConfig") or {}
    desired = to_decimal(usage.get("instances"), to_decimal(scaling.get("desiredSize"), Decimal(1)))
    minimum = to_decimal(scaling.get("minSize"), desired)
    maximum = max(to_decimal(scaling.get("maxSize"), desired), desired)
    hours = ctx.hours(usage)
    template_ref = inputs.get("launchTemplate") or {}
    template = None
    for key in ("id", "name"):
        if isinstance(template_ref.get(key), str) and template_ref[key] in ctx.launch_templates:
            template = ctx.launch_templates[template_ref[key]]
            break
    instance_types = inputs.get("instanceTypes") or []
    instance_type = instance_types[0] if instance_types else (template.inputs.get("instanceType") if template else None)
    capacity = str(inputs.get("capacityType") or "ON_DEMAND")
    result = ResourceCost(resource)
    if not instance_type:
        instance_type = "t3.medium"  # EKS's default for managed node groups without a type
        result.notes.append("no instance type given: EKS's default t3.medium assumed")
    label = f"Instance usage (Linux, {capacity.lower().replace('_', '-')}, {instance_type})"
    result.components.append(CostComponent(label, "hours", instance_hour_price(ctx, instance_type, capacity), desired * hours, minimum * hours, maximum * HOURS_PER_MONTH))

    mappings = (template.inputs.get("blockDeviceMappings") if template else None) or []
    disks = [m.get("ebs") or {} for m in mappings if isinstance(m, dict) and m.get("ebs")]
    share = hours / HOURS_PER_MONTH
    if disks:
        for index, ebs in enumerate(disks):
            result.components.extend(ebs_components(
                ctx, f"Node disk {index + 1}", str(ebs.get("volumeType") or "gp2"), to_decimal(ebs.get("volumeSize"), Decimal(20)),
                to_decimal(ebs.get("iops")), to_decimal(ebs.get("throughput")), count=desired * share, baseline=minimum * share, ceiling=maximum))
    else:
        size = to_decimal(inputs.get("diskSize"), Decimal(20))
        result.components.extend(ebs_components(ctx, "Node disk", "gp2", size, count=desired * share, baseline=minimum * share, ceiling=maximum))
    return result


# --- Karpenter NodePools -----------------------------------------------------------------------


def _allowed_values(requirements: list, key: str, universe: Iterable[str]) -> set[str]:
    allowed = set(universe)
    for requirement in requirements:
        if not isinstance(requirement, dict) or requirement.get("key") != key:
            continue
        values = {str(v) for v in requirement.get("values") or []}
        operator = requirement.get("operator")
        if operator == "In":
            allowed &= values
        elif operator == "NotIn":
            allowed -= values
        elif operator == "DoesNotExist":
            allowed = set()
    return allowed


def _pool_instance_types(spec: dict, catalogue: Catalogue) -> tuple[list[InstanceType], set[str]]:
    """Instance types of the catalogue a NodePool may launch, and its capacity types."""
    template_spec = ((spec.get("template") or {}).get("spec") or {})
    requirements = template_spec.get("requirements") or []
    instances = catalogue.instances()
    names = _allowed_values(requirements, "node.kubernetes.io/instance-type", instances)
    families = _allowed_values(requirements, "karpenter.k8s.aws/instance-family", {i.family for i in instances.values()})
    categories = _allowed_values(requirements, "karpenter.k8s.aws/instance-category", {i.category for i in instances.values()})
    allowed = [instances[n] for n in sorted(names) if instances[n].family in families and instances[n].category in categories]
    capacity = _allowed_values(requirements, "karpenter.sh/capacity-type", {"on-demand", "spot"})
    return allowed, capacity


def _requested_instance_types(spec: dict) -> set[str]:
    """Instance types a pool names explicitly (to tell "not in the catalogue" from "not allowed")."""
    named = set()
    for requirement in ((spec.get("template") or {}).get("spec") or {}).get("requirements") or []:
        if isinstance(requirement, dict) and requirement.get("key") == "node.kubernetes.io/instance-type" and requirement.get("operator") == "In":
            named |= {str(v) for v in requirement.get("values") or []}
    return named


def _pool_fill(instance: InstanceType, limits: dict) -> Decimal | None:
    """How many `instance` nodes fit within a pool's limits; None when nothing limits it."""
    per_node = {"cpu": instance.vcpu, "memory": instance.memory_gib * GIB, "nvidia.com/gpu": instance.gpus}
    counts = []
    for key, limit in limits.items():
        amount = kubernetes_quantity(limit)
        if amount is None or key not in per_node:
            continue
        if per_node[key] > 0:  # a limit on what a type lacks (GPUs of a CPU type) does not bind it
            counts.append((amount / per_node[key]).to_integral_value(rounding="ROUND_FLOOR"))
    return min(counts) if counts else None


def _node_class_disks(ctx: PricingContext, spec: dict) -> list[dict]:
    reference = ((spec.get("template") or {}).get("spec") or {}).get("nodeClassRef") or {}
    node_class = ctx.node_classes.get(str(reference.get("name")))
    if node_class is None:
        return []
    mappings = ((node_class.inputs.get("spec") or {}).get("blockDeviceMappings")) or []
    return [m.get("ebs") or {} for m in mappings if isinstance(m, dict) and m.get("ebs")]


@pricer("kubernetes:karpenter.sh/v1:NodePool", "kubernetes:karpenter.sh/v1beta1:NodePool",
        monthly_node_hrs=NUMBER, instance_type={"type": "string", "minLength": 1}, capacity_type={"enum": ["spot", "on-demand"]})
def _node_pool(resource, usage, ctx):
    """Baseline 0 (pools scale from zero), expected = usage node-hours on the cheapest allowed
    type (what Karpenter launches first), ceiling = the pool's limits filled for 730 hours with
    whichever allowed type costs most that way (finance needs the worst case)."""
    spec = resource.inputs.get("spec") or {}
    allowed, capacity_types = _pool_instance_types(spec, ctx.catalogue)
    result = ResourceCost(resource)
    node_hours = to_decimal(usage.get("monthly_node_hrs"))
    capacity = usage.get("capacity_type") or ("spot" if "spot" in capacity_types else "on-demand")
    expected_name = usage.get("instance_type") or (min(allowed, key=lambda i: (i.hourly, i.name)).name if allowed else None)
    disks = _node_class_disks(ctx, spec) or [{"volumeSize": "20Gi", "volumeType": "gp3"}]

    def disk_components(label: str, count: Decimal, ceiling: Decimal) -> list[CostComponent]:
        components = []
        for ebs in disks:
            size = (kubernetes_quantity(ebs.get("volumeSize")) or 20 * GIB) / GIB
            for component in ebs_components(ctx, label, str(ebs.get("volumeType") or "gp3"), size, to_decimal(ebs.get("iops")), to_decimal(ebs.get("throughput")), count=count, baseline=ZERO, ceiling=ceiling):
                components.append(component)
        return components

    if expected_name is None:
        named = sorted(_requested_instance_types(spec))
        result.components.append(CostComponent(f"Expected nodes ({', '.join(named) or 'no allowed instance type'}, {capacity})", "hours", None, node_hours, ZERO, ZERO, usage_based=True))
        result.notes.append("no instance type the pool allows is in the price catalogue")
        return result
    result.components.append(CostComponent(f"Expected nodes ({expected_name}, {capacity})", "hours", instance_hour_price(ctx, expected_name, capacity), node_hours, ZERO, ZERO, usage_based=True))
    if node_hours:
        result.components.extend(disk_components("Expected node disks", node_hours / HOURS_PER_MONTH, ZERO))

    limits = spec.get("limits") or {}
    fills = [(instance, _pool_fill(instance, limits)) for instance in allowed]
    if not allowed or any(count is None for _, count in fills):
        result.ceiling_unbounded = True
        result.notes.append("no cpu, memory or nvidia.com/gpu limit: the pool's ceiling is unbounded")
        return result
    disk_month = sum((c.monthly_cost or ZERO for c in disk_components("", Decimal(1), ZERO)), ZERO)
    worst, count = max(fills, key=lambda pair: ((pair[0].hourly * HOURS_PER_MONTH + disk_month) * pair[1], pair[0].hourly))
    limit_text = ", ".join(f"{k}={v}" for k, v in sorted(limits.items()))
    result.components.append(CostComponent(f"Ceiling: {count} x {worst.name} on-demand ({limit_text})", "hours", worst.hourly, ZERO, ZERO, count * HOURS_PER_MONTH))
    result.components.extend(disk_components("Ceiling node disks", ZERO, count))
    return result


@pricer("aws:lambda/function:Function", monthly_requests=NUMBER, request_duration_ms=NUMBER)
def _lambda_function(resource, usage, ctx):
    memory_gb = to_decimal(resource.inputs.get("memorySize"), Decimal(128)) / 1024
    requests = to_decimal(usage.get("monthly_requests"))
    seconds = requests * to_decimal(usage.get("request_duration_ms")) / 1000
    return [CostComponent("Requests", "1M requests", ctx.catalogue.price("lambda", "requestsPerMillion"), requests / 1_000_000, usage_based=True),
            CostComponent("Duration", "GB-seconds", ctx.catalogue.price("lambda", "gbSecond"), seconds * memory_gb, usage_based=True)]
