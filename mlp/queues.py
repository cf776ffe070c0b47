"""Each team's Kueue queue beside its budget, for `mlp plan` and `mlp cost --stack`.

The figures come from `components.distributed_budget.team_ceilings`, the same function config
validation uses when a stack says `distributed.enforceBudgets: true`, so what the commands show is
what the stack is held to. They need the stack's config: a `pulumi stack export` document alone
does not say which budget a team has.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from components.config import PlatformConfig
from components.distributed_budget import TeamCeiling, money, team_ceilings

TITLE = "Team queues of stack {stack} (Kueue; ceiling: quota plus borrowing at the pool's priciest instance, 730 h)"


def queue_ceilings(config: PlatformConfig) -> list[TeamCeiling]:
    """Every team's queue at its ceiling, in team order; none when the stack has no queues."""
    if config.distributed is None:
        return []
    return team_ceilings(config.distributed, config.cluster.node_pools, config.team_names, dict(config.budgets.team_monthly_limits), config.region)


def nominal_quota(config: PlatformConfig, team: str) -> str:
    queue = config.distributed.team_queue(team)
    pools = [f"{pool}: {q.cpu} vCPU, {q.memory_gi} GiB" + (f", {q.gpus} GPU" if q.gpus else "") for pool, q in queue.quotas]
    return "; ".join(pools) + f" (borrow up to {queue.borrowing_limit_percent}%)"


def queues_table(stack: str, config: PlatformConfig, ceilings: list[TeamCeiling]) -> Table:
    """Quota, monthly ceiling and budget per team; queues above their budget in yellow."""
    table = Table(title=TITLE.format(stack=stack), title_justify="left")
    for column in ("team", "nominal quota", "monthly ceiling", "budget", "ceiling from"):
        table.add_column(column, overflow="fold")
    for ceiling in ceilings:
        monthly = "not priced" if ceiling.monthly is None else money(ceiling.monthly)
        table.add_row(ceiling.team, nominal_quota(config, ceiling.team), monthly, "none" if ceiling.budget is None else money(ceiling.budget),
                      ceiling.breakdown(), style="yellow" if ceiling.over_budget else None)
    return table


def queues_json(ceilings: list[TeamCeiling]) -> list[dict[str, Any]]:
    """The `teamQueues` entries of `mlp cost --format json`: decimal strings, like every cost there."""
    return [
        {
            "team": ceiling.team,
            "monthlyCeiling": None if ceiling.monthly is None else f"{ceiling.monthly:.2f}",
            "monthlyBudget": None if ceiling.budget is None else f"{ceiling.budget:.2f}",
            "overBudget": ceiling.over_budget,
            "pools": [
                {
                    "pool": pool.price.pool,
                    "unit": pool.price.unit,
                    "nominal": pool.nominal,
                    "ceiling": pool.ceiling,
                    "instanceType": pool.price.instance_type,
                    "hourlyPerUnit": None if pool.price.hourly is None else f"{pool.price.hourly:.4f}",
                    "monthlyCeiling": None if pool.monthly is None else f"{pool.monthly:.2f}",
                }
                for pool in ceiling.pools
            ],
        }
        for ceiling in ceilings
    ]
