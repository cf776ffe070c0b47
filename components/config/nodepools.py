"""Karpenter node pool settings: which instances a pool may launch, how many, for how long."""

from __future__ import annotations

import re
from typing import Optional

from pydantic import Field, field_validator, model_validator

from components.config.base import Bool, DnsLabel, Duration, DurationOrNever, Int, Section, Unique, matching, one_of, section
from components.config.errors import Invalid

CAPACITY_TYPES = ("on-demand", "spot")
CONSOLIDATION_POLICIES = ("WhenEmpty", "WhenEmptyOrUnderutilized")
ARCHITECTURES = ("amd64", "arm64")
# The system node group is selected by this pool label; no Karpenter pool may take the name.
SYSTEM_POOL_NAME = "system"
# EC2 instance categories and families that carry NVIDIA GPUs (g: graphics/inference, p: training).
_GPU_CATEGORIES = ("g", "p")

InstanceType = matching(r"[a-z][a-z0-9-]*\.[a-z0-9]+", "an EC2 instance type like m6i.large")
InstanceFamily = matching(r"[a-z][a-z0-9-]*", "an EC2 instance family like m6i or g5")
InstanceCategory = matching(r"[a-z]", "an EC2 instance category letter like c, m, r or g")


def is_gpu_family(family: str) -> bool:
    return family[:1] in _GPU_CATEGORIES


def is_graviton(instance_type: str) -> bool:
    """Arm instance families: a1, and a `g` right after the generation (m7g, c6gn, t4g, x2gd)."""
    family = instance_type.split(".")[0]
    return family == "a1" or re.fullmatch(r"[a-z]+\d+g[a-z]*", family) is not None


@section
class NodePoolLimits(Section):
    """What a pool may run at once; Karpenter launches no node beyond it."""

    cpu: Int = Field(ge=1, description="vCPUs the pool may run at once.")
    memory_gi: Int = Field(ge=1, description="Memory (GiB) the pool may run at once.")
    gpus: Optional[Int] = Field(default=None, ge=0, description="NVIDIA GPUs the pool may run at once; required for, and only for, pools with gpu: true.")


@section
class NodePoolConfig(Section):
    """A Karpenter NodePool and its EC2NodeClass. GPU pools scale from zero and carry the
    `nvidia.com/gpu` taint, so only work that asks for GPUs lands on them."""

    name: DnsLabel = Field(description="Pool name (and the pool label work selects it by).")
    gpu: Bool = Field(description="Whether this pool launches NVIDIA GPU instances (g and p families only).")
    instance_categories: Unique[InstanceCategory] = Field(default=(), min_length=1, description="EC2 instance categories (c, m, r, g, p...) the pool may launch.")
    instance_families: Unique[InstanceFamily] = Field(default=(), min_length=1, description="EC2 instance families (m6i, g5...) the pool may launch.")
    instance_types: Unique[InstanceType] = Field(default=(), min_length=1, description="Exact EC2 instance types the pool may launch.")
    capacity_types: Unique[one_of(*CAPACITY_TYPES)] = Field(min_length=1, description="Purchase options, in no particular order; Karpenter prefers spot when it is allowed.")
    architectures: Unique[one_of(*ARCHITECTURES)] = Field(default=("amd64",), min_length=1, description="CPU architectures the pool may launch.")
    limits: NodePoolLimits = Field(description="What the pool may run at once.")
    consolidation_policy: one_of(*CONSOLIDATION_POLICIES) = Field(description="When Karpenter may remove or replace nodes to save cost.")
    consolidate_after: Duration = Field(description="How long a node must qualify for consolidation before it goes.")
    expire_after: DurationOrNever = Field(description="Maximum node lifetime (nodes are replaced, picking up new AMIs), or Never.")
    termination_grace_period: Optional[Duration] = Field(
        default=None,
        description="How long Karpenter waits for pods to drain before forcing a node down, even past disruption budgets "
        "(Karpenter's terminationGracePeriod); unset waits indefinitely.",
    )
    disk_size_gi: Int = Field(ge=20, le=16384, description="Root volume size (GiB) of each node; GPU images are large.")
    weight: Optional[Int] = Field(default=None, ge=0, le=100, description="Priority among pools that fit a pod (higher first).")

    @field_validator("name")
    @classmethod
    def _not_the_system_pool(cls, name: str) -> str:
        if name == SYSTEM_POOL_NAME:
            raise Invalid(f"{SYSTEM_POOL_NAME!r} is the managed system node group's pool label; choose another name")
        return name

    @model_validator(mode="after")
    def _instances_match_gpu(self) -> "NodePoolConfig":
        selectors = (("instanceCategories", self.instance_categories), ("instanceFamilies", self.instance_families), ("instanceTypes", self.instance_types))
        if not any(values for _, values in selectors):
            raise Invalid("give instanceCategories, instanceFamilies or instanceTypes so the pool's capacity is bounded", "instanceFamilies")
        for list_key, values in selectors:
            for i, value in enumerate(values):
                if self.gpu and not is_gpu_family(value):
                    raise Invalid(f"{value} has no NVIDIA GPU; a gpu pool takes g or p instances only", list_key, i)
                if not self.gpu and is_gpu_family(value):
                    raise Invalid(f"{value} is a GPU instance; put it in a pool with gpu: true so it gets the nvidia.com/gpu taint", list_key, i)
        if self.gpu and self.limits.gpus is None:
            raise Invalid("is required", "limits", "gpus")
        if not self.gpu and self.limits.gpus is not None:
            raise Invalid("only pools with gpu: true have a GPU limit", "limits", "gpus")
        return self

    @property
    def cpu_limit(self) -> int:
        return self.limits.cpu

    @property
    def memory_limit_gi(self) -> int:
        return self.limits.memory_gi

    @property
    def gpu_limit(self) -> int:
        """nvidia.com/gpu the pool may run at once; 0 for CPU pools."""
        return self.limits.gpus or 0
