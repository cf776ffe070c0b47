"""The estimate of a document: every resource through its pricer, free or flagged where there is
none, and the totals and groups the outputs show."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable

from mlp.cost.core import PRICERS, ZERO, PricingContext, ResourceCost, UsageMismatch
from mlp.cost.free import is_known_free
from mlp.cost.grouping import DEFAULT_GROUP_KEYS, group_value, stack_default_tags
from mlp.errors import UserError
from mlp.prices import Catalogue, load_catalogue
from mlp.state import StateResource
from mlp.usage import UsageFile

DEFAULT_REGION = "us-east-1"  # the AWS provider's own default when nothing sets a region


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
