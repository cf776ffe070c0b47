"""What every pricer shares: money and quantities, the priced lines it returns, the context it
reads, and the table it registers in. A month is 730 hours; money is Decimal, rounded only when
shown."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable

# Pricers count months in hours from here; the catalogue owns the figure.
from mlp.prices import HOURS_PER_MONTH as HOURS_PER_MONTH
from mlp.prices import Catalogue
from mlp.state import StateResource

ZERO = Decimal(0)
CENT = Decimal("0.01")
GIB = Decimal(1024) ** 3
UNTAGGED = "(untagged)"  # the group of what lacks a tag, here and in `mlp report`


def quantity_text(value: Decimal) -> str:
    """A quantity to at most 4 decimals, without trailing zeros (prorated hours are long)."""
    text = format(value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def money(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def to_decimal(value: Any, default: Decimal = ZERO) -> Decimal:
    """A number from a resource input or a usage entry; `default` where there is none (a bool
    is no number, though Python says it is)."""
    if value is None or isinstance(value, bool):
        return default
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return default


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


class UsageMismatch(Exception):
    """Usage that is valid on its own but names something the resource does not have."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key
        self.message = message


# --- what a pricer may look at ------------------------------------------------------------------


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


class PricingContext:
    """What pricers may look at besides their own resource: the catalogue, and the resources a
    priced one refers to (launch templates, node classes, autoscaling targets, storage classes),
    indexed once per estimate so that no pricer scans the whole document."""

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
            if resource.type == "kubernetes:networking.k8s.io/v1:Ingress" and is_alb_ingress(resource):
                group = annotations(resource).get("alb.ingress.kubernetes.io/group.name")
                if group:
                    self.alb_group_owner.setdefault(str(group), resource.urn)
            if resource.type == "aws:ec2/launchTemplate:LaunchTemplate":
                for ref in (resource.id, resource.outputs.get("id"), resource.inputs.get("name"), resource.outputs.get("name"), resource.outputs.get("arn")):
                    if isinstance(ref, str) and ref:
                        self.launch_templates[ref] = resource
            elif resource.type.startswith("kubernetes:karpenter.k8s.aws/") and resource.type.endswith(":EC2NodeClass"):
                self.node_classes[metadata_name(resource)] = resource
            elif resource.type == "kubernetes:storage.k8s.io/v1:StorageClass":
                self.storage_classes[metadata_name(resource)] = resource
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
        return to_decimal(usage.get("monthly_hrs"), HOURS_PER_MONTH)


# --- the pricer table --------------------------------------------------------------------------

Pricer = Callable[[StateResource, dict, PricingContext], "list[CostComponent] | ResourceCost"]


@dataclass(frozen=True)
class PricerEntry:
    function: Pricer
    usage_schema: dict


PRICERS: dict[str, PricerEntry] = {}

# Usage-key schemas the pricers' declarations share.
NUMBER = {"type": "number", "minimum": 0}
HOURS = {"type": "number", "minimum": 0, "maximum": 744}


def object_schema(**properties: dict) -> dict:
    return {"type": "object", "additionalProperties": False, "properties": properties}


def pricer(*type_tokens: str, **usage_keys: dict):
    """Register a pricer for these type tokens; `usage_keys` are the usage-file keys it reads,
    as JSON schemas, so a typo in a usage file is an error and not a silent $0."""

    def register(function: Pricer) -> Pricer:
        for token in type_tokens:
            PRICERS[token] = PricerEntry(function, object_schema(**usage_keys))
        return function

    return register


def usage_schemas() -> dict[str, dict]:
    return {token: entry.usage_schema for token, entry in PRICERS.items()}
