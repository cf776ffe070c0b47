"""The cost-tag contract (DESIGN.md): six tag keys on every taggable AWS resource.

Stack-wide keys (`CostCenter`, `Environment`, `Project`, `ManagedBy`) travel as the AWS
provider's `default_tags`; each resource adds `Team` and `Component` through `tags`. AWS does
not copy provider default tags onto what EKS and Karpenter launch, nor onto EBS volumes created
from PVCs, so those paths get the full set explicitly through the helpers below.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Optional

import pulumi_aws as aws

from components.config import PlatformConfig

REQUIRED_TAG_KEYS = ("CostCenter", "Environment", "Project", "Team", "Component", "ManagedBy")
STACK_WIDE_TAG_KEYS = ("CostCenter", "Environment", "Project", "ManagedBy")
COMPONENTS = ("network", "datalake", "compute", "notebooks", "registries", "endpoints", "cost-controls")
MANAGED_BY = "pulumi"

# Kubernetes label names carrying the same facts as the AWS tags.
LABEL_FOR_TAG = {
    "CostCenter": "cost-center",
    "Environment": "environment",
    "Team": "team",
    "Component": "component",
}


@dataclass(frozen=True)
class CostTagging:
    cost_center: str
    environment: str
    project: str
    platform_team: str
    team_cost_centers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_config(cls, config: PlatformConfig) -> "CostTagging":
        return cls(
            cost_center=config.cost_center,
            environment=config.environment,
            project=config.project,
            platform_team=config.platform_team,
            team_cost_centers=tuple((team.name, team.cost_center) for team in config.teams if team.cost_center),
        )

    # --- AWS tags -------------------------------------------------------------------------

    def default_tags(self) -> dict[str, str]:
        """The provider's `default_tags`: keys that are the same for every resource of the stack."""
        return {
            "CostCenter": self.cost_center,
            "Environment": self.environment,
            "Project": self.project,
            "ManagedBy": MANAGED_BY,
        }

    def resource_tags(self, component: str, team: Optional[str] = None) -> dict[str, str]:
        """`tags` of one resource. The team's own cost centre, if it has one, overrides the stack's."""
        if component not in COMPONENTS:
            raise ValueError(f"unknown cost component {component!r}; expected one of {', '.join(COMPONENTS)}")
        tags = {"Team": team or self.platform_team, "Component": component}
        team_cost_center = dict(self.team_cost_centers).get(team or "")
        if team_cost_center:
            tags["CostCenter"] = team_cost_center
        return tags

    def all_tags(self, component: str, team: Optional[str] = None) -> dict[str, str]:
        """All six keys, for the places provider default tags never reach."""
        return {**self.default_tags(), **self.resource_tags(component, team)}

    def launch_template_tag_specifications(
        self, component: str, team: Optional[str] = None, name: Optional[str] = None
    ) -> list[aws.ec2.LaunchTemplateTagSpecificationArgs]:
        """Tags for what a node group launches: instances, their volumes and network interfaces."""
        tags = self.all_tags(component, team)
        if name:
            tags = {**tags, "Name": name}
        return [
            aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=tags)
            for kind in ("instance", "volume", "network-interface")
        ]

    def autoscaling_group_tags(self, component: str, team: Optional[str] = None) -> list[dict]:
        """Auto Scaling group tags are a list of {key, value, propagateAtLaunch}."""
        return [
            {"key": key, "value": value, "propagate_at_launch": True}
            for key, value in sorted(self.all_tags(component, team).items())
        ]

    def ebs_csi_storage_class_parameters(self, component: str, team: Optional[str] = None) -> dict[str, str]:
        """EBS CSI driver StorageClass parameters that tag each volume it creates from a PVC."""
        return {
            f"tagSpecification_{i}": f"{key}={value}"
            for i, (key, value) in enumerate(sorted(self.all_tags(component, team).items()), start=1)
        }

    # --- Kubernetes labels ----------------------------------------------------------------

    def k8s_labels(self, component: str, team: Optional[str] = None, app: Optional[str] = None) -> dict[str, str]:
        """Labels that let in-cluster cost tools allocate by the same facts as the AWS tags."""
        tags = self.all_tags(component, team)
        labels = {label: _label_value(tags[key]) for key, label in LABEL_FOR_TAG.items()}
        labels["app.kubernetes.io/part-of"] = _label_value(self.project)
        labels["app.kubernetes.io/managed-by"] = MANAGED_BY
        if app:
            labels["app.kubernetes.io/name"] = _label_value(app)
        return labels


def _label_value(value: str) -> str:
    """Kubernetes label values: <= 63 characters of [A-Za-z0-9_.-], alphanumeric at both ends."""
    cleaned = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in value)[:63]
    return cleaned.strip("-_.")


@functools.lru_cache(maxsize=None)
def is_taggable(type_token: str) -> bool:
    """Whether a pulumi-aws resource type accepts `tags`, read from the installed SDK itself.

    Asked for every resource by the export, the coverage checks and the policy rules: once per type."""
    import importlib
    import inspect

    package, _, rest = type_token.partition(":")
    if package != "aws" or "/" not in rest:
        return False
    module_path, _, class_name = rest.partition(":")
    module_name = module_path.split("/")[0]
    try:
        module = importlib.import_module(f"pulumi_aws.{module_name}")
        resource_class = getattr(module, class_name)
    except (ImportError, AttributeError):
        return False
    return "tags" in inspect.signature(resource_class._internal_init).parameters
