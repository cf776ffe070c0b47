"""What Helm releases create that AWS bills, beyond the nodes they run on: read from each
release's values, with the chart's own defaults where the values say nothing
(mlp/data/chart-billables.json). JupyterHub: the ALB of its ingress, the load balancer of its
proxy Service, the hub's database volume, each user's volume, and notebook hours per profile.
A release of a chart the table does not know is reported as not priced, never as $0."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from mlp.cost.context import HELM_RELEASE_TYPES, PricingContext, chart_name, chart_values, release_ingress
from mlp.cost.core import GIB, HOURS, NUMBER, CostComponent, ResourceCost, UsageMismatch, kubernetes_quantity, pricer, to_decimal
from mlp.cost.network import alb_components, owns_alb, service_load_balancer
from mlp.cost.storage import claim_components

CHARTS_PATH = Path(__file__).resolve().parent.parent / "data" / "chart-billables.json"
VOLUME_TYPES = ["gp2", "gp3", "io1", "io2", "st1", "sc1"]


@functools.lru_cache(maxsize=2)
def chart_table(path: Path = CHARTS_PATH) -> dict[str, dict]:
    return json.loads(path.read_text())["charts"]


def value(values: dict, dotted: str, defaults: dict) -> Any:
    """A chart value by dotted path, else the chart's default for it."""
    node: Any = values
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node or node[key] is None:
            return defaults.get(dotted)
        node = node[key]
    return node


_PROFILE_USAGE = {"type": "object", "additionalProperties": False, "required": ["instance_type"],
                  "properties": {"monthly_hrs": NUMBER, "instance_type": {"type": "string", "minLength": 1}}}


@pricer(*HELM_RELEASE_TYPES,
        notebook_users=NUMBER, storage_gb_per_user=NUMBER, storage_volume_type={"enum": VOLUME_TYPES},
        profile_hours={"type": "object", "additionalProperties": _PROFILE_USAGE}, monthly_hrs=HOURS, capacity_units=NUMBER)
def _helm_release(resource, usage, ctx):
    chart = chart_name(resource)
    known = chart_table().get(chart)
    if known is None:
        return ResourceCost(resource, priced_type=False, notes=[f"chart {chart or '(none)'}: what it creates is not known to the estimator "
                                                                 "(add it to mlp/data/chart-billables.json)"])
    if chart != "jupyterhub":
        return []
    return _jupyterhub(resource, usage, ctx, known.get("defaults") or {})


def _jupyterhub(resource, usage: dict, ctx: PricingContext, defaults: dict) -> ResourceCost:
    """Notebook hours per profile are their own line: keep them out of the pools'
    `monthly_node_hrs`, or they count twice."""
    values = chart_values(resource)
    result = ResourceCost(resource)
    ingress = release_ingress(resource)
    if ingress is not None:
        owner, group = owns_alb(ctx, ingress.get("annotations") or {}, resource.urn)
        if owner:
            result.components.extend(alb_components(ctx, f"Application load balancer (chart ingress{', group ' + group if group else ''})", usage))
    if value(values, "proxy.service.type", defaults) == "LoadBalancer":
        service = (values.get("proxy") or {}).get("service") or {}
        notes = service.get("annotations") if isinstance(service.get("annotations"), dict) else {}
        result.components.extend(service_load_balancer(ctx, notes, service, usage, "chart proxy-public service"))
    if value(values, "hub.db.type", defaults) == "sqlite-pvc":
        size = kubernetes_quantity(value(values, "hub.db.pvc.storage", defaults)) or GIB
        components, notes = claim_components(ctx, "Hub database volume", size / GIB, value(values, "hub.db.pvc.storageClassName", defaults))
        result.components.extend(components)
        result.notes.extend(notes)
    if value(values, "singleuser.storage.type", defaults) == "dynamic":
        _user_volumes(result, values, defaults, usage, ctx)
    profiles = [p.get("slug") for p in ((values.get("singleuser") or {}).get("profileList") or []) if isinstance(p, dict) and p.get("slug")]
    for profile in (usage.get("profile_hours") or {}):
        if profiles and profile not in profiles:
            raise UsageMismatch(f"profile_hours.{profile}", f"no JupyterHub profile {profile!r} in this release (profiles: {', '.join(profiles)})")
    for profile, profile_usage in sorted((usage.get("profile_hours") or {}).items()):
        instance_type = profile_usage["instance_type"]
        result.components.append(CostComponent(f"Notebook hours, profile {profile} ({instance_type})", "hours", ctx.instance_hour(instance_type, "on-demand"),
                                               to_decimal(profile_usage.get("monthly_hrs")), usage_key=f"profile_hours.{profile}.monthly_hrs"))
    return result


def _user_volumes(result: ResourceCost, values: dict, defaults: dict, usage: dict, ctx: PricingContext) -> None:
    """Each user's volume survives culling: users x capacity (the values' capacity unless the
    usage file says otherwise), of the type the storage class gives (or the usage file)."""
    users = to_decimal(usage.get("notebook_users"))
    capacity = kubernetes_quantity(value(values, "singleuser.storage.capacity", defaults)) or 10 * GIB
    size = to_decimal(usage.get("storage_gb_per_user"), capacity / GIB)
    components, notes = claim_components(ctx, "Per-user notebook storage", size, value(values, "singleuser.storage.dynamic.storageClass", defaults),
                                         count=users, usage_key="notebook_users", volume_type=usage.get("storage_volume_type"))
    result.components.extend(components)
    if users:
        result.notes.extend(notes)
