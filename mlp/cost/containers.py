"""Amazon EKS on the bill: the control plane, by the hour, at the standard or the extended-support
rate that its Kubernetes version and support type come to on the estimate's day (the support
calendar in eks_calendar.py). What runs on the cluster is priced on its nodes, and what Helm
releases create in charts.py."""

from __future__ import annotations

from mlp.cost.core import HOURS, CostComponent, ResourceCost, pricer
from mlp.cost.eks_calendar import cluster_version, support_status


@pricer("aws:eks/cluster:Cluster", monthly_hrs=HOURS, extended_support={"type": "boolean"})
def _eks_cluster(resource, usage, ctx):
    """`extended_support` (usage) only decides where the calendar cannot: no version, or one the
    calendar lacks. Where the calendar knows, it wins and a contradicting key is noted."""
    version, support_type = cluster_version(resource)
    status = support_status(version, support_type, ctx.on)
    extended = status.extended
    result = ResourceCost(resource)
    claimed = usage.get("extended_support")
    if claimed is not None and bool(claimed) != extended:
        if status.known:
            result.notes.append(f"usage extended_support: {str(claimed).lower()} ignored: {status.note} on {ctx.on}")
        else:
            extended = bool(claimed)
    label = "EKS cluster (extended support)" if extended else "EKS cluster"
    detail = f", Kubernetes {version}" if version else ""
    result.components.append(CostComponent(f"{label}{detail}", "hours", ctx.price("eks", "extendedSupportClusterHour" if extended else "clusterHour"), ctx.hours(usage)))
    result.notes.append(f"{status.note} (support calendar, priced on {ctx.on})")
    return result
