"""Team namespaces: where each team's own work runs, bounded by a quota, under Pod Security admission.

Every team gets a namespace named after it with a ResourceQuota (CPU, memory, GPUs, volumes) and
container defaults that fill in requests a pod leaves out, since a quota on requests rejects pods
without them. People's code runs here (model servers, batch jobs, Ray and Spark work), so the
namespace enforces the `baseline` Pod Security standard and warns and audits at `restricted`.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.config import ClusterConfig
from components.hardening import pod_security_labels
from components.nodepools import COMPONENT
from components.tagging import CostTagging


def quota_spec(cpu: int, memory_gi: int, gpus: int, persistent_volume_claims: int, storage_gi: int) -> dict:
    return {
        "hard": {
            "requests.cpu": str(cpu),
            "requests.memory": f"{memory_gi}Gi",
            "requests.nvidia.com/gpu": str(gpus),
            "persistentvolumeclaims": str(persistent_volume_claims),
            "requests.storage": f"{storage_gi}Gi",
        }
    }


def team_namespaces(name: str, settings: ClusterConfig, tagging: CostTagging, opts: pulumi.ResourceOptions) -> dict[str, k8s.core.v1.Namespace]:
    """One namespace per team with its quota and container defaults, by team name."""
    namespaces: dict[str, k8s.core.v1.Namespace] = {}
    defaults = settings.container_defaults
    for team, quota in settings.team_quotas:
        labels = tagging.k8s_labels(COMPONENT, team, app="team-namespace")
        namespace = k8s.core.v1.Namespace(
            f"{name}-ns-{team}",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=team, labels={**labels, **pod_security_labels()}),
            opts=opts,
        )
        in_namespace = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[namespace]))
        k8s.core.v1.ResourceQuota(
            f"{name}-quota-{team}",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="team-quota", namespace=team, labels=labels),
            spec=quota_spec(quota.cpu, quota.memory_gi, quota.gpus, quota.persistent_volume_claims, quota.storage_gi),
            opts=in_namespace,
        )
        k8s.core.v1.LimitRange(
            f"{name}-limits-{team}",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="container-defaults", namespace=team, labels=labels),
            spec={"limits": [{
                "type": "Container",
                "defaultRequest": {"cpu": f"{defaults.cpu_request_millicores}m", "memory": f"{defaults.memory_request_mi}Mi"},
                "default": {"memory": f"{defaults.memory_limit_mi}Mi"},
            }]},
            opts=in_namespace,
        )
        namespaces[team] = namespace
    return namespaces
