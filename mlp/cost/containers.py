"""Kubernetes on the bill: the EKS control plane, and what Helm releases add beyond the nodes
they run on (JupyterHub's per-user volumes and notebook hours)."""

from __future__ import annotations

from mlp.cost.compute import instance_hour_price
from mlp.cost.core import HOURS, NUMBER, CostComponent, UsageMismatch, pricer, to_decimal
from mlp.cost.storage import ebs_components


@pricer("aws:eks/cluster:Cluster", monthly_hrs=HOURS, extended_support={"type": "boolean"})
def _eks_cluster(resource, usage, ctx):
    if usage.get("extended_support"):
        return [CostComponent("EKS cluster (extended support)", "hours", ctx.catalogue.price("eks", "extendedSupportClusterHour"), ctx.hours(usage))]
    return [CostComponent("EKS cluster", "hours", ctx.catalogue.price("eks", "clusterHour"), ctx.hours(usage))]


_PROFILE_USAGE = {"type": "object", "additionalProperties": False, "required": ["instance_type"],
                  "properties": {"monthly_hrs": NUMBER, "instance_type": {"type": "string", "minLength": 1}}}


@pricer("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Release",
        notebook_users=NUMBER, storage_gb_per_user=NUMBER, storage_volume_type={"enum": ["gp2", "gp3", "io1", "io2", "st1", "sc1"]},
        profile_hours={"type": "object", "additionalProperties": _PROFILE_USAGE})
def _helm_release(resource, usage, ctx):
    """Helm releases run on priced nodes and are free, except JupyterHub: each user's volume
    survives culling, and notebook hours per profile are their own line (keep them out of the
    pools' `monthly_node_hrs`, or they count twice)."""
    if "jupyterhub" not in str(resource.inputs.get("chart") or "").lower():
        return []
    values = resource.inputs.get("values") if isinstance(resource.inputs.get("values"), dict) else {}
    profiles = [p.get("slug") for p in ((values.get("singleuser") or {}).get("profileList") or []) if isinstance(p, dict) and p.get("slug")]
    for profile in (usage.get("profile_hours") or {}):
        if profiles and profile not in profiles:
            raise UsageMismatch(f"profile_hours.{profile}", f"no JupyterHub profile {profile!r} in this release (profiles: {', '.join(profiles)})")
    users = to_decimal(usage.get("notebook_users"))
    components = ebs_components(ctx, "Per-user notebook storage", str(usage.get("storage_volume_type") or "gp3"), to_decimal(usage.get("storage_gb_per_user")), count=users)
    for component in components:
        component.usage_based = True
    for profile, profile_usage in sorted((usage.get("profile_hours") or {}).items()):
        instance_type = profile_usage["instance_type"]
        components.append(CostComponent(f"Notebook hours, profile {profile} ({instance_type})", "hours", instance_hour_price(ctx, instance_type, "on-demand"),
                                        to_decimal(profile_usage.get("monthly_hrs")), usage_based=True))
    return components
