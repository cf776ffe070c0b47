"""The estimate of a document: every resource through its pricer, free or flagged where there is
none, volume tiers over the stack's totals, and the totals and groups the outputs show."""

from __future__ import annotations

import gc
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Iterable, Iterator

from mlp.cost.context import DEFAULT_REGION, PricingContext, region_of
from mlp.cost.core import PRICERS, ZERO, ResourceCost, UsageMismatch
from mlp.cost.free import is_known_free
from mlp.cost.grouping import DEFAULT_GROUP_KEYS, group_values, stack_default_tags
from mlp.cost.provenance import Provenance
from mlp.cost.tiers import apply_tiers
from mlp.errors import UserError
from mlp.prices import Catalogue, load_catalogue
from mlp.state import StateResource
from mlp.usage import UsageFile

__all__ = ["DEFAULT_REGION", "Estimate", "estimate", "gc_paused", "price_resource", "region_of"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Reading and pricing a large document makes millions of small objects and no cycles worth
    collecting; the collector's passes over them cost up to as much as the work itself."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _given(usage: dict, key: str) -> bool:
    """Whether a resource's usage sets `key` (a dotted path; a key another resource's usage
    provides, "monthly_node_hrs (of node pool gpu)", was found by the pricer)."""
    if " (of " in key:
        return True
    node: Any = usage
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


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
    if not isinstance(result, ResourceCost):
        result = ResourceCost(resource, result)
    for component in result.components:
        if component.usage_key is not None:
            component.usage_given = _given(resource_usage, component.usage_key)
    return result if result.components or not result.priced_type else None


# Untaggable resources whose charges AWS bills with another resource's tags: the input naming it.
# An EFS file system's automatic backups are recovery points of that file system (AWS Backup).
BILLED_WITH = {"aws:efs/backupPolicy:BackupPolicy": "fileSystemId"}


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
    on: date = field(default_factory=date.today)  # the day prices and the EKS support calendar apply to
    _provenance: Provenance | None = field(default=None, repr=False)
    _tags: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    _totals: tuple[Decimal, Decimal, Decimal, Decimal, Decimal] | None = field(default=None, repr=False)
    _cost_totals: dict[int, tuple[Decimal, Decimal, Decimal, Decimal, Decimal]] = field(default_factory=dict, repr=False)

    def totals_of(self, cost: ResourceCost) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
        """`cost.totals()`, worked out once per estimate (the outputs ask for it several times)."""
        found = self._cost_totals.get(id(cost))
        if found is None:
            found = self._cost_totals[id(cost)] = cost.totals()
        return found

    def tags_of(self, cost: ResourceCost) -> dict[str, str]:
        """The group keys' values of a priced resource, worked out once (a Helm release's come
        from walking its chart values); an untaggable resource billed with another takes its tags."""
        found = self._tags.get(cost.resource.urn)
        if found is None:
            owner = self._billed_with(cost.resource)
            found = self._tags[cost.resource.urn] = group_values(owner or cost.resource, self.group_keys, self.stack_tags)
        return found

    def _billed_with(self, resource: StateResource) -> StateResource | None:
        reference = BILLED_WITH.get(resource.type)
        target = resource.inputs.get(reference) if reference else None
        if not isinstance(target, str):
            return None
        return next((c.resource for c in self.costs if target in (c.resource.id, c.resource.outputs.get("id"))), None)

    @property
    def provenance(self) -> Provenance:
        if self._provenance is None:
            self._provenance = Provenance(self.catalogue)
        return self._provenance

    def _sums(self) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
        """(expected, fixed, usage-based, floor, ceiling) of the whole estimate, summed once: an
        estimate does not change once made."""
        if self._totals is None:
            expected = fixed = usage = floor = ceiling = ZERO
            for cost in self.costs:
                monthly, cost_fixed, cost_usage, cost_floor, cost_ceiling = self.totals_of(cost)
                expected += monthly if cost.priced_type else ZERO
                fixed += cost_fixed
                usage += cost_usage
                floor += cost_floor
                ceiling += ZERO if cost.ceiling_unbounded else cost_ceiling
            self._totals = (expected, fixed, usage, floor, ceiling)
        return self._totals

    # Expected, fixed, usage-based, floor and ceiling totals (core.py says what each means);
    # `baseline_total` is the floor's earlier name.
    total = property(lambda self: self._sums()[0])
    fixed_total = property(lambda self: self._sums()[1])
    usage_total = property(lambda self: self._sums()[2])
    floor_total = baseline_total = property(lambda self: self._sums()[3])
    ceiling_total = property(lambda self: self._sums()[4])

    @property
    def ceiling_unbounded(self) -> bool:
        return any(c.ceiling_unbounded for c in self.costs)

    def not_priced_by_type(self) -> dict[str, int]:
        """Resources some price of which is missing, counted per type (largest first)."""
        counts = Counter(c.resource.type for c in self.costs if c.price_not_found)
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def unverified_lines(self) -> int:
        provenance = self.provenance
        return sum(1 for c in self.costs for line in c.components if line.price is not None and not provenance.verified(line.refs))

    def groups(self) -> dict[str, dict[str, dict[str, Any]]]:
        grouped: dict[str, dict[str, dict[str, Any]]] = {key: {} for key in self.group_keys}
        for cost in self.costs:
            monthly, fixed, usage, floor, ceiling = self.totals_of(cost)
            if not cost.priced_type:
                monthly = ZERO
            tags = self.tags_of(cost)
            for key, by_value in grouped.items():
                entry = by_value.get(tags[key])
                if entry is None:
                    entry = by_value[tags[key]] = {"monthly": ZERO, "fixed": ZERO, "usage": ZERO, "floor": ZERO, "ceiling": ZERO, "resources": 0,
                                                   "priceNotFound": 0, "unbounded": False}
                entry["monthly"] += monthly
                entry["fixed"] += fixed
                entry["usage"] += usage
                entry["floor"] += floor
                entry["ceiling"] += ZERO if cost.ceiling_unbounded else ceiling
                entry["unbounded"] |= cost.ceiling_unbounded
                entry["resources"] += 1
                entry["priceNotFound"] += cost.price_not_found
        return {key: dict(sorted(by_value.items(), key=lambda item: (-item[1]["monthly"], item[0]))) for key, by_value in grouped.items()}


def estimate(resources: list[StateResource], usage: UsageFile | None = None, region: str | None = None,
             group_keys: Iterable[str] = DEFAULT_GROUP_KEYS, catalogue: Catalogue | None = None, on: date | None = None) -> Estimate:
    usage = usage or UsageFile()
    region = region or region_of(resources)
    region_assumed = region is None
    region = region or DEFAULT_REGION
    catalogue = catalogue or load_catalogue(region)
    on = on or date.today()

    def usage_of(resource: StateResource) -> dict:
        entry = PRICERS.get(resource.type)
        return usage.for_resource(resource.type, resource.name, resource.urn, entry.usage_schema) if entry else {}

    context = PricingContext(catalogue, resources, on, usage_of)
    costs: list[ResourceCost] = []
    free = 0
    for resource in resources:
        if resource.external:
            continue  # read with `get`: another stack (or nobody) pays for it
        cost = price_resource(resource, usage, context)
        if cost is None:
            free += resource.custom and not resource.is_provider
        else:
            costs.append(cost)
    apply_tiers((line for cost in costs for line in cost.components if line.tier is not None), catalogue)
    usage.check_every_key_used()
    return Estimate(region, catalogue, costs, free, tuple(group_keys), usage.unused_entries(), usage.source, region_assumed,
                    stack_default_tags(resources), on)
