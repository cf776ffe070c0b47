"""What a change does to one stack: resources added, changed, replaced and removed (matched by
URN), the inputs that moved, the priced lines that moved, and the cost change expected, at the
floor and at the ceiling, overall, per cost tag and against the stack's budgets.

Each side is priced with its own usage file, so a usage change is priced too; both sides are
priced on the same day and in the same region's catalogue when the documents agree on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable

from mlp.cost import DEFAULT_GROUP_KEYS, ZERO, CostComponent, Estimate, ResourceCost, estimate, group_value
from mlp.diff.budgets import BudgetCheck, budgets_of, check_budgets
from mlp.diff.properties import PropertyChange, Step, input_changes, step_changes
from mlp.state import StateResource
from mlp.usage import UsageFile

SCENARIOS = ("expected", "floor", "ceiling")
_TOP_KEY = re.compile(r'^(?:\["([^"]*)"\]|([^.\[]*))')


def scenario_cost(cost: ResourceCost | CostComponent | None, scenario: str) -> Decimal | None:
    if cost is None:
        return None
    if scenario == "expected":
        return cost.monthly_cost
    return cost.floor_cost if scenario == "floor" else cost.ceiling_cost


def _delta(before: Decimal | None, after: Decimal | None) -> Decimal:
    return (after or ZERO) - (before or ZERO)


def _cents(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass
class LineChange:
    """One priced line that moved: its monthly cost before and after, per scenario."""

    name: str
    base: CostComponent | None
    head: CostComponent | None

    def change(self, scenario: str) -> Decimal:
        return _delta(scenario_cost(self.base, scenario), scenario_cost(self.head, scenario))

    @property
    def usage_key(self) -> str | None:
        return (self.head or self.base).usage_key

    @property
    def moved(self) -> bool:
        return any(_cents(scenario_cost(self.base, s)) != _cents(scenario_cost(self.head, s)) for s in SCENARIOS)


@dataclass
class ResourceChange:
    kind: str  # "add", "remove", "change" or "replace"
    urn: str
    type: str
    properties: list[PropertyChange] = field(default_factory=list)
    base_cost: ResourceCost | None = None
    head_cost: ResourceCost | None = None
    tags: dict[str, str] = field(default_factory=dict)  # the cost tags it groups by (head's, else base's)
    protected: bool = False  # the base protects it from deletion
    usage_changes: list[tuple[str, Any, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]

    @property
    def changed_inputs(self) -> list[str]:
        """The top-level inputs that changed (`spec` of `spec.limits["nvidia.com/gpu"]`)."""
        return sorted({next(part for part in _TOP_KEY.match(change.path).groups() if part is not None) for change in self.properties})

    @property
    def price_not_found(self) -> bool:
        cost = self.head_cost if self.kind != "remove" else self.base_cost
        return bool(cost and cost.price_not_found)

    def cost(self, side: str, scenario: str = "expected") -> Decimal | None:
        return scenario_cost(self.base_cost if side == "base" else self.head_cost, scenario)

    def change(self, scenario: str = "expected") -> Decimal:
        return _delta(self.cost("base", scenario), self.cost("head", scenario))

    @property
    def cost_change(self) -> Decimal:
        return self.change("expected")

    @property
    def flagged(self) -> bool:
        return self.kind == "replace" or (self.protected and self.kind in ("remove", "replace"))

    def lines(self) -> list[LineChange]:
        """The priced lines that moved, matched by name."""
        before = {c.name: c for c in (self.base_cost.components if self.base_cost else [])}
        after = {c.name: c for c in (self.head_cost.components if self.head_cost else [])}
        names = list(before) + [n for n in after if n not in before]
        return [line for line in (LineChange(n, before.get(n), after.get(n)) for n in names) if line.moved]


def flatten_usage(usage: UsageFile | None) -> dict[str, Any]:
    """A usage file as dotted paths (`resource_usage.<name>.standard.storage_gb`)."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict) and node:
            for key, value in node.items():
                walk(f"{prefix}.{key}", value)
        else:
            flat[prefix] = node

    if usage is not None:
        for section, entries in (("resource_type_default_usage", usage.type_defaults), ("resource_usage", usage.resources)):
            for key, value in (entries or {}).items():
                walk(f"{section}.{key}", value)
    return flat


def usage_changes(base: UsageFile | None, head: UsageFile | None) -> list[tuple[str, Any, Any]]:
    before, after = flatten_usage(base), flatten_usage(head)
    return [(path, before.get(path), after.get(path)) for path in sorted(set(before) | set(after)) if before.get(path) != after.get(path)]


def _usage_of_resource(changes: list[tuple[str, Any, Any]], resource: StateResource) -> list[tuple[str, Any, Any]]:
    own = (f"resource_usage.{resource.name}.", f"resource_usage.{resource.urn}.", f"resource_type_default_usage.{resource.type}.")
    return [change for change in changes if change[0].startswith(own)]


@dataclass
class StackDiff:
    name: str | None
    base: Estimate
    head: Estimate
    changes: list[ResourceChange]
    group_keys: tuple[str, ...]
    budgets: list[BudgetCheck] = field(default_factory=list)
    budgets_skipped: list[str] = field(default_factory=list)
    usage_changes: list[tuple[str, Any, Any]] = field(default_factory=list)
    from_preview: bool = False

    def total(self, side: str, scenario: str = "expected") -> Decimal | None:
        estimate_ = self.base if side == "base" else self.head
        if scenario == "expected":
            return estimate_.total
        if scenario == "floor":
            return estimate_.floor_total
        return None if estimate_.ceiling_unbounded else estimate_.ceiling_total

    def change(self, scenario: str = "expected") -> Decimal | None:
        before, after = self.total("base", scenario), self.total("head", scenario)
        return None if before is None or after is None else after - before

    @property
    def cost_change(self) -> Decimal:
        return self.head.total - self.base.total

    @property
    def percent(self) -> Decimal | None:
        if self.base.total == 0:
            return None
        return (self.cost_change / self.base.total * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def unchanged(self) -> bool:
        return not self.changes and all(_cents(self.total("base", s)) == _cents(self.total("head", s)) for s in SCENARIOS)

    def count(self, kind: str) -> int:
        return sum(change.kind == kind for change in self.changes)

    def flagged(self) -> list[ResourceChange]:
        return [change for change in self.changes if change.flagged]

    def by_tag(self) -> dict[str, list[dict[str, Any]]]:
        """Per value of each tag key: base and head cost and the change, per scenario."""
        result = {}
        base_groups, head_groups = self.base.groups(), self.head.groups()
        names = {"expected": "monthly", "floor": "floor", "ceiling": "ceiling"}
        for key in self.group_keys:
            rows = []
            for value in sorted(set(base_groups.get(key, {})) | set(head_groups.get(key, {}))):
                before, after = base_groups.get(key, {}).get(value, {}), head_groups.get(key, {}).get(value, {})
                row: dict[str, Any] = {"value": value}
                for scenario, entry_key in names.items():
                    row[scenario] = (before.get(entry_key, ZERO), after.get(entry_key, ZERO))
                row["base"], row["head"] = row["expected"]
                row["change"] = row["head"] - row["base"]
                rows.append(row)
            result[key] = sorted(rows, key=lambda row: (-abs(row["change"]), -abs(row["ceiling"][1] - row["ceiling"][0]), row["value"]))
        return result


def _comparable(resources: Iterable[StateResource]) -> dict[str, StateResource]:
    return {r.urn: r for r in resources if r.custom and r.type != "pulumi:pulumi:Stack"}


def _kind(urn: str, before: StateResource | None, after: StateResource | None, properties: list[PropertyChange], step: Step | None) -> str:
    if step is not None and step.ops:
        if step.replaces:
            return "replace"
        if step.deletes or after is None:
            return "remove"
        if "create" in step.ops or before is None:
            return "add"
        return "change"
    if before is None:
        return "add"
    if after is None:
        return "remove"
    return "replace" if any(p.replaces for p in properties) else "change"


def compare(base_estimate: Estimate, head_estimate: Estimate, base: list[StateResource], head: list[StateResource], name: str | None = None,
            steps: dict[str, Step] | None = None, base_usage: UsageFile | None = None, head_usage: UsageFile | None = None) -> StackDiff:
    steps = steps or {}
    base_costs = {c.resource.urn: c for c in base_estimate.costs}
    head_costs = {c.resource.urn: c for c in head_estimate.costs}
    before, after = _comparable(base), _comparable(head)
    usage_diff = usage_changes(base_usage, head_usage)
    changes = []
    for urn in sorted(set(before) | set(after)):
        old, new, step = before.get(urn), after.get(urn), steps.get(urn)
        if step is not None and step.ops <= {"same", "read", "refresh"}:
            properties: list[PropertyChange] = []
        elif step is not None:
            properties = step_changes((new or old).type, step)
        else:
            properties = input_changes((new or old).type, old.inputs, new.inputs) if old and new else []
        change = ResourceChange(_kind(urn, old, new, properties, step), urn, (new or old).type, properties, base_costs.get(urn), head_costs.get(urn))
        change.protected = bool((old and old.protect) or (step and step.old_protect))
        side, side_estimate = (new, head_estimate) if new is not None else (old, base_estimate)
        change.usage_changes = _usage_of_resource(usage_diff, side)
        costs_moved = any(_cents(change.cost("base", s)) != _cents(change.cost("head", s)) for s in SCENARIOS)
        if change.kind == "change" and not properties and not costs_moved and not change.usage_changes:
            continue
        change.tags = {key: group_value(side, key, side_estimate.stack_tags) for key in head_estimate.group_keys}
        changes.append(change)
    budgets, skipped = budgets_of(head)
    if not budgets and not skipped:
        budgets, skipped = budgets_of(base)
    return StackDiff(name, base_estimate, head_estimate, changes, head_estimate.group_keys, check_budgets(budgets, base_estimate, head_estimate), skipped,
                     usage_diff, bool(steps))


def diff_resources(base: list[StateResource], head: list[StateResource], usage: UsageFile | None = None, group_keys: Iterable[str] = DEFAULT_GROUP_KEYS,
                   region: str | None = None, base_usage: UsageFile | None = None, head_usage: UsageFile | None = None, on: date | None = None,
                   steps: dict[str, Step] | None = None, name: str | None = None) -> StackDiff:
    """Price both sides (base with its usage file, head with its own; `usage` for both when
    neither is given) and compare them."""
    group_keys = tuple(group_keys)
    base_usage = base_usage or usage
    head_usage = head_usage or usage
    on = on or date.today()
    base_estimate = estimate(base, base_usage, region, group_keys, on=on)
    head_estimate = estimate(head, head_usage, region, group_keys, on=on)
    return compare(base_estimate, head_estimate, base, head, name, steps, base_usage, head_usage)
