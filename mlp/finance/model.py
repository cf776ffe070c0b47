"""What finance reads, month by month: every dollar of an environment's spend in exactly one line.

A line is one (team, component, kind) of one month. The kinds partition the spend, so lines add
up to the month's actual spend and never count a dollar twice:

- `allocated`: spend a team's resources or pods used (on shared nodes: the pods' split cost);
- `idle`: capacity of shared nodes reserved for a team's pods but unused (split cost allocation
  data's unused cost, by the pods' share); `idleGpu` is the part of it on GPU nodes;
- `untagged`: spend in the environment without a Team tag;
- `unallocated`: shared-node cost of pods without the team label.

Every report source (the CUR 2.0 export through Athena, Cost Explorer) produces this model, and the
JSON, CSV and HTML are rendered from it, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from mlp.cost import money

ZERO = Decimal(0)
CENT = Decimal("0.01")
KINDS = ("allocated", "idle", "untagged", "unallocated")
UNTAGGED_TEAM = "(untagged)"
UNALLOCATED_TEAM = "(unallocated)"
NO_COMPONENT = "(none)"
SOURCES = ("athena", "cost-explorer")


@dataclass
class Line:
    team: str
    component: str
    kind: str
    billed: Decimal = ZERO  # what AWS bills (unblended)
    effective: Decimal = ZERO  # after discounts (net unblended where the source has it)
    idle_gpu: Decimal = ZERO  # of an idle line: the part on GPU nodes
    estimate: Decimal | None = None  # of an allocated line: what `mlp cost` expected for these hours
    services: dict[str, Decimal] = field(default_factory=dict)

    def add(self, billed: Decimal, effective: Decimal, service: str = "") -> None:
        self.billed += billed
        self.effective += effective
        if service:
            self.services[service] = self.services.get(service, ZERO) + billed

    @property
    def variance(self) -> Decimal | None:
        return None if self.estimate is None else self.billed - self.estimate

    @property
    def service_names(self) -> list[str]:
        """The services this line's spend came from, largest first."""
        return [name for name, _ in sorted(self.services.items(), key=lambda item: (-item[1], item[0]))]


@dataclass
class TeamTotal:
    team: str
    allocated: Decimal = ZERO
    idle: Decimal = ZERO
    idle_gpu: Decimal = ZERO
    other: Decimal = ZERO  # untagged or unallocated spend (the pseudo-teams)
    estimate: Decimal | None = None

    @property
    def actual(self) -> Decimal:
        return self.allocated + self.idle + self.other

    @property
    def variance(self) -> Decimal | None:
        return None if self.estimate is None else self.actual - self.estimate


@dataclass
class Month:
    start: date
    end: date  # the day after the last
    final: bool  # False: AWS may still change the month's figures (no invoice yet / Estimated)
    lines: list[Line] = field(default_factory=list)
    without_environment: Decimal = ZERO  # account spend without an Environment tag (not in the lines)
    split_data: bool | None = None  # whether the source carried split cost allocation data (None: cannot say)

    def line(self, team: str, component: str, kind: str) -> Line:
        for line in self.lines:
            if (line.team, line.component, line.kind) == (team, component, kind):
                return line
        created = Line(team, component, kind)
        self.lines.append(created)
        return created

    def total(self, kind: str | None = None, what: str = "billed") -> Decimal:
        return sum((getattr(line, what) for line in self.lines if kind is None or line.kind == kind), ZERO)

    @property
    def actual(self) -> Decimal:
        return self.total()

    @property
    def estimate(self) -> Decimal:
        return sum((line.estimate for line in self.lines if line.estimate is not None), ZERO)

    def teams(self) -> list[TeamTotal]:
        """Per team: allocated, idle and estimate; untagged and unallocated spend as teams of their own."""
        totals: dict[str, TeamTotal] = {}
        for line in self.lines:
            total = totals.setdefault(line.team, TeamTotal(line.team))
            if line.kind == "allocated":
                total.allocated += line.billed
            elif line.kind == "idle":
                total.idle += line.billed
                total.idle_gpu += line.idle_gpu
            else:
                total.other += line.billed
            if line.estimate is not None:
                total.estimate = (total.estimate or ZERO) + line.estimate
        return sorted(totals.values(), key=lambda t: (t.team.startswith("("), -t.actual, t.team))

    def team_components(self) -> list[tuple[str, str, Decimal, Decimal | None]]:
        """(team, component, actual, estimate): the team x component table; actual counts every
        kind, so the cells of a month add up to its actual spend."""
        cells: dict[tuple[str, str], list] = {}
        for line in self.lines:
            cell = cells.setdefault((line.team, line.component), [ZERO, None])
            cell[0] += line.billed
            if line.estimate is not None:
                cell[1] = (cell[1] or ZERO) + line.estimate
        return [(team, component, actual, estimate) for (team, component), (actual, estimate)
                in sorted(cells.items(), key=lambda item: (item[0][0].startswith("("), item[0][0], item[0][1]))]

    def sorted_lines(self) -> list[Line]:
        return sorted(self.lines, key=lambda l: (l.team.startswith("("), l.team, l.component, KINDS.index(l.kind)))

    def as_json(self) -> dict[str, Any]:
        return {
            "billingPeriodStart": self.start.isoformat(),
            "billingPeriodEnd": self.end.isoformat(),
            "status": "final" if self.final else "estimated",
            "actualCost": money(self.actual),
            "effectiveCost": money(self.total(what="effective")),
            "estimatedCost": money(self.estimate),
            "variance": money(self.actual - self.estimate),
            "allocatedCost": money(self.total("allocated")),
            "idleCost": money(self.total("idle")),
            "idleGpuCost": money(self.total("idle", "idle_gpu")),
            "untaggedCost": money(self.total("untagged")),
            "unallocatedCost": money(self.total("unallocated")),
            "costWithoutEnvironmentTag": money(self.without_environment),
            "splitCostAllocationData": self.split_data,
            "teams": [{"team": t.team, "actualCost": money(t.actual), "allocatedCost": money(t.allocated), "idleCost": money(t.idle),
                       "idleGpuCost": money(t.idle_gpu), "otherCost": money(t.other), "estimatedCost": money(t.estimate),
                       "variance": money(t.variance)} for t in self.teams()],
            "teamComponents": [{"team": team, "component": component, "actualCost": money(actual), "estimatedCost": money(estimate),
                                "variance": money(None if estimate is None else actual - estimate)}
                               for team, component, actual, estimate in self.team_components()],
            "lines": [{"team": l.team, "component": l.component, "kind": l.kind, "billedCost": money(l.billed),
                       "effectiveCost": money(l.effective), "idleGpuCost": money(l.idle_gpu), "estimatedCost": money(l.estimate),
                       "variance": money(l.variance), "services": l.service_names} for l in self.sorted_lines()],
        }


@dataclass
class FinanceReport:
    source: str
    environment: str
    currency: str
    start: date
    end: date
    months: list[Month] = field(default_factory=list)

    @property
    def actual(self) -> Decimal:
        return sum((m.actual for m in self.months), ZERO)

    @property
    def estimate(self) -> Decimal:
        return sum((m.estimate for m in self.months), ZERO)

    def team_names(self) -> list[str]:
        names: dict[str, Decimal] = {}
        for month in self.months:
            for total in month.teams():
                names[total.team] = names.get(total.team, ZERO) + total.actual
        return sorted(names, key=lambda team: (team.startswith("("), -names[team], team))

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "currency": self.currency,
            "environment": self.environment,
            "period": {"start": self.start.isoformat(), "end": self.end.isoformat()},
            "totalActualCost": money(self.actual),
            "totalEstimatedCost": money(self.estimate),
            "variance": money(self.actual - self.estimate),
            "months": [month.as_json() for month in self.months],
        }
