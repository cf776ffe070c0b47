"""What a pricer may look at besides its own resource: the catalogue (each price remembering its
entry), the day the estimate is for, the usage of resources it depends on, and the resources a
priced one refers to (launch templates, node classes, autoscaling targets, storage classes),
indexed once per estimate so that no pricer scans the whole document."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from typing import Any, Callable

from mlp.cost.core import HOURS_PER_MONTH, Price, to_decimal
from mlp.prices import Catalogue, InstanceType
from mlp.state import StateResource

NODE_POOL_TYPES = ("kubernetes:karpenter.sh/v1:NodePool", "kubernetes:karpenter.sh/v1beta1:NodePool")
HELM_RELEASE_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Release")
LB_CONTROLLER_CHART = "aws-load-balancer-controller"
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
DEFAULT_REGION = "us-east-1"  # the AWS provider's own default when nothing sets a region


def region_of(resources: list[StateResource]) -> str | None:
    """The AWS region a document deploys to: that of the AWS provider most of its resources use
    (a stack may keep a second provider for a service that answers in one region only, such as
    Data Exports in us-east-1), else one its resources report."""
    used = Counter(resource.provider.rsplit("::", 1)[0] for resource in resources if resource.provider)
    providers = [resource for resource in resources if resource.type == "pulumi:providers:aws"]
    for resource in sorted(providers, key=lambda provider: -used[provider.urn]):  # stable: document order on ties
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


def annotations(resource: StateResource) -> dict:
    metadata = resource.inputs.get("metadata") or {}
    found = metadata.get("annotations") if isinstance(metadata, dict) else None
    return found if isinstance(found, dict) else {}


def is_alb_ingress(resource: StateResource) -> bool:
    spec = resource.inputs.get("spec") or {}
    return spec.get("ingressClassName") == "alb" or annotations(resource).get("kubernetes.io/ingress.class") == "alb"


def metadata_name(resource: StateResource) -> str:
    metadata = resource.inputs.get("metadata") or {}
    return str(metadata.get("name") or resource.name) if isinstance(metadata, dict) else resource.name


def chart_name(resource: StateResource) -> str:
    """A release's chart without repository or OCI prefix (`oci://.../karpenter` -> karpenter)."""
    return str(resource.inputs.get("chart") or "").rstrip("/").rsplit("/", 1)[-1].lower()


def chart_values(resource: StateResource) -> dict:
    values = resource.inputs.get("values")
    return values if isinstance(values, dict) else {}


def release_ingress(resource: StateResource) -> dict | None:
    """The `ingress` values of a release whose chart makes an Ingress of class alb, if enabled."""
    ingress = chart_values(resource).get("ingress")
    if not isinstance(ingress, dict) or not ingress.get("enabled"):
        return None
    notes = ingress.get("annotations") if isinstance(ingress.get("annotations"), dict) else {}
    return ingress if ingress.get("ingressClassName") == "alb" or notes.get("kubernetes.io/ingress.class") == "alb" else None


class PricingContext:
    def __init__(self, catalogue: Catalogue, resources: list[StateResource], on: date | None = None,
                 usage_of: Callable[[StateResource], dict] | None = None):
        self.catalogue = catalogue
        self.on = on or date.today()
        self._usage_of = usage_of
        self._prices: dict[tuple, Price | None] = {}
        self._traits: dict[str, tuple[InstanceType, str, str]] | None = None
        self.launch_templates: dict[str, StateResource] = {}
        self.node_classes: dict[str, StateResource] = {}
        self.node_pools: dict[str, StateResource] = {}
        self.storage_classes: dict[str, StateResource] = {}
        self.default_storage_class: StateResource | None = None
        self.scaling_targets: dict[str, StateResource] = {}
        self.endpoint_config_of_endpoint: dict[str, str] = {}
        # Ingresses (declared, or made by a chart) that share an `alb.ingress.kubernetes.io/group.name`
        # share one ALB: the first of each group carries its cost.
        self.alb_group_owner: dict[str, str] = {}
        # The AWS Load Balancer Controller's service webhook (on by default) gives new
        # LoadBalancer Services an NLB; without it, the cloud provider makes a Classic one.
        self.services_get_nlb = False
        for resource in resources:
            self._index(resource)

    def _index(self, resource: StateResource) -> None:
        kind = resource.type
        if kind == "kubernetes:networking.k8s.io/v1:Ingress" and is_alb_ingress(resource):
            self._claim_alb_group(annotations(resource), resource.urn)
        elif kind in HELM_RELEASE_TYPES:
            ingress = release_ingress(resource)
            if ingress is not None:
                self._claim_alb_group(ingress.get("annotations") or {}, resource.urn)
            if chart_name(resource) == LB_CONTROLLER_CHART and chart_values(resource).get("enableServiceMutatorWebhook", True) is not False:
                self.services_get_nlb = True
        elif kind == "aws:ec2/launchTemplate:LaunchTemplate":
            for ref in (resource.id, resource.outputs.get("id"), resource.inputs.get("name"), resource.outputs.get("name"), resource.outputs.get("arn")):
                if isinstance(ref, str) and ref:
                    self.launch_templates[ref] = resource
        elif kind.startswith("kubernetes:karpenter.k8s.aws/") and kind.endswith(":EC2NodeClass"):
            self.node_classes[metadata_name(resource)] = resource
        elif kind in NODE_POOL_TYPES:
            self.node_pools[metadata_name(resource)] = resource
        elif kind == "kubernetes:storage.k8s.io/v1:StorageClass":
            self.storage_classes[metadata_name(resource)] = resource
            if str(annotations(resource).get(DEFAULT_CLASS_ANNOTATION)).lower() == "true":
                self.default_storage_class = resource
        elif kind == "aws:appautoscaling/target:Target":
            resource_id = resource.inputs.get("resourceId")
            if isinstance(resource_id, str):
                self.scaling_targets[resource_id] = resource
        elif kind == "aws:sagemaker/endpoint:Endpoint":
            name = resource.inputs.get("name") or resource.outputs.get("name")
            config = resource.inputs.get("endpointConfigName")
            if isinstance(name, str) and isinstance(config, str):
                self.endpoint_config_of_endpoint[name] = config

    def _claim_alb_group(self, notes: dict, urn: str) -> None:
        group = notes.get("alb.ingress.kubernetes.io/group.name") if isinstance(notes, dict) else None
        if group:
            self.alb_group_owner.setdefault(str(group), urn)

    # --- prices ---------------------------------------------------------------------------------

    def price(self, *path: str) -> Price | None:
        """The catalogue price at `path`, remembering its entry; None when the catalogue lacks it
        (the line is then reported as not priced, never as $0)."""
        key = path
        if key not in self._prices:
            value = self.catalogue.price(*path)
            self._prices[key] = None if value is None else Price(value, (".".join(path),))
        return self._prices[key]

    def instance(self, name: str) -> InstanceType | None:
        return self.catalogue.instance(name)

    def instance_traits(self) -> dict[str, tuple[InstanceType, str, str]]:
        """Each catalogue instance type with its family and category, worked out once."""
        if self._traits is None:
            self._traits = {name: (i, i.family, i.category) for name, i in self.catalogue.instances().items()}
        return self._traits

    def instance_hour(self, instance_type: str, capacity: str) -> Price | None:
        """An instance type's hourly price; spot as the catalogue's fraction of on-demand, since
        spot prices move too often to ship."""
        spot = capacity.lower().replace("-", "_") == "spot"
        key = ("instance", instance_type, spot)
        if key not in self._prices:
            instance = self.catalogue.instance(instance_type)
            ref = f"ec2.instances.{instance_type}.hourly"
            if instance is None:
                self._prices[key] = None
            elif spot:
                ratio = self.price("ec2", "spotToOnDemandRatio")
                self._prices[key] = None if ratio is None else Price(instance.hourly * ratio, (ref, *ratio.refs))
            else:
                self._prices[key] = Price(instance.hourly, (ref,))
        return self._prices[key]

    # --- usage ----------------------------------------------------------------------------------

    def hours(self, usage: dict) -> Decimal:
        return to_decimal(usage.get("monthly_hrs"), HOURS_PER_MONTH)

    def usage_of(self, resource: StateResource) -> dict[str, Any]:
        """The usage-file entry of another resource (a pool's node-hours drive what its GPU
        agents publish)."""
        return self._usage_of(resource) if self._usage_of else {}

    def storage_class_of(self, name: Any) -> StateResource | None:
        """A claim's StorageClass: the one it names, else the cluster's default one."""
        if name:
            return self.storage_classes.get(str(name))
        return self.default_storage_class
