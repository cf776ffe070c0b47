"""EC2 vCPU quotas the stack's node pools draw on, and how many vCPUs each may need.

EC2 meters running instances per quota class in vCPUs (Service Quotas, service code `ec2`). A
Karpenter pool may put its whole `limits.cpu` into any class it can launch and any purchase option
it allows, so a class must hold the sum of the limits of every pool that can reach it; the system
node group adds `maxSize` nodes of its largest instance type (on-demand). New accounts often have
0 vCPUs of G and P: the first GPU node never starts, and nothing in `pulumi up` says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from components.config import PlatformConfig

# (class, purchase option) -> (quota code, quota name). Codes as Service Quotas lists them.
QUOTAS = {
    ("standard", "on-demand"): ("L-1216C47A", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances"),
    ("g", "on-demand"): ("L-DB2E81BA", "Running On-Demand G and VT instances"),
    ("p", "on-demand"): ("L-417A185B", "Running On-Demand P instances"),
    ("standard", "spot"): ("L-34B43A08", "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests"),
    ("g", "spot"): ("L-3819A6DF", "All G and VT Spot Instance Requests"),
    ("p", "spot"): ("L-7212CCBC", "All P4, P3 and P2 Spot Instance Requests"),
}
STANDARD_LETTERS = set("acdhimrtz")
_FAMILY_LETTERS = re.compile(r"[a-z]+")


def quota_class(selector: str) -> str | None:
    """standard, g or p for an instance category, family or type (`c`, `m6i`, `g5.xlarge`); None for
    a class with a quota of its own that this check does not know (x, f, inf, trn, dl, hpc, ...)."""
    letters = _FAMILY_LETTERS.match(selector.split(".")[0])
    prefix = letters.group(0) if letters else ""
    if prefix in ("g", "vt"):
        return "g"
    if prefix == "p":
        return "p"
    if len(prefix) == 1 and prefix in STANDARD_LETTERS:
        return "standard"
    return None


@dataclass
class Need:
    quota_code: str
    quota_name: str
    vcpus: int = 0
    sources: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Unknown:
    key: str
    what: str


def vcpu_needs(config: PlatformConfig, instance_vcpus: dict[str, int]) -> tuple[list[Need], list[Unknown]]:
    """Per quota, the vCPUs the pools and the system node group may run at once."""
    needs: dict[tuple[str, str], Need] = {}
    unknown: list[Unknown] = []

    def add(klass: str, option: str, vcpus: int, source: str) -> None:
        code, name = QUOTAS[(klass, option)]
        need = needs.setdefault((klass, option), Need(code, name))
        need.vcpus += vcpus
        need.sources.append(source)

    group = config.cluster.system_node_group
    largest = max(instance_vcpus.get(t, 0) for t in group.instance_types)
    for instance_type in group.instance_types:
        if quota_class(instance_type) is None:
            unknown.append(Unknown("mlplatform:cluster.systemNodeGroup.instanceTypes", instance_type))
    add("standard", "on-demand", group.max_size * largest, f"systemNodeGroup ({group.max_size} x {largest} vCPUs)")
    for index, pool in enumerate(config.cluster.node_pools):
        selectors = [*pool.instance_categories, *pool.instance_families, *pool.instance_types]
        classes = set()
        for selector in selectors:
            klass = quota_class(selector)
            if klass is None:
                unknown.append(Unknown(f"mlplatform:cluster.nodePools[{index}]", selector))
            else:
                classes.add(klass)
        for klass in sorted(classes):
            for option in pool.capacity_types:
                add(klass, option, pool.limits.cpu, f"nodePool {pool.name} (limits.cpu {pool.limits.cpu})")
    return sorted(needs.values(), key=lambda n: n.quota_code), unknown
