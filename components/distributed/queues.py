"""Kueue's objects: a ResourceFlavor per Karpenter pool, a ClusterQueue per team in one cohort, a
LocalQueue in each team namespace and the priority classes work is queued with.

- A flavor selects its pool's nodes by Karpenter's own `karpenter.sh/nodepool` label, which Kueue
  copies into the pods it admits there, so Karpenter launches the capacity in that pool.
- A GPU flavor declares the pool's GPU taint as a node taint: only pods that tolerate it (GPU
  workers) are admitted to it. Giving the flavor the toleration instead would let Kueue send
  CPU-only pods to GPU nodes whenever the CPU pools' quota is used up.
- Every team's ClusterQueue lists every pool (CPU pools first, so work without GPUs tries them
  first), guarantees its nominal quota, may borrow unused quota of the cohort up to its borrowing
  limit, and gets borrowed capacity back by preemption when it needs its own (`reclaimWithinCohort:
  Any`). A borrowing workload may itself preempt only batch work of other teams.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from components.config import FlavorQuotaConfig, NodePoolConfig, TeamQueueConfig

KUEUE_API_VERSION = "kueue.x-k8s.io/v1beta2"
COHORT = "teams"
# The LocalQueue every team namespace has; work names it in its `kueue.x-k8s.io/queue-name` label.
LOCAL_QUEUE = "team-queue"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
PRIORITY_LABEL = "kueue.x-k8s.io/priority-class"
NODEPOOL_LABEL = "karpenter.sh/nodepool"
GPU_RESOURCE = "nvidia.com/gpu"
GPU_TAINT = {"key": GPU_RESOURCE, "value": "true", "effect": "NoSchedule"}


@dataclass(frozen=True)
class PriorityClass:
    name: str
    value: int
    description: str


# Interactive work (a notebook user waiting on a Ray cluster) preempts batch work of its own team.
PRIORITIES = (
    PriorityClass("interactive", 1000, "Someone is waiting on it: a Ray cluster behind a notebook, a quick experiment."),
    PriorityClass("batch", 100, "Nobody is waiting on it: scheduled jobs, sweeps, training runs."),
)
BATCH_PRIORITY = next(p.value for p in PRIORITIES if p.name == "batch")


def ordered_pools(node_pools: Sequence[NodePoolConfig]) -> list[NodePoolConfig]:
    """CPU pools first, then GPU pools, each in config order: the order Kueue tries flavors in."""
    return [pool for pool in node_pools if not pool.gpu] + [pool for pool in node_pools if pool.gpu]


def covered_resources(node_pools: Sequence[NodePoolConfig]) -> list[str]:
    return ["cpu", "memory", *([GPU_RESOURCE] if any(pool.gpu for pool in node_pools) else [])]


def resource_flavor_spec(pool: NodePoolConfig) -> dict[str, Any]:
    spec: dict[str, Any] = {"nodeLabels": {NODEPOOL_LABEL: pool.name}}
    if pool.gpu:
        spec["nodeTaints"] = [dict(GPU_TAINT)]
    return spec


def _quantities(quota: FlavorQuotaConfig) -> dict[str, str]:
    return {"cpu": str(quota.cpu), "memory": f"{quota.memory_gi}Gi", GPU_RESOURCE: str(quota.gpus)}


def cluster_queue_spec(team: str, queue: TeamQueueConfig, node_pools: Sequence[NodePoolConfig]) -> dict[str, Any]:
    resources = covered_resources(node_pools)
    flavors = []
    for pool in ordered_pools(node_pools):
        nominal = queue.quota(pool.name)
        borrowing = FlavorQuotaConfig(cpu=queue.borrowing_limit(nominal.cpu), memory_gi=queue.borrowing_limit(nominal.memory_gi),
                                      gpus=queue.borrowing_limit(nominal.gpus))
        nominal_of, borrowing_of = _quantities(nominal), _quantities(borrowing)
        flavors.append({
            "name": pool.name,
            "resources": [{"name": resource, "nominalQuota": nominal_of[resource], "borrowingLimit": borrowing_of[resource]} for resource in resources],
        })
    return {
        "cohortName": COHORT,
        # Only the team's own namespace may queue work here.
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": team}},
        "queueingStrategy": "BestEffortFIFO",
        "resourceGroups": [{"coveredResources": resources, "flavors": flavors}],
        "preemption": {
            "reclaimWithinCohort": "Any",
            "borrowWithinCohort": {"policy": "LowerPriority", "maxPriorityThreshold": BATCH_PRIORITY},
            "withinClusterQueue": "LowerPriority",
        },
    }


def local_queue_spec(team: str) -> dict[str, Any]:
    return {"clusterQueue": team}
