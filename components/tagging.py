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
COMPONENTS = ("network", "datalake", "compute", "notebooks", "registries", "endpoints", "cost-controls", "distributed", "experiments", "monitoring")
MANAGED_BY = "pulumi"

# Kubernetes label names carrying the same facts as the AWS tags. Prefixed, because unprefixed
# keys collide with labels charts and controllers own: JupyterHub selects its Deployments on
# `component`, and KubeSpawner overwrites `component` on user pods.
LABEL_PREFIX = "mlplatform.io/"
LABEL_FOR_TAG = {
    "CostCenter": f"{LABEL_PREFIX}cost-center",
    "Environment": f"{LABEL_PREFIX}environment",
    "Team": f"{LABEL_PREFIX}team",
    "Component": f"{LABEL_PREFIX}component",
}
PART_OF_LABEL = "app.kubernetes.io/part-of"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
NAME_LABEL = "app.kubernetes.io/name"

# Label keys a chart or controller owns: setting one breaks selectors or is overwritten.
# `app.kubernetes.io/name` and `managed-by` belong to the chart on what a chart renders, so chart
# values only ever get `cost_labels`, never `k8s_labels`.
OWNED_LABEL_KEYS = frozenset({
    "component", "app", "release", "heritage", "chart",
    "app.kubernetes.io/instance", "app.kubernetes.io/version", "app.kubernetes.io/component", "helm.sh/chart",
})
OWNED_LABEL_PREFIXES = ("hub.jupyter.org/", "karpenter.sh/", "karpenter.k8s.aws/", "eks.amazonaws.com/",
                        "kueue.x-k8s.io/", "ray.io/", "sparkoperator.k8s.io/")
# Kubernetes reserves the kubernetes.io and k8s.io domains; of those, the platform sets only the
# recommended app labels that describe what it declares itself.
PLATFORM_APP_LABELS = frozenset({PART_OF_LABEL, MANAGED_BY_LABEL, NAME_LABEL})


def is_owned_label(key: str) -> bool:
    """Whether a label key belongs to a chart, a controller or Kubernetes itself."""
    # Pod Security admission reads these from namespaces; setting them is the namespace owner's job.
    if key in PLATFORM_APP_LABELS or key.startswith("pod-security.kubernetes.io/"):
        return False
    domain = key.split("/", 1)[0] if "/" in key else ""
    reserved = any(domain == d or domain.endswith("." + d) for d in ("kubernetes.io", "k8s.io"))
    return key in OWNED_LABEL_KEYS or reserved or key.startswith(OWNED_LABEL_PREFIXES)


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

    def cost_labels(self, component: str, team: Optional[str] = None) -> dict[str, str]:
        """The cost facts as labels: what chart values may add to what a chart renders."""
        tags = self.all_tags(component, team)
        labels = {label: _label_value(tags[key]) for key, label in LABEL_FOR_TAG.items()}
        labels[PART_OF_LABEL] = _label_value(self.project)
        return labels

    def k8s_labels(self, component: str, team: Optional[str] = None, app: Optional[str] = None) -> dict[str, str]:
        """Labels of an object the platform declares itself: cost facts, manager and name."""
        labels = self.cost_labels(component, team)
        labels[MANAGED_BY_LABEL] = MANAGED_BY
        if app:
            labels[NAME_LABEL] = _label_value(app)
        return labels


def _label_value(value: str) -> str:
    """Kubernetes label values: <= 63 characters of [A-Za-z0-9_.-], alphanumeric at both ends."""
    cleaned = "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "-_." else "-" for ch in value)[:63]
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
