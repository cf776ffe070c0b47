"""Budget-aware queues: the most each team's Kueue queue can cost a month, beside the team's budget.

Karpenter limits a pool in vCPUs and GPUs, not dollars, and Kueue quotas are in the same units, so
nothing stops a team's queue from being worth several times its budget. This prices a queue at its
ceiling: on every pool, the most the queue can hold at once (nominal quota plus borrowing, within
what the rest of the cohort lends) times the hourly price per unit of the pool's most expensive
allowed instance type, for a 730-hour month, at on-demand list prices (spot never costs more).
GPU pools are priced per GPU, since a GPU instance's vCPUs come with its GPUs (config keeps CPU-only
quota off GPU pools); CPU pools per vCPU.

Prices come from the catalogue `mlp cost` uses (`mlp/data/prices/`), read only. `team_ceilings` is
the one entry point: `mlp plan` shows every team's ceiling, config validation refuses a stack whose
queues are over budget (`TeamCeiling.problem`) when it says `distributed.enforceBudgets: true`, and
`mlp cost` can show the same figures.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping, Optional, Sequence

from components.config.distributed import DistributedConfig
from components.config.nodepools import NodePoolConfig, is_graviton
from mlp.prices import HOURS_PER_MONTH, Catalogue, InstanceType, load_catalogue


@dataclass(frozen=True)
class UnitPrice:
    """What one unit of a pool (a GPU, or a vCPU) costs an hour on its priciest allowed instance."""

    pool: str
    unit: str  # "GPU" or "vCPU"
    hourly: Optional[Decimal]  # None: the catalogue has no instance type the pool may launch
    instance_type: Optional[str]


@dataclass(frozen=True)
class PoolCeiling:
    """A team's queue on one pool: nominal units, the most it can hold, and what that costs a month."""

    price: UnitPrice
    nominal: int
    ceiling: int

    @property
    def monthly(self) -> Optional[Decimal]:
        if not self.ceiling:
            return Decimal(0)
        return None if self.price.hourly is None else self.ceiling * self.price.hourly * HOURS_PER_MONTH

    def describe(self) -> str:
        unit = self.price.unit + ("s" if self.ceiling != 1 else "")
        if self.price.hourly is None:
            return f"{self.price.pool}: {self.ceiling} {unit}, not priced (no instance type of the pool in the price catalogue)"
        return f"{self.price.pool}: {self.ceiling} {unit} x {money(self.price.hourly, 4)}/h ({self.price.instance_type})"


@dataclass(frozen=True)
class TeamCeiling:
    """A team's queue priced at its ceiling, and the team's monthly budget (None if it has none)."""

    team: str
    pools: tuple[PoolCeiling, ...]
    budget: Optional[Decimal]

    @property
    def monthly(self) -> Optional[Decimal]:
        """The monthly ceiling; None when some pool the queue can use has no price."""
        costs = [pool.monthly for pool in self.pools]
        return None if any(cost is None for cost in costs) else sum(costs, Decimal(0))

    @property
    def over_budget(self) -> bool:
        return self.budget is not None and (self.monthly is None or self.monthly > self.budget)

    def breakdown(self) -> str:
        return "; ".join(pool.describe() for pool in self.pools if pool.ceiling) or "no quota"

    def problem(self) -> Optional[str]:
        """Why the queue does not fit the budget, with the figures; None if it does or there is no budget."""
        if not self.over_budget:
            return None
        if self.monthly is None:
            return f"the queue of team {self.team!r} cannot be priced against its budget of {money(self.budget)} ({self.breakdown()})"
        return (f"the queue of team {self.team!r} can cost up to {money(self.monthly)} a month at its ceiling ({self.breakdown()}, "
                f"{HOURS_PER_MONTH} h), above its budget of {money(self.budget)}: lower its quota or borrowing, or raise the budget")


def money(amount: Decimal, places: int = 2) -> str:
    return f"${amount:,.{places}f}"


@functools.lru_cache(maxsize=None)
def _catalogue(region: str) -> Catalogue:
    return load_catalogue(region)


def allowed_instance_types(pool: NodePoolConfig, catalogue: Catalogue) -> list[InstanceType]:
    """The catalogue's instance types the pool's requirements allow (categories, families, types,
    architectures, GPU or not)."""
    allowed = []
    for instance in catalogue.instances().values():
        architecture = "arm64" if is_graviton(instance.name) else "amd64"
        if ((pool.instance_categories and instance.category not in pool.instance_categories)
                or (pool.instance_families and instance.family not in pool.instance_families)
                or (pool.instance_types and instance.name not in pool.instance_types)
                or architecture not in pool.architectures
                or pool.gpu != (instance.gpus > 0)):
            continue
        allowed.append(instance)
    return allowed


def unit_price(pool: NodePoolConfig, catalogue: Catalogue) -> UnitPrice:
    """The hourly price per GPU (GPU pools) or per vCPU (CPU pools) of the pool's priciest instance type per unit."""
    unit = "GPU" if pool.gpu else "vCPU"
    per_unit = sorted(
        ((instance.hourly / (instance.gpus if pool.gpu else instance.vcpu), instance.name, instance.vcpu) for instance in allowed_instance_types(pool, catalogue)),
        key=lambda entry: (-entry[0], entry[2], entry[1]),
    )
    if not per_unit:
        return UnitPrice(pool.name, unit, None, None)
    hourly, name, _ = per_unit[0]
    return UnitPrice(pool.name, unit, hourly, name)


def team_ceilings(
    distributed: DistributedConfig,
    node_pools: Sequence[NodePoolConfig],
    teams: Sequence[str],
    budgets: Mapping[str, float],
    region: str,
    catalogue: Optional[Catalogue] = None,
) -> list[TeamCeiling]:
    """Every team's queue priced at its ceiling, in team order. `budgets` are the teams' monthly
    limits (budgets.teamMonthlyLimits); `catalogue` defaults to the shipped one of `region`."""
    catalogue = catalogue if catalogue is not None else _catalogue(region)
    prices = {pool.name: unit_price(pool, catalogue) for pool in node_pools}
    gpu_pools = {pool.name for pool in node_pools if pool.gpu}
    ceilings = distributed.ceilings(tuple(teams))
    priced = []
    for team in teams:
        queue = distributed.team_queue(team)
        pools = []
        for pool in node_pools:
            unit = "gpus" if pool.name in gpu_pools else "cpu"
            nominal = getattr(queue.quota(pool.name), unit)
            ceiling = getattr(ceilings[team][pool.name], unit) if pool.name in ceilings[team] else 0
            if nominal or ceiling:
                pools.append(PoolCeiling(prices[pool.name], nominal, ceiling))
        budget = budgets.get(team)
        priced.append(TeamCeiling(team, tuple(pools), None if budget is None else Decimal(str(budget))))
    return priced

