"""A team's queue priced at its ceiling, checked against figures worked out by hand: the priciest
allowed instance per unit of each pool, the queue's nominal quota plus borrowing within what the
cohort lends, 730 hours a month, beside the team's budget."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import TypeAdapter

from components.config import DistributedConfig, NodePoolConfig
from components.distributed_budget import team_ceilings, unit_price
from mlp.prices import Catalogue
from mlp.stackfile import load_stack


def instance(hourly: str, vcpu: int, memory: int, gpus: int = 0) -> dict:
    return {"hourly": hourly, "vcpu": vcpu, "memoryGiB": memory, "gpus": gpus}


CATALOGUE = Catalogue(region="test-region-1", data={"ec2": {"instances": {
    "c5.large": instance("0.085", 2, 4),       # $0.0425 per vCPU
    "m5.large": instance("0.096", 2, 8),       # $0.048 per vCPU: the priciest per vCPU the CPU pool allows
    "m5.xlarge": instance("0.192", 4, 16),     # the same per vCPU; the smaller type is named
    "r5.large": instance("0.126", 2, 16),      # $0.063: category r, not allowed
    "m7g.large": instance("0.2", 2, 8),        # $0.10: Arm, the pool allows amd64 only
    "g5.xlarge": instance("1.006", 4, 16, 1),  # $1.006 per GPU
    "g5.12xlarge": instance("5.672", 48, 192, 4),  # $1.418 per GPU: the priciest per GPU of g5
    "g6.xlarge": instance("9.0", 4, 16, 1),    # family g6, not allowed
}}})

POOLS = tuple(TypeAdapter(NodePoolConfig).validate_python(pool) for pool in (
    {"name": "cpu", "gpu": False, "instanceCategories": ["c", "m"], "capacityTypes": ["spot", "on-demand"],
     "limits": {"cpu": 64, "memoryGi": 256}, "consolidationPolicy": "WhenEmpty", "consolidateAfter": "1m", "expireAfter": "720h", "diskSizeGi": 50},
    {"name": "gpu", "gpu": True, "instanceFamilies": ["g5"], "capacityTypes": ["on-demand"],
     "limits": {"cpu": 64, "memoryGi": 256, "gpus": 8}, "consolidationPolicy": "WhenEmpty", "consolidateAfter": "1m", "expireAfter": "720h", "diskSizeGi": 100},
))


def distributed(team_b: dict | None = None, borrowing: int = 50) -> DistributedConfig:
    return TypeAdapter(DistributedConfig).validate_python({
        "charts": {"kuberayOperator": "1.7.0", "kueue": "0.19.2", "sparkOperator": "2.5.2"},
        "controllerReplicas": 1,
        "queues": {
            "default": {"borrowingLimitPercent": borrowing, "quotas": {"cpu": {"cpu": 10, "memoryGi": 40}, "gpu": {"cpu": 8, "memoryGi": 32, "gpus": 2}}},
            "teams": {"b": team_b or {"borrowingLimitPercent": 0, "quotas": {"gpu": {"gpus": 1}}}},
        },
        "guardrails": {"maxTtlSecondsAfterFinished": 600, "maxIdleTimeoutSeconds": 600},
        "spark": {"enabled": False},
    })


def priced(config: DistributedConfig, budgets: dict) -> dict:
    return {c.team: c for c in team_ceilings(config, POOLS, ("a", "b"), budgets, "test-region-1", CATALOGUE)}


def test_a_pools_unit_price_is_its_priciest_allowed_instance_per_unit():
    cpu, gpu = (unit_price(pool, CATALOGUE) for pool in POOLS)
    assert (cpu.unit, cpu.hourly, cpu.instance_type) == ("vCPU", Decimal("0.048"), "m5.large")
    assert (gpu.unit, gpu.hourly, gpu.instance_type) == ("GPU", Decimal("1.418"), "g5.12xlarge")


def test_ceilings_and_monthly_figures_worked_out_by_hand():
    ceilings = priced(distributed(), {"a": 3000, "b": 2000})
    a, b = ceilings["a"], ceilings["b"]
    # a: CPU pool 10 nominal + 5 borrowed (50%) = 15 vCPUs; GPU pool 2 + 1 = 3 GPUs (the cohort has 2 + 1).
    assert [(p.price.pool, p.nominal, p.ceiling) for p in a.pools] == [("cpu", 10, 15), ("gpu", 2, 3)]
    # 15 x 0.048 x 730 = 525.60; 3 x 1.418 x 730 = 3105.42
    assert a.monthly == Decimal("3631.02")
    assert a.over_budget
    # b borrows nothing: 10 x 0.048 x 730 = 350.40; 1 x 1.418 x 730 = 1035.14
    assert [(p.nominal, p.ceiling) for p in b.pools] == [(10, 10), (1, 1)]
    assert b.monthly == Decimal("1385.54")
    assert not b.over_budget


def test_only_the_teams_above_budget_are_problems_and_the_message_has_the_figures():
    ((team, problem),) = [(c.team, c.problem()) for c in priced(distributed(), {"a": 3000, "b": 2000}).values() if c.problem()]
    assert team == "a"
    assert problem == ("the queue of team 'a' can cost up to $3,631.02 a month at its ceiling (cpu: 15 vCPUs x $0.0480/h (m5.large); "
                       "gpu: 3 GPUs x $1.4180/h (g5.12xlarge), 730 h), above its budget of $3,000.00: lower its quota or borrowing, or raise the budget")


def test_a_queue_borrows_no_more_than_the_cohort_lends():
    # 1000% of 2 GPUs would be 22, but the cohort's GPU pool quota is 2 + 1.
    a = priced(distributed(borrowing=1000), {})["a"]
    assert [(p.nominal, p.ceiling) for p in a.pools] == [(10, 20), (2, 3)]
    assert a.monthly == 20 * Decimal("0.048") * 730 + 3 * Decimal("1.418") * 730


def test_a_team_without_a_budget_is_priced_but_never_over_it():
    b = priced(distributed(), {"a": 3000})["b"]
    assert b.budget is None and b.monthly == Decimal("1385.54") and not b.over_budget and b.problem() is None


def test_a_pool_with_no_priced_instance_cannot_be_priced_and_that_is_a_problem_against_a_budget():
    pools = (POOLS[0], TypeAdapter(NodePoolConfig).validate_python({**_pool_document(POOLS[1]), "instanceFamilies": ["g9"]}))
    ceilings = {c.team: c for c in team_ceilings(distributed(), pools, ("a", "b"), {"a": 99999}, "test-region-1", CATALOGUE)}
    assert ceilings["a"].monthly is None and ceilings["a"].over_budget
    assert "cannot be priced" in ceilings["a"].problem() and "not priced" in ceilings["a"].problem()


def _pool_document(pool: NodePoolConfig) -> dict:
    return {"name": pool.name, "gpu": pool.gpu, "capacityTypes": list(pool.capacity_types),
            "limits": {"cpu": pool.cpu_limit, "memoryGi": pool.memory_limit_gi, "gpus": pool.limits.gpus},
            "consolidationPolicy": pool.consolidation_policy, "consolidateAfter": pool.consolidate_after, "expireAfter": pool.expire_after,
            "diskSizeGi": pool.disk_size_gi}


@pytest.mark.parametrize("stack, team, monthly, budget", [
    # 10 vCPUs x $0.063 (r5, the priciest c/m/r per vCPU) x 730 = 459.90; 1 GPU x $4.096 (g5.16xlarge) x 730 = 2990.08
    ("dev", "forecasting", "3449.98", "400"),
    # vision's 2 GPUs: 459.90 + 5980.16
    ("dev", "vision", "6440.06", "600"),
    # prod: 20 vCPUs (16 + 25%) x $0.063 x 730 = 919.80, plus one GPU: within the $6,000 budget prod enforces.
    ("prod", "vision", "3909.88", "6000"),
    # 40 vCPUs (32 + 25%) x $0.063 x 730
    ("prod", "forecasting", "1839.60", "3000"),
])
def test_the_stacks_queue_ceilings_from_the_shipped_price_catalogue(stack, team, monthly, budget):
    _, config = load_stack(stack)
    ceilings = {c.team: c for c in team_ceilings(config.distributed, config.cluster.node_pools, config.team_names,
                                                 dict(config.budgets.team_monthly_limits), config.region)}
    assert ceilings[team].monthly == Decimal(monthly)
    assert ceilings[team].budget == Decimal(budget)
    assert ceilings[team].over_budget == (Decimal(monthly) > Decimal(budget))


def test_mlp_plan_shows_each_teams_quota_ceiling_and_budget_and_warns_above_budget():
    from rich.console import Console

    from mlp.plan import render
    from tests.conftest import planned

    console = Console(record=True, width=400)
    render(planned("dev"), console)
    text = console.export_text()
    assert "Team queues of stack dev" in text
    for team, quota, monthly, budget in (("forecasting", "cpu: 8 vCPU, 32 GiB; gpu: 4 vCPU, 16 GiB, 1 GPU (borrow up to 25%)", "$3,449.98", "$400.00"),
                                         ("vision", "gpu: 4 vCPU, 16 GiB, 2 GPU", "$6,440.06", "$600.00")):
        row = next(line for line in text.splitlines() if f" {team} " in line and "$" in line)
        assert quota in row and monthly in row and budget in row
        assert f"warning the queue of team '{team}' can cost up to {monthly} a month" in text
