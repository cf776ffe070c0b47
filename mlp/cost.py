"""`mlp cost`: the monthly cost of a stack, per resource and grouped by cost tags.

Reads a stack export, a `pulumi preview --json` file, or plans a stack (`--stack`), prices every
resource from the shipped catalogue (mlp/prices.py) and the usage file (mlp/usage.py), and
reports expected, baseline and ceiling monthly cost. A month is 730 hours; money is Decimal.

Pricers form a table keyed by type token (`@pricer(...)`): a new resource type is one entry.
Types that cost nothing themselves (IAM, subnets, Kubernetes workloads that run on priced
nodes, ...) are listed in FREE_TYPES; anything else without a pricer, or whose price the
catalogue lacks, is reported with `priceNotFound: true`, never as a silent $0.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable, Iterable

from rich.console import Console
from rich.table import Table

from components.tagging import LABEL_FOR_TAG
from mlp.errors import UserError
from mlp.prices import (
    HOURS_PER_MONTH,
    Catalogue,
    InstanceType,
    available_regions,
    load_catalogue,
)
from mlp.state import StateResource, provider_default_tags
from mlp.terminal import output_console
from mlp.usage import UsageFile, load_usage

ZERO = Decimal(0)
CENT = Decimal("0.01")
GIB = Decimal(1024) ** 3
DEFAULT_GROUP_KEYS = ("Environment", "Team", "Component")
UNTAGGED = "(untagged)"  # the group of what lacks a tag, here and in `mlp report`
DEFAULT_REGION = "us-east-1"  # the AWS provider's own default when nothing sets a region
# Cost tags as Kubernetes labels (DESIGN.md: the same facts as labels).
# The project is the `app.kubernetes.io/part-of` label (components.tagging.CostTagging.k8s_labels).
TAG_LABELS = {**LABEL_FOR_TAG, "Project": "app.kubernetes.io/part-of"}


def quantity_text(value: Decimal) -> str:
    """A quantity to at most 4 decimals, without trailing zeros (prorated hours are long)."""
    text = format(value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def money(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _decimal(value: Any, default: Decimal = ZERO) -> Decimal:
    if value is None or isinstance(value, bool):
        return default
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return default


# --- results -----------------------------------------------------------------------------------


@dataclass
class CostComponent:
    """One priced line: price x quantity per month, with the quantity at baseline and ceiling."""

    name: str
    unit: str
    price: Decimal | None
    quantity: Decimal
    baseline_quantity: Decimal | None = None
    ceiling_quantity: Decimal | None = None
    usage_based: bool = False

    @property
    def price_not_found(self) -> bool:
        return self.price is None

    def cost(self, quantity: Decimal | None) -> Decimal:
        return ZERO if self.price is None else self.price * quantity

    @property
    def monthly_cost(self) -> Decimal | None:
        return None if self.price is None else self.price * self.quantity

    @property
    def baseline_cost(self) -> Decimal:
        return self.cost(self.quantity if self.baseline_quantity is None else self.baseline_quantity)

    @property
    def ceiling_cost(self) -> Decimal:
        return self.cost(self.quantity if self.ceiling_quantity is None else self.ceiling_quantity)

    def as_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": self.name,
            "unit": self.unit,
            "price": None if self.price is None else format(self.price, "f"),
            "monthlyQuantity": quantity_text(self.quantity),
            "monthlyCost": money(self.monthly_cost),
            "priceNotFound": self.price_not_found,
        }
        if self.baseline_quantity is not None:
            entry["baselineMonthlyQuantity"] = quantity_text(self.baseline_quantity)
        if self.ceiling_quantity is not None:
            entry["ceilingMonthlyQuantity"] = quantity_text(self.ceiling_quantity)
        if self.usage_based:
            entry["usageBased"] = True
        return entry


@dataclass
class ResourceCost:
    resource: StateResource
    components: list[CostComponent] = field(default_factory=list)
    priced_type: bool = True  # False: no pricer and not known to be free
    ceiling_unbounded: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def price_not_found(self) -> bool:
        return not self.priced_type or any(c.price_not_found for c in self.components)

    @property
    def monthly_cost(self) -> Decimal | None:
        if not self.priced_type:
            return None
        return sum((c.monthly_cost or ZERO for c in self.components), ZERO)

    @property
    def baseline_cost(self) -> Decimal:
        return sum((c.baseline_cost for c in self.components), ZERO)

    @property
    def ceiling_cost(self) -> Decimal | None:
        return None if self.ceiling_unbounded else sum((c.ceiling_cost for c in self.components), ZERO)


# --- pricing context ---------------------------------------------------------------------------


class PricingContext:
    """What pricers may look at besides their own resource: the catalogue, and the resources a
    priced one refers to (launch templates, node classes, autoscaling targets, storage classes)."""

    def __init__(self, catalogue: Catalogue, resources: list[StateResource]):
        self.catalogue = catalogue
        self.launch_templates: dict[str, StateResource] = {}
        self.node_classes: dict[str, StateResource] = {}
        self.storage_classes: dict[str, StateResource] = {}
        self.scaling_targets: dict[str, StateResource] = {}
        self.endpoint_config_of_endpoint: dict[str, str] = {}
        # Ingresses that share an `alb.ingress.kubernetes.io/group.name` share one ALB: the
        # first of each group carries its cost.
        self.alb_group_owner: dict[str, str] = {}
        for resource in resources:
            if resource.type == "kubernetes:networking.k8s.io/v1:Ingress" and _is_alb_ingress(resource):
                group = _annotations(resource).get("alb.ingress.kubernetes.io/group.name")
                if group:
                    self.alb_group_owner.setdefault(str(group), resource.urn)
            if resource.type == "aws:ec2/launchTemplate:LaunchTemplate":
                for ref in (resource.id, resource.outputs.get("id"), resource.inputs.get("name"), resource.outputs.get("name"), resource.outputs.get("arn")):
                    if isinstance(ref, str) and ref:
                        self.launch_templates[ref] = resource
            elif resource.type.startswith("kubernetes:karpenter.k8s.aws/") and resource.type.endswith(":EC2NodeClass"):
                self.node_classes[_metadata_name(resource)] = resource
            elif resource.type == "kubernetes:storage.k8s.io/v1:StorageClass":
                self.storage_classes[_metadata_name(resource)] = resource
            elif resource.type == "aws:appautoscaling/target:Target":
                resource_id = resource.inputs.get("resourceId")
                if isinstance(resource_id, str):
                    self.scaling_targets[resource_id] = resource
            elif resource.type == "aws:sagemaker/endpoint:Endpoint":
                name = resource.inputs.get("name") or resource.outputs.get("name")
                config = resource.inputs.get("endpointConfigName")
                if isinstance(name, str) and isinstance(config, str):
                    self.endpoint_config_of_endpoint[name] = config

    def hours(self, usage: dict) -> Decimal:
        return _decimal(usage.get("monthly_hrs"), HOURS_PER_MONTH)

    def ebs_components(self, label: str, volume_type: str, size_gb: Decimal, iops: Decimal = ZERO, throughput: Decimal = ZERO,
                       count: Decimal = Decimal(1), baseline: Decimal | None = None, ceiling: Decimal | None = None) -> list[CostComponent]:
        """Storage plus provisioned IOPS/throughput beyond the type's free baseline, for `count`
        volumes (baseline/ceiling counts for scaling groups)."""
        catalogue = self.catalogue
        volume_type = (volume_type or "gp2").lower()

        def scaled(name: str, unit: str, price: Decimal | None, per_volume: Decimal) -> CostComponent:
            return CostComponent(name, unit, price, per_volume * count,
                                 None if baseline is None else per_volume * baseline,
                                 None if ceiling is None else per_volume * ceiling)

        components = [scaled(f"{label}: storage ({volume_type})", "GB-months", catalogue.price("ebs", volume_type, "gbMonth"), size_gb)]
        if volume_type == "gp3":
            extra_iops = max(ZERO, iops - _decimal(catalogue.section("ebs", "gp3", "freeIops"), Decimal(3000)))
            extra_throughput = max(ZERO, throughput - _decimal(catalogue.section("ebs", "gp3", "freeThroughputMBps"), Decimal(125)))
            if extra_iops:
                components.append(scaled(f"{label}: provisioned IOPS above baseline (gp3)", "IOPS-months", catalogue.price("ebs", "gp3", "iopsMonth"), extra_iops))
            if extra_throughput:
                components.append(scaled(f"{label}: throughput above baseline (gp3)", "MBps-months", catalogue.price("ebs", "gp3", "throughputMBpsMonth"), extra_throughput))
        elif volume_type == "io1" and iops:
            components.append(scaled(f"{label}: provisioned IOPS (io1)", "IOPS-months", catalogue.price("ebs", "io1", "iopsMonth"), iops))
        elif volume_type == "io2" and iops:
            tiers = catalogue.section("ebs", "io2", "iopsTiers")
            if not isinstance(tiers, list) or not tiers:
                components.append(scaled(f"{label}: provisioned IOPS (io2)", "IOPS-months", None, iops))
            else:
                lower = ZERO
                for tier in tiers:
                    upper = _decimal(tier.get("upTo"), iops) if tier.get("upTo") is not None else iops
                    in_tier = max(ZERO, min(iops, upper) - lower)
                    if in_tier:
                        components.append(scaled(f"{label}: provisioned IOPS (io2, {lower}-{upper})", "IOPS-months", _decimal(tier.get("iopsMonth"), None), in_tier))
                    lower = upper
        return components


def _annotations(resource: StateResource) -> dict:
    metadata = resource.inputs.get("metadata") or {}
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    return annotations if isinstance(annotations, dict) else {}


def _is_alb_ingress(resource: StateResource) -> bool:
    spec = resource.inputs.get("spec") or {}
    return spec.get("ingressClassName") == "alb" or _annotations(resource).get("kubernetes.io/ingress.class") == "alb"


def _metadata_name(resource: StateResource) -> str:
    metadata = resource.inputs.get("metadata") or {}
    return str(metadata.get("name") or resource.name) if isinstance(metadata, dict) else resource.name


# --- the pricer table --------------------------------------------------------------------------

Pricer = Callable[[StateResource, dict, PricingContext], "list[CostComponent] | ResourceCost"]


@dataclass(frozen=True)
class PricerEntry:
    function: Pricer
    usage_schema: dict


PRICERS: dict[str, PricerEntry] = {}

_NUMBER = {"type": "number", "minimum": 0}
_HOURS = {"type": "number", "minimum": 0, "maximum": 744}


def _schema(**properties: dict) -> dict:
    return {"type": "object", "additionalProperties": False, "properties": properties}


def pricer(*type_tokens: str, **usage_keys: dict):
    def register(function: Pricer) -> Pricer:
        for token in type_tokens:
            PRICERS[token] = PricerEntry(function, _schema(**usage_keys))
        return function

    return register


def usage_schemas() -> dict[str, dict]:
    return {token: entry.usage_schema for token, entry in PRICERS.items()}


# Types that cost nothing by themselves. Kubernetes workloads run on nodes priced through their
# node group or NodePool, so counting them again would double count.
FREE_TYPES = frozenset({
    "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable", "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ec2/route:Route", "aws:ec2/internetGateway:InternetGateway", "aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway",
    "aws:ec2/securityGroup:SecurityGroup", "aws:ec2/securityGroupRule:SecurityGroupRule", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "aws:ec2/networkAcl:NetworkAcl", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:ec2/mainRouteTableAssociation:MainRouteTableAssociation", "aws:ec2/vpcEndpointRouteTableAssociation:VpcEndpointRouteTableAssociation",
    "aws:ec2/tag:Tag", "aws:ec2/flowLog:FlowLog", "aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/keyPair:KeyPair",
    "aws:kms/alias:Alias", "aws:kms/grant:Grant", "aws:kms/keyPolicy:KeyPolicy",
    "aws:glue/catalogDatabase:CatalogDatabase",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy", "aws:ecr/repositoryPolicy:RepositoryPolicy", "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration",
    "aws:eks/addon:Addon", "aws:eks/podIdentityAssociation:PodIdentityAssociation", "aws:eks/accessEntry:AccessEntry",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "aws:eks/identityProviderConfig:IdentityProviderConfig",
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup", "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy",
    "aws:sagemaker/model:Model", "aws:sagemaker/endpoint:Endpoint",  # an endpoint's instances are priced on its configuration
    "aws:cloudwatch/logStream:LogStream", "aws:cloudwatch/logResourcePolicy:LogResourcePolicy", "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter",
    "aws:cloudwatch/eventRule:EventRule", "aws:cloudwatch/eventTarget:EventTarget",
    "aws:sqs/queuePolicy:QueuePolicy", "aws:sqs/redrivePolicy:RedrivePolicy", "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy",
    "aws:sns/topic:Topic", "aws:sns/topicSubscription:TopicSubscription", "aws:sns/topicPolicy:TopicPolicy",
    "aws:lambda/permission:Permission", "aws:ssm/parameter:Parameter", "aws:acm/certificate:Certificate",
    "aws:lb/listener:Listener", "aws:lb/listenerRule:ListenerRule", "aws:lb/targetGroup:TargetGroup", "aws:lb/targetGroupAttachment:TargetGroupAttachment",
    "aws:budgets/budget:Budget", "aws:budgets/budgetAction:BudgetAction", "aws:costexplorer/costAllocationTag:CostAllocationTag",
    "aws:costexplorer/anomalyMonitor:AnomalyMonitor", "aws:costexplorer/anomalySubscription:AnomalySubscription",
    "aws:s3:BucketEventSubscription",
})
# Whole services or packages that are free: IAM, S3 bucket configuration (the bucket itself is
# priced), auto scaling targets and policies (capacity is priced on what they scale), and
# providers that only compute values.
FREE_PREFIXES = ("aws:iam/", "aws:appautoscaling/", "random:", "tls:", "command:", "std:", "pulumi:")
_S3_PRICED = {"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"}


def is_known_free(type_token: str) -> bool:
    if type_token in PRICERS:
        return False
    if type_token in FREE_TYPES or type_token.startswith(FREE_PREFIXES):
        return True
    if type_token.startswith("aws:s3/") and type_token not in _S3_PRICED:
        return True
    return type_token.startswith("kubernetes:")


def price_resource(resource: StateResource, usage: UsageFile, context: PricingContext) -> ResourceCost | None:
    """The cost of one resource, or None when it costs nothing by itself."""
    if not resource.custom or resource.is_provider:
        return None
    entry = PRICERS.get(resource.type)
    if entry is None:
        if is_known_free(resource.type):
            return None
        return ResourceCost(resource, priced_type=False, notes=[f"no price rule for type {resource.type}"])
    resource_usage = usage.for_resource(resource.type, resource.name, resource.urn, entry.usage_schema)
    try:
        result = entry.function(resource, resource_usage, context)
    except UsageMismatch as error:
        raise UserError(usage.source, error.message, key=f"{usage.key_of(resource.type, resource.name, resource.urn)}.{error.key}") from None
    if isinstance(result, ResourceCost):
        return result if result.components or result.notes or not result.priced_type else None
    return ResourceCost(resource, result) if result else None


# --- network -----------------------------------------------------------------------------------


@pricer("aws:ec2/natGateway:NatGateway", monthly_hrs=_HOURS, monthly_data_processed_gb=_NUMBER)
def _nat_gateway(resource, usage, ctx):
    return [
        CostComponent("NAT gateway", "hours", ctx.catalogue.price("vpc", "natGatewayHour"), ctx.hours(usage)),
        CostComponent("Data processed", "GB", ctx.catalogue.price("vpc", "natGatewayGb"), _decimal(usage.get("monthly_data_processed_gb")), usage_based=True),
    ]


@pricer("aws:ec2/eip:Eip", monthly_hrs=_HOURS)
def _elastic_ip(resource, usage, ctx):
    # AWS charges every public IPv4 address by the hour, attached or not (since February 2024).
    return [CostComponent("Public IPv4 address", "hours", ctx.catalogue.price("vpc", "publicIpv4Hour"), ctx.hours(usage))]


@pricer("aws:ec2/vpcEndpoint:VpcEndpoint", monthly_hrs=_HOURS, monthly_data_processed_gb=_NUMBER)
def _vpc_endpoint(resource, usage, ctx):
    endpoint_type = str(resource.inputs.get("vpcEndpointType") or "Gateway")
    if endpoint_type == "Gateway":
        return []  # S3 and DynamoDB gateway endpoints are free
    zones = len(resource.inputs.get("subnetIds") or []) or 1
    return [
        CostComponent(f"{endpoint_type} endpoint ({zones} AZ)", "hours", ctx.catalogue.price("vpc", "interfaceEndpointAzHour"), ctx.hours(usage) * zones),
        CostComponent("Data processed", "GB", ctx.catalogue.price("vpc", "interfaceEndpointGb"), _decimal(usage.get("monthly_data_processed_gb")), usage_based=True),
    ]


@pricer("aws:cloudwatch/logGroup:LogGroup", storage_gb=_NUMBER, monthly_data_ingested_gb=_NUMBER, monthly_data_scanned_gb=_NUMBER)
def _log_group(resource, usage, ctx):
    price = ctx.catalogue.price
    return [
        CostComponent("Data ingested", "GB", price("cloudwatch", "logsIngestGb"), _decimal(usage.get("monthly_data_ingested_gb")), usage_based=True),
        CostComponent("Archival storage", "GB-months", price("cloudwatch", "logsStorageGbMonth"), _decimal(usage.get("storage_gb")), usage_based=True),
        CostComponent("Insights queries data scanned", "GB", price("cloudwatch", "logsScannedGb"), _decimal(usage.get("monthly_data_scanned_gb")), usage_based=True),
    ]


@pricer("aws:cloudwatch/metricAlarm:MetricAlarm")
def _metric_alarm(resource, usage, ctx):
    return [CostComponent("Standard resolution alarm", "alarm-months", ctx.catalogue.price("cloudwatch", "alarmMonth"), Decimal(1))]


@pricer("aws:kms/key:Key", monthly_requests=_NUMBER)
def _kms_key(resource, usage, ctx):
    return [
        CostComponent("Customer managed key", "months", ctx.catalogue.price("kms", "keyMonth"), Decimal(1)),
        CostComponent("Requests", "10k requests", ctx.catalogue.price("kms", "requestsPer10k"), _decimal(usage.get("monthly_requests")) / 10_000, usage_based=True),
    ]


_S3_CLASSES = {
    "standard": "STANDARD",
    "intelligent_tiering": "INTELLIGENT_TIERING",
    "standard_infrequent_access": "STANDARD_IA",
    "one_zone_infrequent_access": "ONEZONE_IA",
    "glacier_instant_retrieval": "GLACIER_IR",
    "glacier_flexible_retrieval": "GLACIER",
    "glacier_deep_archive": "DEEP_ARCHIVE",
}
_S3_CLASS_USAGE = _schema(storage_gb=_NUMBER, monthly_tier_1_requests=_NUMBER, monthly_tier_2_requests=_NUMBER)


@pricer("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", **{key: _S3_CLASS_USAGE for key in _S3_CLASSES})
def _s3_bucket(resource, usage, ctx):
    components = []
    for key, storage_class in _S3_CLASSES.items():
        class_usage = usage.get(key) or {}
        if key != "standard" and not class_usage:
            continue
        label = storage_class.replace("_", " ").title().replace("Ia", "IA").replace("Ir", "IR")
        components.append(CostComponent(f"Storage ({label})", "GB-months", ctx.catalogue.price("s3", storage_class, "gbMonth"), _decimal(class_usage.get("storage_gb")), usage_based=True))
        if class_usage.get("monthly_tier_1_requests") is not None:
            components.append(CostComponent(f"PUT, COPY, POST, LIST requests ({label})", "1k requests", ctx.catalogue.price("s3", storage_class, "tier1Per1k"), _decimal(class_usage["monthly_tier_1_requests"]) / 1000, usage_based=True))
        if class_usage.get("monthly_tier_2_requests") is not None:
            components.append(CostComponent(f"GET, SELECT and other requests ({label})", "1k requests", ctx.catalogue.price("s3", storage_class, "tier2Per1k"), _decimal(class_usage["monthly_tier_2_requests"]) / 1000, usage_based=True))
    return components


@pricer("aws:ebs/volume:Volume", monthly_hrs=_HOURS)
def _ebs_volume(resource, usage, ctx):
    share = ctx.hours(usage) / HOURS_PER_MONTH
    return ctx.ebs_components("Volume", str(resource.inputs.get("type") or "gp3"), _decimal(resource.inputs.get("size")) * share,
                              _decimal(resource.inputs.get("iops")), _decimal(resource.inputs.get("throughput")))


# --- compute -----------------------------------------------------------------------------------


@pricer("aws:eks/cluster:Cluster", monthly_hrs=_HOURS, extended_support={"type": "boolean"})
def _eks_cluster(resource, usage, ctx):
    if usage.get("extended_support"):
        return [CostComponent("EKS cluster (extended support)", "hours", ctx.catalogue.price("eks", "extendedSupportClusterHour"), ctx.hours(usage))]
    return [CostComponent("EKS cluster", "hours", ctx.catalogue.price("eks", "clusterHour"), ctx.hours(usage))]


def _instance_hour_price(ctx: PricingContext, instance_type: str, capacity: str) -> Decimal | None:
    instance = ctx.catalogue.instance(instance_type)
    if instance is None:
        return None
    if capacity.lower().replace("-", "_") == "spot":
        ratio = ctx.catalogue.price("ec2", "spotToOnDemandRatio")
        return None if ratio is None else instance.hourly * ratio
    return instance.hourly


@pricer("aws:eks/nodeGroup:NodeGroup", instances=_NUMBER, monthly_hrs=_HOURS)
def _node_group(resource, usage, ctx):
    inputs = resource.inputs
    scaling = inputs.get("scalingConfig") or {}
    desired = _decimal(usage.get("instances"), _decimal(scaling.get("desiredSize"), Decimal(1)))
    minimum = _decimal(scaling.get("minSize"), desired)
    maximum = max(_decimal(scaling.get("maxSize"), desired), desired)
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
    result.components.append(CostComponent(label, "hours", _instance_hour_price(ctx, instance_type, capacity), desired * hours, minimum * hours, maximum * HOURS_PER_MONTH))

    mappings = (template.inputs.get("blockDeviceMappings") if template else None) or []
    disks = [m.get("ebs") or {} for m in mappings if isinstance(m, dict) and m.get("ebs")]
    share = hours / HOURS_PER_MONTH
    if disks:
        for index, ebs in enumerate(disks):
            result.components.extend(ctx.ebs_components(
                f"Node disk {index + 1}", str(ebs.get("volumeType") or "gp2"), _decimal(ebs.get("volumeSize"), Decimal(20)),
                _decimal(ebs.get("iops")), _decimal(ebs.get("throughput")), count=desired * share, baseline=minimum * share, ceiling=maximum))
    else:
        size = _decimal(inputs.get("diskSize"), Decimal(20))
        result.components.extend(ctx.ebs_components("Node disk", "gp2", size, count=desired * share, baseline=minimum * share, ceiling=maximum))
    return result


_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_SUFFIX = {"": 1, "m": Decimal("0.001"), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}


def kubernetes_quantity(value: Any) -> Decimal | None:
    """A Kubernetes resource quantity ("64", "500m", "256Gi") as a number (of units or bytes)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Decimal(str(value))
    match = _QUANTITY.match(str(value).strip()) if value is not None else None
    if not match or match.group(2) not in _SUFFIX:
        return None
    return Decimal(match.group(1)) * Decimal(_SUFFIX[match.group(2)])


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
        monthly_node_hrs=_NUMBER, instance_type={"type": "string", "minLength": 1}, capacity_type={"enum": ["spot", "on-demand"]})
def _node_pool(resource, usage, ctx):
    """Baseline 0 (pools scale from zero), expected = usage node-hours on the cheapest allowed
    type (what Karpenter launches first), ceiling = the pool's limits filled for 730 hours with
    whichever allowed type costs most that way (finance needs the worst case)."""
    spec = resource.inputs.get("spec") or {}
    allowed, capacity_types = _pool_instance_types(spec, ctx.catalogue)
    result = ResourceCost(resource)
    node_hours = _decimal(usage.get("monthly_node_hrs"))
    capacity = usage.get("capacity_type") or ("spot" if "spot" in capacity_types else "on-demand")
    expected_name = usage.get("instance_type") or (min(allowed, key=lambda i: (i.hourly, i.name)).name if allowed else None)
    disks = _node_class_disks(ctx, spec) or [{"volumeSize": "20Gi", "volumeType": "gp3"}]

    def disk_components(label: str, count: Decimal, ceiling: Decimal) -> list[CostComponent]:
        components = []
        for ebs in disks:
            size = (kubernetes_quantity(ebs.get("volumeSize")) or 20 * GIB) / GIB
            for component in ctx.ebs_components(label, str(ebs.get("volumeType") or "gp3"), size, _decimal(ebs.get("iops")), _decimal(ebs.get("throughput")), count=count, baseline=ZERO, ceiling=ceiling):
                components.append(component)
        return components

    if expected_name is None:
        named = sorted(_requested_instance_types(spec))
        result.components.append(CostComponent(f"Expected nodes ({', '.join(named) or 'no allowed instance type'}, {capacity})", "hours", None, node_hours, ZERO, ZERO, usage_based=True))
        result.notes.append("no instance type the pool allows is in the price catalogue")
        return result
    result.components.append(CostComponent(f"Expected nodes ({expected_name}, {capacity})", "hours", _instance_hour_price(ctx, expected_name, capacity), node_hours, ZERO, ZERO, usage_based=True))
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


@pricer("aws:sqs/queue:Queue", monthly_requests=_NUMBER, request_size_kb=_NUMBER)
def _sqs_queue(resource, usage, ctx):
    fifo = bool(resource.inputs.get("fifoQueue"))
    # SQS bills every started 64 KB chunk of a request as one request.
    chunks = max(Decimal(1), (_decimal(usage.get("request_size_kb"), Decimal(64)) / 64).to_integral_value(rounding="ROUND_CEILING"))
    price = ctx.catalogue.price("sqs", "fifoPerMillion" if fifo else "standardPerMillion")
    return [CostComponent(f"Requests ({'FIFO' if fifo else 'standard'})", "1M requests", price, _decimal(usage.get("monthly_requests")) * chunks / 1_000_000, usage_based=True)]


@pricer("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer", monthly_hrs=_HOURS, capacity_units=_NUMBER, monthly_data_processed_gb=_NUMBER)
def _load_balancer(resource, usage, ctx):
    kind = str(resource.inputs.get("loadBalancerType") or "application")
    hours = ctx.hours(usage)
    price = ctx.catalogue.price
    if kind == "application":
        return [CostComponent("Application load balancer", "hours", price("elb", "albHour"), hours),
                CostComponent("Load balancer capacity units", "LCU-hours", price("elb", "albLcuHour"), _decimal(usage.get("capacity_units")) * hours, usage_based=True)]
    if kind == "network":
        return [CostComponent("Network load balancer", "hours", price("elb", "nlbHour"), hours),
                CostComponent("Network load balancer capacity units", "NLCU-hours", price("elb", "nlbLcuHour"), _decimal(usage.get("capacity_units")) * hours, usage_based=True)]
    return [CostComponent(f"{kind.title()} load balancer", "hours", None, hours)]


@pricer("aws:lambda/function:Function", monthly_requests=_NUMBER, request_duration_ms=_NUMBER)
def _lambda_function(resource, usage, ctx):
    memory_gb = _decimal(resource.inputs.get("memorySize"), Decimal(128)) / 1024
    requests = _decimal(usage.get("monthly_requests"))
    seconds = requests * _decimal(usage.get("request_duration_ms")) / 1000
    return [CostComponent("Requests", "1M requests", ctx.catalogue.price("lambda", "requestsPerMillion"), requests / 1_000_000, usage_based=True),
            CostComponent("Duration", "GB-seconds", ctx.catalogue.price("lambda", "gbSecond"), seconds * memory_gb, usage_based=True)]


@pricer("kubernetes:core/v1:PersistentVolumeClaim")
def _persistent_volume_claim(resource, usage, ctx):
    spec = resource.inputs.get("spec") or {}
    size = kubernetes_quantity(((spec.get("resources") or {}).get("requests") or {}).get("storage"))
    if size is None:
        return []
    storage_class = ctx.storage_classes.get(str(spec.get("storageClassName")))
    parameters = (storage_class.inputs.get("parameters") or {}) if storage_class else {}
    # The EBS CSI driver creates gp3 unless the class says otherwise.
    return ctx.ebs_components("Volume", str(parameters.get("type") or "gp3"), size / GIB, _decimal(parameters.get("iops")), _decimal(parameters.get("throughput")))


_ALB_USAGE = {"monthly_hrs": _HOURS, "capacity_units": _NUMBER}


@pricer("kubernetes:networking.k8s.io/v1:Ingress", **_ALB_USAGE)
def _ingress(resource, usage, ctx):
    """The AWS Load Balancer Controller turns an `alb` Ingress into an ALB that Pulumi never
    sees: priced here so the estimate includes it (once per ingress group)."""
    if not _is_alb_ingress(resource):
        return []
    group = _annotations(resource).get("alb.ingress.kubernetes.io/group.name")
    if group and ctx.alb_group_owner.get(str(group)) != resource.urn:
        return []
    hours = ctx.hours(usage)
    label = f"Application load balancer (ingress group {group})" if group else "Application load balancer (from this ingress)"
    return [CostComponent(label, "hours", ctx.catalogue.price("elb", "albHour"), hours),
            CostComponent("Load balancer capacity units", "LCU-hours", ctx.catalogue.price("elb", "albLcuHour"), _decimal(usage.get("capacity_units")) * hours, usage_based=True)]


@pricer("kubernetes:core/v1:Service", **_ALB_USAGE, monthly_data_processed_gb=_NUMBER)
def _service(resource, usage, ctx):
    """A `LoadBalancer` Service gets an NLB from the AWS Load Balancer Controller (annotation
    `service.beta.kubernetes.io/aws-load-balancer-type: external|nlb`), else a Classic one."""
    if (resource.inputs.get("spec") or {}).get("type") != "LoadBalancer":
        return []
    hours = ctx.hours(usage)
    price = ctx.catalogue.price
    if _annotations(resource).get("service.beta.kubernetes.io/aws-load-balancer-type") in ("external", "nlb", "nlb-ip"):
        return [CostComponent("Network load balancer (from this service)", "hours", price("elb", "nlbHour"), hours),
                CostComponent("Network load balancer capacity units", "NLCU-hours", price("elb", "nlbLcuHour"), _decimal(usage.get("capacity_units")) * hours, usage_based=True)]
    return [CostComponent("Classic load balancer (from this service)", "hours", price("elb", "clbHour"), hours),
            CostComponent("Data processed", "GB", price("elb", "clbGb"), _decimal(usage.get("monthly_data_processed_gb")), usage_based=True)]


@pricer("aws:secretsmanager/secret:Secret", monthly_requests=_NUMBER)
def _secret(resource, usage, ctx):
    return [CostComponent("Secret", "months", ctx.catalogue.price("secretsmanager", "secretMonth"), Decimal(1)),
            CostComponent("API requests", "10k requests", ctx.catalogue.price("secretsmanager", "requestsPer10k"), _decimal(usage.get("monthly_requests")) / 10_000, usage_based=True)]


# --- registries --------------------------------------------------------------------------------


@pricer("aws:ecr/repository:Repository", storage_gb=_NUMBER)
def _ecr_repository(resource, usage, ctx):
    return [CostComponent("Storage", "GB-months", ctx.catalogue.price("ecr", "storageGbMonth"), _decimal(usage.get("storage_gb")), usage_based=True)]


# --- endpoints ---------------------------------------------------------------------------------


def _variant_scaling(ctx: PricingContext, config: StateResource, variant: str) -> StateResource | None:
    config_name = config.inputs.get("name") or config.outputs.get("name")
    endpoints = [endpoint for endpoint, name in ctx.endpoint_config_of_endpoint.items() if name == config_name]
    for endpoint in endpoints:
        target = ctx.scaling_targets.get(f"endpoint/{endpoint}/variant/{variant}")
        if target is not None:
            return target
    by_variant = [t for rid, t in ctx.scaling_targets.items() if rid.endswith(f"/variant/{variant}")]
    return by_variant[0] if len(by_variant) == 1 else None


@pricer("aws:sagemaker/endpointConfiguration:EndpointConfiguration", instances=_NUMBER, monthly_hrs=_HOURS,
        monthly_requests=_NUMBER, request_duration_ms=_NUMBER, monthly_data_processed_gb=_NUMBER)
def _endpoint_configuration(resource, usage, ctx):
    components = []
    hours = ctx.hours(usage)
    price = ctx.catalogue.price
    for variant in resource.inputs.get("productionVariants") or []:
        name = str(variant.get("variantName") or "variant")
        serverless = variant.get("serverlessConfig")
        if serverless:
            memory_gb = _decimal(serverless.get("memorySizeInMb"), Decimal(1024)) / 1024
            seconds = _decimal(usage.get("monthly_requests")) * _decimal(usage.get("request_duration_ms")) / 1000
            busy_seconds = _decimal(serverless.get("maxConcurrency"), Decimal(1)) * HOURS_PER_MONTH * 3600
            components.append(CostComponent(f"{name}: serverless inference ({memory_gb.normalize()} GB)", "GB-seconds", price("sagemaker", "serverlessGbSecond"),
                                            seconds * memory_gb, ZERO, busy_seconds * memory_gb, usage_based=True))
            components.append(CostComponent(f"{name}: data processed", "GB", price("sagemaker", "serverlessDataGb"), _decimal(usage.get("monthly_data_processed_gb")), usage_based=True))
            continue
        instance_type = str(variant.get("instanceType") or "")
        count = _decimal(usage.get("instances"), _decimal(variant.get("initialInstanceCount"), Decimal(1)))
        target = _variant_scaling(ctx, resource, name)
        minimum = _decimal(target.inputs.get("minCapacity"), count) if target else count
        maximum = max(_decimal(target.inputs.get("maxCapacity"), count), count) if target else count
        components.append(CostComponent(f"{name}: hosting ({instance_type or 'no instance type'})", "hours", price("sagemaker", "hostingInstances", instance_type) if instance_type else None,
                                        count * hours, minimum * hours, maximum * HOURS_PER_MONTH))
    return components


# --- notebooks ---------------------------------------------------------------------------------

_PROFILE_USAGE = {"type": "object", "additionalProperties": False, "required": ["instance_type"],
                  "properties": {"monthly_hrs": _NUMBER, "instance_type": {"type": "string", "minLength": 1}}}


@pricer("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Release",
        notebook_users=_NUMBER, storage_gb_per_user=_NUMBER, storage_volume_type={"enum": ["gp2", "gp3", "io1", "io2", "st1", "sc1"]},
        profile_hours={"type": "object", "additionalProperties": _PROFILE_USAGE})
def _helm_release(resource, usage, ctx):
    """Helm releases run on priced nodes and are free, except JupyterHub: each user's volume
    survives culling, and notebook hours per profile are their own line (keep them out of the
    pools' `monthly_node_hrs`, or they count twice)."""
    if "jupyterhub" not in str(resource.inputs.get("chart") or "").lower():
        return []
    values = resource.inputs.get("values") if isinstance(resource.inputs.get("values"), dict) else {}
    profiles = [p.get("slug") for p in ((values.get("singleuser") or {}).get("profileList") or []) if isinstance(p, dict) and p.get("slug")]
    for profile in (usage.get("profile_hours") or {}):
        if profiles and profile not in profiles:
            raise UsageMismatch(f"profile_hours.{profile}", f"no JupyterHub profile {profile!r} in this release (profiles: {', '.join(profiles)})")
    users = _decimal(usage.get("notebook_users"))
    components = ctx.ebs_components("Per-user notebook storage", str(usage.get("storage_volume_type") or "gp3"), _decimal(usage.get("storage_gb_per_user")), count=users)
    for component in components:
        component.usage_based = True
    for profile, profile_usage in sorted((usage.get("profile_hours") or {}).items()):
        instance_type = profile_usage["instance_type"]
        components.append(CostComponent(f"Notebook hours, profile {profile} ({instance_type})", "hours", _instance_hour_price(ctx, instance_type, "on-demand"),
                                        _decimal(profile_usage.get("monthly_hrs")), usage_based=True))
    return components


class UsageMismatch(Exception):
    """Usage that is valid on its own but names something the resource does not have."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key
        self.message = message


# --- estimate ----------------------------------------------------------------------------------


@dataclass
class Estimate:
    region: str
    catalogue: Catalogue
    costs: list[ResourceCost]
    free_resources: int
    group_keys: tuple[str, ...]
    unused_usage: list[str]
    usage_source: str
    region_assumed: bool = False  # the document does not say; DEFAULT_REGION was used
    stack_tags: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> Decimal:
        return sum((c.monthly_cost or ZERO for c in self.costs), ZERO)

    @property
    def baseline_total(self) -> Decimal:
        return sum((c.baseline_cost for c in self.costs), ZERO)

    @property
    def ceiling_total(self) -> Decimal:
        return sum((c.ceiling_cost or ZERO for c in self.costs), ZERO)

    @property
    def ceiling_unbounded(self) -> bool:
        return any(c.ceiling_unbounded for c in self.costs)

    def groups(self) -> dict[str, dict[str, dict[str, Any]]]:
        grouped: dict[str, dict[str, dict[str, Any]]] = {}
        for key in self.group_keys:
            by_value: dict[str, dict[str, Any]] = {}
            for cost in self.costs:
                value = group_value(cost.resource, key, self.stack_tags)
                entry = by_value.setdefault(value, {"monthly": ZERO, "baseline": ZERO, "ceiling": ZERO, "resources": 0, "priceNotFound": 0, "unbounded": False})
                entry["monthly"] += cost.monthly_cost or ZERO
                entry["baseline"] += cost.baseline_cost
                entry["ceiling"] += cost.ceiling_cost or ZERO
                entry["unbounded"] |= cost.ceiling_unbounded
                entry["resources"] += 1
                entry["priceNotFound"] += cost.price_not_found
            grouped[key] = dict(sorted(by_value.items(), key=lambda item: (-item[1]["monthly"], item[0])))
        return grouped


# Keys under which charts take the labels they put on their objects (JupyterHub `hub.labels`,
# `singleuser.extraLabels`, Karpenter `podLabels`, ...).
_CHART_LABEL_KEYS = frozenset({"labels", "extraLabels", "commonLabels", "podLabels", "additionalLabels", "customLabels"})


def _chart_labels(values: Any) -> list[dict]:
    found = []
    if isinstance(values, dict):
        for key, value in values.items():
            if key in _CHART_LABEL_KEYS and isinstance(value, dict):
                found.append(value)
            else:
                found.extend(_chart_labels(value))
    elif isinstance(values, list):
        for item in values:
            found.extend(_chart_labels(item))
    return found


def release_labels(resource: StateResource) -> dict[str, str]:
    """The labels a Helm release gives every object it labels: a release has no labels of its
    own, but what it runs carries the cost labels its values set (JupyterHub's hub, proxy and
    user servers: the platform team). Only labels on which all of them agree count."""
    label_sets = _chart_labels(resource.inputs.get("values"))
    if not label_sets:
        return {}
    common = {str(k): str(v) for k, v in label_sets[0].items() if isinstance(v, (str, int, float)) and not isinstance(v, bool)}
    for labels in label_sets[1:]:
        common = {k: v for k, v in common.items() if str(labels.get(k)) == v}
    return common


def group_value(resource: StateResource, key: str, stack_tags: dict[str, str] | None = None) -> str:
    """The value of a cost tag on a resource: its effective AWS tag, else the same fact as a
    Kubernetes label (for a Helm release, the label its values give all it runs), else (for
    Component) the component its URN places it in, else the stack-wide value the AWS provider's
    default tags give everything in the stack."""
    if resource.tags.get(key):
        return resource.tags[key]
    metadata = resource.inputs.get("metadata")
    labels = (metadata.get("labels") or {}) if isinstance(metadata, dict) else {}
    if resource.type.startswith("kubernetes:helm.sh/"):
        labels = {**release_labels(resource), **(labels if isinstance(labels, dict) else {})}
    label = TAG_LABELS.get(key, key)
    if isinstance(labels, dict) and labels.get(label):
        return str(labels[label])
    if key == "Component":
        return resource.component
    return (stack_tags or {}).get(key) or UNTAGGED


def stack_default_tags(resources: list[StateResource]) -> dict[str, str]:
    """The default tags of the document's AWS provider: the stack-wide cost tags."""
    for resource in resources:
        if resource.type == "pulumi:providers:aws":
            tags = provider_default_tags(resource)
            if tags:
                return tags
    return {}


def region_of(resources: list[StateResource]) -> str | None:
    """The AWS region a document deploys to: its AWS provider's, else one its resources report."""
    for resource in resources:
        if resource.type == "pulumi:providers:aws":
            region = resource.inputs.get("region") or resource.outputs.get("region")
            if isinstance(region, str) and region:
                return region
    for resource in resources:
        region = resource.outputs.get("region")
        if isinstance(region, str) and region:
            return region
        arn = resource.outputs.get("arn")
        if isinstance(arn, str) and arn.count(":") >= 5 and arn.split(":")[3]:
            return arn.split(":")[3]
    return None


def estimate(resources: list[StateResource], usage: UsageFile | None = None, region: str | None = None,
             group_keys: Iterable[str] = DEFAULT_GROUP_KEYS, catalogue: Catalogue | None = None) -> Estimate:
    usage = usage or UsageFile()
    region = region or region_of(resources)
    region_assumed = region is None
    region = region or DEFAULT_REGION
    catalogue = catalogue or load_catalogue(region)
    context = PricingContext(catalogue, resources)
    costs: list[ResourceCost] = []
    free = 0
    for resource in resources:
        cost = price_resource(resource, usage, context)
        if cost is None:
            free += resource.custom and not resource.is_provider
        else:
            costs.append(cost)
    usage.check_every_key_used()
    return Estimate(region, catalogue, costs, free, tuple(group_keys), usage.unused_entries(), usage.source, region_assumed, stack_default_tags(resources))


# --- output ------------------------------------------------------------------------------------


def as_json(result: Estimate) -> dict[str, Any]:
    groups = {
        key: [
            {"value": value, "monthlyCost": money(entry["monthly"]), "baselineMonthlyCost": money(entry["baseline"]),
             "ceilingMonthlyCost": None if entry["unbounded"] else money(entry["ceiling"]), "resources": entry["resources"],
             "priceNotFound": entry["priceNotFound"]}
            for value, entry in values.items()
        ]
        for key, values in result.groups().items()
    }
    return {
        "currency": result.catalogue.currency,
        "region": result.region,
        "regionAssumed": result.region_assumed,
        "priceCatalogue": {"region": result.catalogue.region, "asOf": result.catalogue.as_of or None, "source": result.catalogue.source or None,
                           "available": result.catalogue.available},
        "usageFile": result.usage_source,
        "hoursPerMonth": int(HOURS_PER_MONTH),
        "totalMonthlyCost": money(result.total),
        "totalBaselineMonthlyCost": money(result.baseline_total),
        "totalCeilingMonthlyCost": None if result.ceiling_unbounded else money(result.ceiling_total),
        "ceilingUnbounded": result.ceiling_unbounded,
        "resources": [
            {
                "name": cost.resource.name,
                "urn": cost.resource.urn,
                "type": cost.resource.type,
                "tags": {key: group_value(cost.resource, key, result.stack_tags) for key in result.group_keys},
                "monthlyCost": money(cost.monthly_cost),
                "baselineMonthlyCost": money(cost.baseline_cost),
                "ceilingMonthlyCost": money(cost.ceiling_cost),
                "priceNotFound": cost.price_not_found,
                "costComponents": [component.as_json() for component in cost.components],
                **({"notes": cost.notes} if cost.notes else {}),
            }
            for cost in result.costs
        ],
        "groups": groups,
        "summary": {
            "pricedResources": sum(not c.price_not_found for c in result.costs),
            "priceNotFoundResources": sum(c.price_not_found for c in result.costs),
            "freeResources": result.free_resources,
            "unusedUsageEntries": result.unused_usage,
        },
    }


def _dollars(value: Decimal | None) -> str:
    return "-" if value is None else f"${value.quantize(CENT, rounding=ROUND_HALF_UP):,}"


def render_table(result: Estimate, console: Console) -> None:
    catalogue = result.catalogue
    console.print(f"[bold]Monthly cost estimate[/bold]  region {result.region}  prices as of {catalogue.as_of or 'n/a'}  usage {result.usage_source}")
    if result.region_assumed:
        console.print(f"[yellow]the document does not say its region: priced in {result.region} (pass --region to choose)[/yellow]")
    if not catalogue.available:
        console.print(f"[yellow]no price catalogue for {result.region} (have {', '.join(available_regions())}): every price is reported as not found; "
                      f"run `mlp prices refresh --region {result.region}`[/yellow]")
    table = Table(title_justify="left")
    for title, justify in (("resource", "left"), ("monthly qty", "right"), ("unit", "left"), ("price", "right"), ("monthly", "right"), ("baseline", "right"), ("ceiling", "right")):
        table.add_column(title, justify=justify)
    for cost in sorted(result.costs, key=lambda c: (-(c.monthly_cost or ZERO), c.resource.urn)):
        flag = " [red](price not found)[/red]" if cost.price_not_found else ""
        table.add_row(f"[bold]{cost.resource.name}[/bold] [dim]{cost.resource.type}[/dim]{flag}", "", "", "",
                      _dollars(cost.monthly_cost), _dollars(cost.baseline_cost), "unbounded" if cost.ceiling_unbounded else _dollars(cost.ceiling_cost))
        for component in cost.components:
            table.add_row(f"  {component.name}", f"{component.quantity.quantize(CENT, rounding=ROUND_HALF_UP):,}", component.unit,
                          "[red]not found[/red]" if component.price is None else f"${component.price.normalize():f}",
                          _dollars(component.monthly_cost), "", "")
        for note in cost.notes:
            table.add_row(f"  [dim]{note}[/dim]", "", "", "", "", "", "")
    console.print(table)
    for key, values in result.groups().items():
        grouped = Table(title=f"By {key}", title_justify="left")
        for title in (key, "resources", "monthly", "baseline", "ceiling"):
            grouped.add_column(title, justify="left" if title == key else "right")
        for value, entry in values.items():
            grouped.add_row(value, str(entry["resources"]), _dollars(entry["monthly"]), _dollars(entry["baseline"]), "unbounded" if entry["unbounded"] else _dollars(entry["ceiling"]))
        console.print(grouped)
    not_found = sum(c.price_not_found for c in result.costs)
    console.print(f"[bold]Total monthly cost: {_dollars(result.total)}[/bold] (baseline {_dollars(result.baseline_total)}, "
                  f"ceiling {'unbounded' if result.ceiling_unbounded else _dollars(result.ceiling_total)}); "
                  f"{len(result.costs) - not_found} priced resource(s), {result.free_resources} free" + (f", [red]{not_found} with a price not found[/red]" if not_found else ""))
    for entry in result.unused_usage:
        console.print(f"[yellow]usage entry matches no resource: resource_usage.{entry}[/yellow]")


def render_csv(result: Estimate) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "type", "urn", *result.group_keys, "monthlyCost", "baselineMonthlyCost", "ceilingMonthlyCost", "priceNotFound"])
    for cost in result.costs:
        writer.writerow([cost.resource.name, cost.resource.type, cost.resource.urn, *(group_value(cost.resource, k, result.stack_tags) for k in result.group_keys),
                         money(cost.monthly_cost) or "", money(cost.baseline_cost), money(cost.ceiling_cost) or "", str(cost.price_not_found).lower()])
    return out.getvalue()


def parse_group_keys(text: str | None) -> tuple[str, ...]:
    if text is None:
        return DEFAULT_GROUP_KEYS
    keys = tuple(k.strip() for k in text.split(",") if k.strip())
    if not keys:
        raise UserError("--by", "expected one or more tag keys separated by commas, e.g. Team,Component")
    return keys


def run(args: argparse.Namespace) -> int:
    group_keys = parse_group_keys(args.by)
    if bool(args.state) == bool(args.stack):
        raise UserError("mlp cost", "give either a state file (stack export or `pulumi preview --json`) or --stack STACK")
    usage = load_usage(args.usage, usage_schemas())
    from mlp.plan import planned_or_loaded

    resources = planned_or_loaded(args.state, args.stack, args.config_file)
    result = estimate(resources, usage, args.region, group_keys)
    if args.format == "json":
        sys.stdout.write(json.dumps(as_json(result), indent=2) + "\n")
    elif args.format == "csv":
        sys.stdout.write(render_csv(result))
    else:
        render_table(result, output_console())
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("cost", help="monthly cost estimate of a stack export, a preview, or a planned stack")
    parser.add_argument("state", nargs="?", help="a `pulumi stack export` document or a `pulumi preview --json` file")
    parser.add_argument("--stack", help="plan this stack offline (dev, staging, prod) and estimate it")
    parser.add_argument("--config-file", help="with --stack: the stack file to read instead of stacks/Pulumi.<stack>.yaml")
    parser.add_argument("--usage", help="usage file (stacks/usage.<env>.yaml)")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")
    parser.add_argument("--by", help=f"tag keys to group by, comma-separated (default {','.join(DEFAULT_GROUP_KEYS)})")
    parser.add_argument("--region", help="price in this region instead of the document's")
    parser.set_defaults(handler=run)
