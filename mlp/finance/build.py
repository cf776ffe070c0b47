"""Filling the monthly model from a source, with the estimate of the same hours beside each line."""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from mlp.cost import UNTAGGED, estimate
from mlp.errors import UserError
from mlp.finance.athena import allocate, build_query, run_query
from mlp.finance.model import CENT, NO_COMPONENT, UNTAGGED_TEAM, ZERO, FinanceReport, Month
from mlp.prices import HOURS_PER_MONTH
from mlp.spend import PeriodSpend

GPU_FAMILIES = ("g", "p", "gr")  # EC2 GPU instance families: g5, g6e, p4d, p5, gr6...


def joint_estimates(resources, usage) -> tuple[dict[tuple[str, str], Decimal], Any]:
    """Monthly (730 h) estimate by (Team, Component) at once, and the price catalogue."""
    estimated = estimate(resources, usage, group_keys=("Team", "Component"))
    joint: dict[tuple[str, str], Decimal] = {}
    for cost in estimated.costs:
        if not cost.priced_type:
            continue
        tags = estimated.tags_of(cost)
        team = UNTAGGED_TEAM if tags["Team"] == UNTAGGED else tags["Team"]
        component = NO_COMPONENT if tags["Component"] == UNTAGGED else tags["Component"]
        joint[(team, component)] = joint.get((team, component), ZERO) + estimated.totals_of(cost)[0]
    return joint, estimated.catalogue


def _hours(start: date, end: date) -> Decimal:
    return Decimal((end - start).days * 24)


def attach_estimates(month: Month, monthly: dict[tuple[str, str], Decimal], kind_of_team=lambda team: "allocated") -> None:
    """Each (team, component)'s estimate for the month's hours goes on its allocated line (created
    at $0 where nothing was spent), so the estimates add up to the month's estimate once."""
    scale = _hours(month.start, month.end) / HOURS_PER_MONTH
    for (team, component), value in sorted(monthly.items()):
        line = month.line(team, component, kind_of_team(team))
        line.estimate = ((line.estimate or ZERO) + value * scale).quantize(CENT, ROUND_HALF_UP)


def is_gpu_instance(catalogue):
    """Whether an EC2 instance type has GPUs: the catalogue says, else its family does."""
    def check(instance_type: str) -> bool:
        known = catalogue.instance(instance_type) if catalogue and instance_type else None
        if known is not None:
            return known.gpus > 0
        family = re.match(r"([a-z]+)\d", instance_type or "")
        return bool(family) and family.group(1) in GPU_FAMILIES
    return check


def from_athena(athena, workgroup: str, database: str, table: str, environment: str, start: date, end: date,
                estimates: dict[tuple[str, str], Decimal], catalogue, currency: str) -> FinanceReport:
    query = build_query(database, table, environment, start, end)
    months = allocate(run_query(athena, query, workgroup, database), environment, is_gpu_instance(catalogue))
    for month in months:
        attach_estimates(month, estimates, lambda team: "untagged" if team == UNTAGGED_TEAM else "allocated")
    return FinanceReport("athena", environment, currency, start, end, months)


def from_cost_explorer(periods: list[PeriodSpend], environment: str, currency: str, start: date, end: date,
                       team_estimates: dict[str, Decimal], without_environment: list[PeriodSpend]) -> FinanceReport:
    """Cost Explorer's monthly spend by Team (it has no split data: one line per team)."""
    unassigned = {(p.start, p.end): p.totals.get("", ZERO) for p in without_environment}
    months = []
    for period in periods:
        month = Month(period.start, period.end, final=not period.estimated, without_environment=unassigned.get((period.start, period.end), ZERO).quantize(CENT, ROUND_HALF_UP))
        for value, spent in sorted(period.totals.items()):
            spent = spent.quantize(CENT, ROUND_HALF_UP)  # cents, so the month is the sum of its lines
            if value:
                month.line(value, NO_COMPONENT, "allocated").add(spent, spent)
            else:
                month.line(UNTAGGED_TEAM, NO_COMPONENT, "untagged").add(spent, spent)
        attach_estimates(month, {(team if team != UNTAGGED else UNTAGGED_TEAM, NO_COMPONENT): value for team, value in team_estimates.items()},
                         lambda team: "untagged" if team == UNTAGGED_TEAM else "allocated")
        months.append(month)
    return FinanceReport("cost-explorer", environment, currency, start, end, months)


def billing_owner_region(stacks_dir: Path) -> str | None:
    """The region of the stack that owns account-wide billing (its Athena workgroup lives there)."""
    from mlp.stackfile import read_stack_config

    for path in sorted(stacks_dir.glob("Pulumi.*.yaml")):
        config = read_stack_config(path)
        budgets = config.get("mlplatform:budgets")
        if isinstance(budgets, dict) and budgets.get("activateCostAllocationTags") is True:
            region = config.get("aws:region")
            if not isinstance(region, str):
                raise UserError(str(path), "expected the region of the stack that owns the billing exports", key="aws:region")
            return region
    return None
