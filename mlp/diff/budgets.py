"""Budgets as guardrails: each `aws:budgets/budget:Budget` the stack declares (its limit and its
tag filter: the environment, or the environment and a team) against the estimate of what it
covers, expected and worst case."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mlp.cost import ZERO, Estimate, group_value, money
from mlp.cost.core import to_decimal
from mlp.state import StateResource

BUDGET_TYPE = "aws:budgets/budget:Budget"
_USER_TAG = "user:"


@dataclass(frozen=True)
class Budget:
    name: str
    limit: Decimal
    unit: str
    tags: tuple[tuple[str, frozenset[str]], ...]  # (tag key, allowed values), all must hold

    @property
    def scope(self) -> str:
        return ", ".join(f"{key}={'|'.join(sorted(values))}" for key, values in self.tags) or "everything"

    def covers(self, resource: StateResource, stack_tags: dict[str, str]) -> bool:
        return all(group_value(resource, key, stack_tags) in values for key, values in self.tags)


def _expression_tags(expression: Any) -> list[tuple[str, frozenset[str]]] | None:
    """The tag conditions of a budget filter expression; None if it filters on anything else."""
    if not isinstance(expression, dict):
        return None
    if "ands" in expression:
        found: list[tuple[str, frozenset[str]]] = []
        for part in expression.get("ands") or []:
            tags = _expression_tags(part)
            if tags is None:
                return None
            found.extend(tags)
        return found
    tags = expression.get("tags")
    if isinstance(tags, dict) and tags.get("key") and set(tags) <= {"key", "values", "matchOptions"}:
        options = {str(o).upper() for o in tags.get("matchOptions") or ["EQUALS"]}
        if options - {"EQUALS"}:
            return None
        return [(str(tags["key"]).removeprefix(_USER_TAG), frozenset(str(v) for v in tags.get("values") or []))]
    return None


def _cost_filter_tags(filters: Any) -> list[tuple[str, frozenset[str]]] | None:
    """Legacy `costFilters` (`TagKeyValue: ["user:Team$vision"]`, as a map or a list of name/values)."""
    pairs = filters.items() if isinstance(filters, dict) else [(f.get("name"), f.get("values")) for f in filters or [] if isinstance(f, dict)]
    found: dict[str, set[str]] = {}
    for name, values in pairs:
        if name != "TagKeyValue":
            return None
        for value in values if isinstance(values, list) else [values]:
            key, _, tag_value = str(value).removeprefix(_USER_TAG).partition("$")
            found.setdefault(key, set()).add(tag_value)
    return [(key, frozenset(values)) for key, values in found.items()]


def budgets_of(resources: list[StateResource]) -> tuple[list[Budget], list[str]]:
    """The monthly cost budgets a document declares, and why any other was left out."""
    budgets, skipped = [], []
    for resource in resources:
        if resource.type != BUDGET_TYPE:
            continue
        inputs = resource.inputs
        name = str(inputs.get("name") or resource.name)
        if str(inputs.get("budgetType") or "COST") != "COST" or str(inputs.get("timeUnit") or "MONTHLY") != "MONTHLY":
            skipped.append(f"{name}: not a monthly cost budget")
            continue
        limit = to_decimal(inputs.get("limitAmount"), Decimal(-1))
        if limit < 0:
            skipped.append(f"{name}: no limit amount")
            continue
        if inputs.get("filterExpression"):
            tags = _expression_tags(inputs["filterExpression"])
        elif inputs.get("costFilters"):
            tags = _cost_filter_tags(inputs["costFilters"])
        else:
            tags = []
        if tags is None:
            skipped.append(f"{name}: filters on more than cost tags")
            continue
        budgets.append(Budget(name, limit, str(inputs.get("limitUnit") or "USD"), tuple(sorted(tags))))
    return sorted(budgets, key=lambda b: (len(b.tags), b.name)), skipped


@dataclass(frozen=True)
class BudgetCheck:
    budget: Budget
    base_expected: Decimal | None
    expected: Decimal
    ceiling: Decimal | None  # None: the worst case is unbounded

    @property
    def status(self) -> str:
        if self.expected > self.budget.limit:
            return "over"
        if self.ceiling is None or self.ceiling > self.budget.limit:
            return "ceiling over"
        return "ok"

    def percent(self, value: Decimal | None) -> str:
        if value is None or not self.budget.limit:
            return "-"
        return f"{(value / self.budget.limit * 100).quantize(Decimal('1'))}%"

    def as_json(self) -> dict[str, Any]:
        return {"budget": self.budget.name, "scope": {key: sorted(values) for key, values in self.budget.tags}, "limit": money(self.budget.limit),
                "unit": self.budget.unit, "baseMonthlyCost": money(self.base_expected), "headMonthlyCost": money(self.expected),
                "headCeilingMonthlyCost": money(self.ceiling), "status": self.status}


def _covered(budget: Budget, result: Estimate) -> tuple[Decimal, Decimal | None]:
    expected, ceiling, unbounded = ZERO, ZERO, False
    for cost in result.costs:
        if budget.covers(cost.resource, result.stack_tags):
            expected += cost.monthly_cost or ZERO
            ceiling += cost.ceiling_cost or ZERO
            unbounded |= cost.ceiling_unbounded
    return expected, None if unbounded else ceiling


def check_budgets(budgets: list[Budget], base: Estimate | None, head: Estimate) -> list[BudgetCheck]:
    checks = []
    for budget in budgets:
        expected, ceiling = _covered(budget, head)
        checks.append(BudgetCheck(budget, _covered(budget, base)[0] if base is not None else None, expected, ceiling))
    return checks
