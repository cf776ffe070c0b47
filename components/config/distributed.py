"""Distributed compute settings: the Ray, Kueue and Spark operators, each team's queue (its share
of every Karpenter pool, how much it may borrow), the in-cluster guardrails on idle clusters, and
whether a queue priced above its team's budget is refused or only reported.

A team's queue is a Kueue ClusterQueue with one quota per node pool (a ResourceFlavor). Quotas
are written once as a default and overridden per team, like the namespace quotas of the cluster.
Rules that need other sections (pools exist and are big enough, teams exist) are checked by
`check_queues`, which platform.py calls with them.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional, Sequence

from pydantic import Field, model_validator

from components.config.base import Bool, ChartVersion, Int, Pairs, Section, section
from components.config.cluster import TeamQuotaConfig
from components.config.errors import ConfigError, Invalid, config_key
from components.config.nodepools import NodePoolConfig

SECTION = "distributed"
# A Kueue ClusterQueue may borrow at most this many times its nominal quota (config bound).
MAX_BORROWING_PERCENT = 1000


@section
class DistributedChartVersions(Section):
    """Exact Helm chart versions of the operators (their CRDs are declared from the same versions)."""

    kuberay_operator: ChartVersion = Field(description="KubeRay operator chart version.")
    kueue: ChartVersion = Field(description="Kueue chart version.")
    spark_operator: ChartVersion = Field(description="Spark operator chart version (used when spark.enabled).")


@section
class FlavorQuotaConfig(Section):
    """A team's nominal quota on one node pool: what its queue is guaranteed there."""

    cpu: Int = Field(ge=0, description="vCPUs on the pool.")
    memory_gi: Int = Field(ge=0, description="Memory (GiB) on the pool.")
    gpus: Int = Field(default=0, ge=0, description="NVIDIA GPUs on the pool (GPU pools only).")


@section
class FlavorQuotaOverrides(Section):
    """A team's differences from the default quota on one pool."""

    cpu: Optional[Int] = Field(default=None, ge=0, description="vCPUs, instead of the default.")
    memory_gi: Optional[Int] = Field(default=None, ge=0, description="Memory (GiB), instead of the default.")
    gpus: Optional[Int] = Field(default=None, ge=0, description="NVIDIA GPUs, instead of the default.")


_NO_QUOTA = FlavorQuotaConfig(cpu=0, memory_gi=0, gpus=0)


@section
class TeamQueueConfig(Section):
    """One team's queue: its nominal quota per node pool and how far it may borrow beyond it."""

    quotas: Pairs[str, FlavorQuotaConfig] = Field(min_length=1, description="Nominal quota by node pool name (cluster.nodePools).")
    borrowing_limit_percent: Int = Field(
        ge=0,
        le=MAX_BORROWING_PERCENT,
        description="How much unused quota of other teams the queue may borrow, as a percentage of its own nominal quota "
        "of each resource on each pool; borrowed capacity is reclaimed by preemption when its owner needs it.",
    )

    def quota(self, pool: str) -> FlavorQuotaConfig:
        """The nominal quota on `pool`; none on a pool the queue does not name."""
        return dict(self.quotas).get(pool, _NO_QUOTA)

    def borrowing_limit(self, nominal: int) -> int:
        """The Kueue borrowingLimit of a resource with this nominal quota (whole units)."""
        return nominal * self.borrowing_limit_percent // 100


@section
class TeamQueueOverrides(Section):
    """A team's differences from the default queue."""

    quotas: Pairs[str, FlavorQuotaOverrides] = Field(default=(), description="Quota changes by node pool name; unset values keep the default.")
    borrowing_limit_percent: Optional[Int] = Field(default=None, ge=0, le=MAX_BORROWING_PERCENT, description="Borrowing limit, instead of the default.")


@section
class TeamQueuesConfig(Section):
    """Every team's queue: one default, and per-team overrides."""

    default: TeamQueueConfig = Field(description="Queue of every team without an override.")
    teams: Pairs[str, TeamQueueOverrides] = Field(default=(), description="Overrides by team name.")

    def for_team(self, team: str) -> TeamQueueConfig:
        overrides = dict(self.teams).get(team)
        if overrides is None:
            return self.default
        quotas = dict(self.default.quotas)
        for pool, changes in overrides.quotas:
            base = quotas.get(pool, _NO_QUOTA)
            given = {field.name: getattr(changes, field.name) for field in dataclasses.fields(changes)}
            quotas[pool] = dataclasses.replace(base, **{name: value for name, value in given.items() if value is not None})
        percent = overrides.borrowing_limit_percent
        return dataclasses.replace(
            self.default,
            quotas=tuple(sorted(quotas.items())),
            borrowing_limit_percent=self.default.borrowing_limit_percent if percent is None else percent,
        )

    def config_key_of(self, team: str) -> tuple[str, ...]:
        """Where a team's queue is written: its override, or the default."""
        return ("queues", "teams", team) if team in dict(self.teams) else ("queues", "default")

    def quota_key(self, team: str, pool: str, field: str) -> tuple[str, ...]:
        """Where the value of one team's quota of `field` on `pool` is written (override or default)."""
        overrides = dict(dict(self.teams).get(team, TeamQueueOverrides()).quotas).get(pool)
        if overrides is not None and getattr(overrides, field) is not None:
            return ("queues", "teams", team, "quotas", pool)
        return ("queues", "default", "quotas", pool)

    @property
    def pools_named(self) -> tuple[tuple[tuple[str, ...], str], ...]:
        """(where, pool name) of every pool the queues name, for the check against the cluster."""
        named = [(("queues", "default", "quotas"), pool) for pool, _ in self.default.quotas]
        named += [(("queues", "teams", team, "quotas"), pool) for team, overrides in self.teams for pool, _ in overrides.quotas]
        return tuple(named)


@section
class GuardrailsConfig(Section):
    """What the admission policy in team namespaces demands of Ray work, so nothing idles on paid nodes."""

    max_ttl_seconds_after_finished: Int = Field(
        ge=0,
        le=86400,
        description="Longest a finished RayJob's cluster may linger (spec.ttlSecondsAfterFinished) before it is deleted.",
    )
    max_idle_timeout_seconds: Int = Field(
        ge=60,
        le=86400,
        description="Longest a RayCluster's idle workers may stay (spec.autoscalerOptions.idleTimeoutSeconds) before they are removed.",
    )


@section
class SparkConfig(Section):
    """The Spark operator: optional per stack."""

    enabled: Bool = Field(description="Whether the stack runs the Spark operator for the teams' SparkApplications.")


@section
class DistributedConfig(Section):
    """Ray (KubeRay) and Spark on the cluster, queued fairly per team by Kueue within budgets."""

    charts: DistributedChartVersions = Field(description="Helm chart versions of the operators.")
    controller_replicas: Int = Field(
        ge=1,
        le=3,
        description="Replicas of the Kueue controller, whose webhooks every queued workload passes (and of the Spark operator's webhook).",
    )
    queues: TeamQueuesConfig = Field(description="Each team's Kueue queue: nominal quotas per node pool and borrowing.")
    guardrails: GuardrailsConfig = Field(description="Limits the admission policy enforces on Ray work in team namespaces.")
    spark: SparkConfig = Field(description="The Spark operator.")
    enforce_budgets: Bool = Field(
        default=False,
        description="Refuse a stack whose team queue, priced at its ceiling, exceeds the team's budget (budgets.teamMonthlyLimits); "
        "otherwise `mlp plan` only warns.",
    )

    @model_validator(mode="after")
    def _default_queue_holds_something(self) -> "DistributedConfig":
        if not any(quota.cpu or quota.memory_gi or quota.gpus for _, quota in self.queues.default.quotas):
            raise Invalid("gives every team a queue of nothing: give at least one pool a quota", "queues", "default", "quotas")
        return self

    def team_queue(self, team: str) -> TeamQueueConfig:
        return self.queues.for_team(team)

    def ceilings(self, teams: tuple[str, ...]) -> dict[str, dict[str, FlavorQuotaConfig]]:
        """Team -> pool -> the most its queue can hold there at once: its nominal quota plus its
        borrowing limit, but never more than the whole cohort's nominal quota of the pool (a queue
        borrows only what other queues lend)."""
        queues = {team: self.team_queue(team) for team in teams}
        pools = sorted({pool for queue in queues.values() for pool, _ in queue.quotas})
        cohort = {pool: _sum(queue.quota(pool) for queue in queues.values()) for pool in pools}
        ceilings: dict[str, dict[str, FlavorQuotaConfig]] = {}
        for team, queue in queues.items():
            ceilings[team] = {}
            for pool in pools:
                nominal, total = queue.quota(pool), cohort[pool]
                ceilings[team][pool] = FlavorQuotaConfig(**{
                    name: min(getattr(nominal, name) + queue.borrowing_limit(getattr(nominal, name)), getattr(total, name))
                    for name in QUOTA_FIELDS
                })
        return ceilings


QUOTA_FIELDS = ("cpu", "memory_gi", "gpus")


def _sum(quotas) -> FlavorQuotaConfig:
    quotas = list(quotas)
    return FlavorQuotaConfig(**{name: sum(getattr(quota, name) for quota in quotas) for name in QUOTA_FIELDS})


def check_queues(distributed: DistributedConfig, teams: tuple[str, ...], node_pools: Sequence[NodePoolConfig],
                 namespace_quota: Callable[[str], TeamQuotaConfig]) -> None:
    """The queues against the rest of the stack: they name real pools and teams, put GPUs only on
    GPU pools (and no CPU-only quota there), fit inside each pool's limits (Kueue cannot ask
    Karpenter for more than a pool may run) and, at their ceiling, inside the team namespace's
    quota (pods Kueue admitted beyond it would be refused)."""
    pools = {pool.name: pool for pool in node_pools}
    for where, pool in distributed.queues.pools_named:
        if pool not in pools:
            raise ConfigError(config_key(SECTION, *where, pool), f"unknown node pool (cluster.nodePools: {', '.join(pools)})")
    for team in dict(distributed.queues.teams):
        if team not in teams:
            raise ConfigError(config_key(SECTION, "queues", "teams", team), f"unknown team (configured teams: {', '.join(teams)})")
    queues = {team: distributed.team_queue(team) for team in teams}
    for team, queue in queues.items():
        for pool, quota in queue.quotas:
            where = config_key(SECTION, *distributed.queues.quota_key(team, pool, "gpus"), "gpus")
            if quota.gpus and not pools[pool].gpu:
                raise ConfigError(where, f"team {team!r} gets GPUs on pool {pool!r}, which has none (gpu: false)")
            # Only pods that tolerate the GPU taint are admitted to a GPU pool; CPU work goes to CPU pools.
            if pools[pool].gpu and (quota.cpu or quota.memory_gi) and not quota.gpus:
                raise ConfigError(where, f"team {team!r} gets CPU on GPU pool {pool!r} but no GPUs; CPU work belongs on a CPU pool")
    for index, pool in enumerate(node_pools):
        for field, key, limit in (("cpu", "cpu", pool.cpu_limit), ("memory_gi", "memoryGi", pool.memory_limit_gi), ("gpus", "gpus", pool.gpu_limit)):
            shares = {team: getattr(queue.quota(pool.name), field) for team, queue in queues.items()}
            if sum(shares.values()) > limit:
                last = [team for team, share in shares.items() if share][-1]
                raise ConfigError(
                    config_key(SECTION, *distributed.queues.quota_key(last, pool.name, field), key),
                    f"the teams' nominal {key} quotas on pool {pool.name!r} add up to {sum(shares.values())} "
                    f"({', '.join(f'{team} {share}' for team, share in shares.items())}), above the pool's limit of {limit} "
                    f"({config_key('cluster', 'nodePools', index, 'limits', key)}): Kueue would admit work Karpenter cannot launch",
                )
    for team, ceiling in distributed.ceilings(teams).items():
        allowed = namespace_quota(team)
        for field, key in (("cpu", "cpu"), ("memory_gi", "memoryGi"), ("gpus", "gpus")):
            most = sum(getattr(quota, field) for quota in ceiling.values())
            if most > getattr(allowed, field):
                raise ConfigError(
                    config_key(SECTION, *distributed.queues.config_key_of(team)),
                    f"the queue of team {team!r} can hold {most} {key} (nominal quota plus borrowing, over all pools), above its namespace "
                    f"quota of {getattr(allowed, field)} ({config_key('cluster', 'teamQuotas')}): pods Kueue admits beyond it would be refused",
                )
