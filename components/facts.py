"""The few facts about a stack that several capabilities read: who and where it is.

Each component otherwise gets only its own section of the stack config; these are the values
that are not one capability's setting but part of every name, region or team list. Cost-tag
facts (cost centre, project tag, platform team) travel in `CostTagging` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi

from components.config import PlatformConfig


@dataclass(frozen=True)
class StackFacts:
    name_prefix: str  # `<project>-<environment>`: prefix of physical names
    project: str
    environment: str
    region: str
    aws_profile: Optional[str]
    # Known before the cluster exists: subnets and node classes carry it as a discovery tag.
    cluster_name: str
    team_names: tuple[str, ...]
    # Whether what the stack's data depends on survives `pulumi destroy` (`datalake.protect`): the
    # lake and its settings, and the audit and flow logs that say who reached it.
    protect_data: bool = False

    @classmethod
    def from_config(cls, config: PlatformConfig) -> "StackFacts":
        return cls(
            name_prefix=config.name_prefix,
            project=config.project,
            environment=config.environment,
            region=config.region,
            aws_profile=config.aws_profile,
            cluster_name=config.cluster_name,
            team_names=config.team_names,
            protect_data=config.datalake.protect,
        )

    def keep(self, parent: pulumi.Resource) -> pulumi.ResourceOptions:
        """Options of a child that prod data depends on: refused by `pulumi destroy` and kept in AWS."""
        return pulumi.ResourceOptions(parent=parent, protect=self.protect_data, retain_on_delete=self.protect_data)
