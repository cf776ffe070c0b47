"""Compute on the bill: EC2 instance hours of EKS managed node groups and Karpenter NodePools
(with their node disks), and Lambda functions."""

from __future__ import annotations

from decimal import Decimal
from typing import Iterable

from mlp.cost.context import PricingContext
from mlp.cost.core import GIB, HOURS, HOURS_PER_MONTH, NUMBER, ZERO, CostComponent, ResourceCost, kubernetes_quantity, pricer, to_decimal
from mlp.cost.storage import CREATE_VOLUME_DEFAULT, ebs_components
from mlp.prices import InstanceType

# EKS CreateNodegroup: "If you don't specify an instance type in a launch template or for
# instanceTypes, then t3.medium is used"; "The default disk size is 20 GiB for Linux"; EKS-made
# launch templates give that disk gp2 (aws/containers-roadmap#1417). Karpenter's AL2023 and
# Bottlerocket node classes without blockDeviceMappings get 20Gi gp3 (amifamily.DefaultEBS).
NODE_GROUP_DEFAULT_INSTANCE = "t3.medium"
NODE_GROUP_DEFAULT_DISK_GIB = Decimal(20)
NODE_GROUP_DEFAULT_DISK_TYPE = "gp2"
KARPENTER_DEFAULT_DISK = {"volumeSize": "20Gi", "volumeType": "gp3"}
LAMBDA_DEFAULT_MEMORY_MB = Decimal(128)  # aws.lambda_.Function memorySize: "Defaults to 128"


@pricer("aws:eks/nodeGroup:NodeGroup", instances=NUMBER, monthly_hrs=HOURS)
def _node_group(resource, usage, ctx):
    inputs = resource.inputs
    scaling = inputs.get("scalingConfig") or {}
    desired = to_decimal(usage.get("instances"), to_decimal(scaling.get("desiredSize"), Decimal(1)))
    minimum = to_decimal(scaling.get("minSize"), desired)
    maximum = max(to_decimal(scaling.get("maxSize"), desired), desired)
    hours = ctx.hours(usage)
    template = _launch_template_of(inputs, ctx)
    instance_types = inputs.get("instanceTypes") or []
    instance_type = instance_types[0] if instance_types else (template.inputs.get("instanceType") if template else None)
    capacity = str(inputs.get("capacityType") or "ON_DEMAND")
    result = ResourceCost(resource)
    if not instance_type:
        instance_type = NODE_GROUP_DEFAULT_INSTANCE
        result.notes.append(f"no instance type given: EKS's default {instance_type} assumed")
    label = f"Instance usage (Linux, {capacity.lower().replace('_', '-')}, {instance_type})"
    usage_key = "instances" if "instances" in usage else None
    result.components.append(CostComponent(label, "hours", ctx.instance_hour(instance_type, capacity), desired * hours, minimum * hours,
                                           maximum * HOURS_PER_MONTH, usage_key))

    mappings = (template.inputs.get("blockDeviceMappings") if template else None) or []
    disks = [m.get("ebs") or {} for m in mappings if isinstance(m, dict) and m.get("ebs")]
    share = hours / HOURS_PER_MONTH
    if disks:
        for index, ebs in enumerate(disks):
            result.components.extend(ebs_components(
                ctx, f"Node disk {index + 1}", str(ebs.get("volumeType") or NODE_GROUP_DEFAULT_DISK_TYPE), to_decimal(ebs.get("volumeSize"), NODE_GROUP_DEFAULT_DISK_GIB),
                to_decimal(ebs.get("iops")), to_decimal(ebs.get("throughput")), count=desired * share, floor=minimum * share, ceiling=maximum, usage_key=usage_key))
    else:
        size = to_decimal(inputs.get("diskSize"), NODE_GROUP_DEFAULT_DISK_GIB)
        result.components.extend(ebs_components(ctx, "Node disk", NODE_GROUP_DEFAULT_DISK_TYPE, size, count=desired * share, floor=minimum * share,
                                                ceiling=maximum, usage_key=usage_key))
    return result


def _launch_template_of(inputs: dict, ctx: PricingContext):
    """The launch template a node group or instance names (by id or name), if the document has it."""
    template_ref = inputs.get("launchTemplate") or {}
    for key in ("id", "name"):
        if isinstance(template_ref.get(key), str) and template_ref[key] in ctx.launch_templates:
            return ctx.launch_templates[template_ref[key]]
    return None


@pricer("aws:ec2/instance:Instance", monthly_hrs=HOURS)
def _instance(resource, usage, ctx):
    """A standalone instance (the NAT instance): its hours, on-demand unless its market options
    ask for spot, and its root and extra EBS volumes, from the instance or else its launch template
    (arguments on the instance override the template's, as in RunInstances)."""
    inputs = resource.inputs
    template = _launch_template_of(inputs, ctx)
    template_inputs = template.inputs if template else {}
    result = ResourceCost(resource)
    instance_type = inputs.get("instanceType") or template_inputs.get("instanceType")
    market = (inputs.get("instanceMarketOptions") or template_inputs.get("instanceMarketOptions") or {}).get("marketType")
    capacity = "spot" if market == "spot" else "on-demand"
    hours = ctx.hours(usage)
    if not instance_type:
        result.components.append(CostComponent("Instance usage (no instance type given)", "hours", None, hours))
        result.notes.append("neither the instance nor its launch template names an instance type")
        return result
    result.components.append(CostComponent(f"Instance usage (Linux, {capacity}, {instance_type})", "hours", ctx.instance_hour(instance_type, capacity), hours))
    share = hours / HOURS_PER_MONTH
    root = inputs.get("rootBlockDevice") or {}
    template_disks = [m.get("ebs") or {} for m in template_inputs.get("blockDeviceMappings") or [] if isinstance(m, dict) and m.get("ebs")]
    disks = [("Root volume", root)] if root.get("volumeSize") is not None else [("Root volume" if i == 0 else f"Volume {i + 1}", ebs) for i, ebs in enumerate(template_disks)]
    disks += [(f"EBS volume {i + 1}", ebs) for i, ebs in enumerate(inputs.get("ebsBlockDevices") or []) if isinstance(ebs, dict)]
    if not any(label == "Root volume" for label, _ in disks):
        result.notes.append("no root volume size given: the AMI's own root volume is not priced")
    for label, ebs in disks:
        size = to_decimal(ebs.get("volumeSize"), None)
        if size is None:
            result.notes.append(f"{label.lower()} has no size: not priced")
            continue
        result.components.extend(ebs_components(ctx, label, str(ebs.get("volumeType") or CREATE_VOLUME_DEFAULT), size,
                                                to_decimal(ebs.get("iops")), to_decimal(ebs.get("throughput")), count=share))
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


def _pool_instance_types(spec: dict, ctx: PricingContext) -> tuple[list[InstanceType], set[str]]:
    """Instance types of the catalogue a NodePool may launch, and its capacity types."""
    template_spec = ((spec.get("template") or {}).get("spec") or {})
    requirements = template_spec.get("requirements") or []
    traits = ctx.instance_traits()
    names = _allowed_values(requirements, "node.kubernetes.io/instance-type", traits)
    families = _allowed_values(requirements, "karpenter.k8s.aws/instance-family", {family for _, family, _ in traits.values()})
    categories = _allowed_values(requirements, "karpenter.k8s.aws/instance-category", {category for _, _, category in traits.values()})
    allowed = [traits[n][0] for n in sorted(names) if traits[n][1] in families and traits[n][2] in categories]
    capacity = _allowed_values(requirements, "karpenter.sh/capacity-type", {"on-demand", "spot"})
    return allowed, capacity


def _requested_instance_types(spec: dict) -> set[str]:
    """Instance types a pool names explicitly (to tell "not in the catalogue" from "not allowed")."""
    named = set()
    for requirement in ((spec.get("template") or {}).get("spec") or {}).get("requirements") or []:
        if isinstance(requirement, dict) and requirement.get("key") == "node.kubernetes.io/instance-type" and requirement.get("operator") == "In":
            named |= {str(v) for v in requirement.get("values") or []}
    return named


def _pool_fill(instance: InstanceType, amounts: dict[str, Decimal]) -> Decimal | None:
    """How many `instance` nodes fit within a pool's limits (parsed); None when nothing limits it."""
    per_node = {"cpu": instance.vcpu, "memory": instance.memory_gib * GIB, "nvidia.com/gpu": instance.gpus}
    counts = []
    for key, amount in amounts.items():
        if key in per_node and per_node[key] > 0:  # a limit on what a type lacks (GPUs of a CPU type) does not bind it
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
    """Floor 0 (pools scale from zero), expected = usage node-hours on the cheapest allowed type
    (what Karpenter launches first; spot where the pool allows it, as Karpenter prefers it, and
    an unconstrained capacity type allows it), ceiling = the pool's limits filled for 730 hours
    with whichever allowed type costs most that way (finance needs the worst case)."""
    spec = resource.inputs.get("spec") or {}
    allowed, capacity_types = _pool_instance_types(spec, ctx)
    result = ResourceCost(resource)
    node_hours = to_decimal(usage.get("monthly_node_hrs"))
    capacity = usage.get("capacity_type") or ("spot" if "spot" in capacity_types else "on-demand")
    expected_name = usage.get("instance_type") or (min(allowed, key=lambda i: (i.hourly, i.name)).name if allowed else None)
    disks = _node_class_disks(ctx, spec) or [KARPENTER_DEFAULT_DISK]

    def disk_components(label: str, count: Decimal, ceiling: Decimal) -> list[CostComponent]:
        components = []
        for ebs in disks:
            size = (kubernetes_quantity(ebs.get("volumeSize")) or 20 * GIB) / GIB
            components.extend(ebs_components(ctx, label, str(ebs.get("volumeType") or KARPENTER_DEFAULT_DISK["volumeType"]), size, to_decimal(ebs.get("iops")),
                                             to_decimal(ebs.get("throughput")), count=count, floor=ZERO, ceiling=ceiling,
                                             usage_key="monthly_node_hrs" if count else None))
        return components

    if expected_name is None:
        named = sorted(_requested_instance_types(spec))
        result.components.append(CostComponent(f"Expected nodes ({', '.join(named) or 'no allowed instance type'}, {capacity})", "hours", None, node_hours, ZERO, ZERO, "monthly_node_hrs"))
        result.notes.append("no instance type the pool allows is in the price catalogue")
        return result
    result.components.append(CostComponent(f"Expected nodes ({expected_name}, {capacity})", "hours", ctx.instance_hour(expected_name, capacity), node_hours, ZERO, ZERO, "monthly_node_hrs"))
    if node_hours:
        result.components.extend(disk_components("Expected node disks", node_hours / HOURS_PER_MONTH, ZERO))

    limits = spec.get("limits") or {}
    amounts = {key: amount for key, amount in ((k, kubernetes_quantity(v)) for k, v in limits.items()) if amount is not None}
    fills = [(instance, _pool_fill(instance, amounts)) for instance in allowed]
    if not allowed or any(count is None for _, count in fills):
        result.ceiling_unbounded = True
        result.notes.append("no cpu, memory or nvidia.com/gpu limit: the pool's ceiling is unbounded")
        return result
    disk_month = sum((c.monthly_cost or ZERO for c in disk_components("", Decimal(1), ZERO)), ZERO)
    worst, count = max(fills, key=lambda pair: ((pair[0].hourly * HOURS_PER_MONTH + disk_month) * pair[1], pair[0].hourly))
    limit_text = ", ".join(f"{k}={v}" for k, v in sorted(limits.items()))
    result.components.append(CostComponent(f"Ceiling: {count} x {worst.name} on-demand ({limit_text})", "hours", ctx.instance_hour(worst.name, "on-demand"), ZERO, ZERO, count * HOURS_PER_MONTH))
    result.components.extend(disk_components("Ceiling node disks", ZERO, count))
    return result


@pricer("aws:lambda/function:Function", monthly_requests=NUMBER, request_duration_ms=NUMBER)
def _lambda_function(resource, usage, ctx):
    memory_gb = to_decimal(resource.inputs.get("memorySize"), LAMBDA_DEFAULT_MEMORY_MB) / 1024
    requests = to_decimal(usage.get("monthly_requests"))
    seconds = requests * to_decimal(usage.get("request_duration_ms")) / 1000
    arm = "arm64" in (resource.inputs.get("architectures") or [])
    return [CostComponent("Requests", "1M requests", ctx.price("lambda", "requestsPerMillion"), requests / 1_000_000, usage_key="monthly_requests"),
            CostComponent(f"Duration ({'arm64' if arm else 'x86_64'})", "GB-seconds", ctx.price("lambda", "gbSecondArm" if arm else "gbSecond"), seconds * memory_gb,
                          usage_key="request_duration_ms")]
