"""What Helm releases create, priced from their values and their chart's defaults: JupyterHub's
ingress ALB, proxy load balancer, hub database volume, per-user volumes and notebook hours."""

from __future__ import annotations

import pytest

from mlp.errors import UserError
from tests.mlp.cost.documents import cost_of, export, priced, resource, usd

HOURS = 730
GP3 = usd("0.08")


def hub(values: dict | None = None, name: str = "hub") -> dict:
    return resource("kubernetes:helm.sh/v3:Release", name, {"chart": "jupyterhub", "version": "4.4.0", "values": values or {}})


def test_jupyterhub_with_the_charts_defaults_makes_a_classic_load_balancer_and_the_hub_volume():
    cost = cost_of(export(hub()), "hub")
    names = [c.name for c in cost.components]
    # proxy.service.type LoadBalancer (the chart's default), without the AWS Load Balancer
    # Controller's webhook: a Classic load balancer. hub.db sqlite-pvc, 1Gi: the CSI default gp3.
    assert names[:3] == ["Classic load balancer (chart proxy-public service)", "Data processed", "Hub database volume: storage (gp3)"]
    assert cost.monthly_cost == HOURS * usd("0.025") + 1 * GP3
    assert cost.fixed_cost == cost.monthly_cost and cost.usage_cost == 0


def test_jupyterhub_as_the_platform_configures_it_makes_an_alb_and_no_proxy_load_balancer(tmp_path):
    storage_class = resource("kubernetes:storage.k8s.io/v1:StorageClass", "gp3-encrypted", {"metadata": {"name": "gp3-encrypted"}, "parameters": {"type": "gp3"}})
    values = {"ingress": {"enabled": True, "ingressClassName": "alb", "annotations": {"alb.ingress.kubernetes.io/scheme": "internet-facing"}},
              "proxy": {"service": {"type": "ClusterIP"}},
              "hub": {"db": {"type": "sqlite-pvc", "pvc": {"storage": "1Gi", "storageClassName": "gp3-encrypted"}}},
              "singleuser": {"storage": {"type": "dynamic", "capacity": "50Gi", "dynamic": {"storageClass": "gp3-encrypted"}}}}
    usage = {"resource_usage": {"hub": {"notebook_users": 25, "capacity_units": 2}}}
    cost = cost_of(export(storage_class, hub(values)), "hub", usage, tmp_path)
    by_name = {c.name: c for c in cost.components}
    assert by_name["Application load balancer (chart ingress)"].monthly_cost == HOURS * usd("0.0225")  # $16.43 a month
    assert by_name["Load balancer capacity units"].monthly_cost == 2 * HOURS * usd("0.008")
    assert by_name["Hub database volume: storage (gp3)"].monthly_cost == GP3
    users = by_name["Per-user notebook storage: storage (gp3)"]
    assert users.monthly_cost == 25 * 50 * GP3 and users.usage_key == "notebook_users"  # the values' 50Gi per user
    assert cost.fixed_cost == HOURS * usd("0.0225") + GP3


def test_a_chart_ingress_in_a_group_shares_the_alb_of_the_group():
    ingress = resource("kubernetes:networking.k8s.io/v1:Ingress", "api", {"metadata": {"name": "api", "annotations": {
        "alb.ingress.kubernetes.io/group.name": "shared"}}, "spec": {"ingressClassName": "alb"}})
    values = {"ingress": {"enabled": True, "ingressClassName": "alb", "annotations": {"alb.ingress.kubernetes.io/group.name": "shared"}},
              "proxy": {"service": {"type": "ClusterIP"}}, "hub": {"db": {"type": "sqlite-memory"}}}
    result = priced(export(ingress, hub(values)))
    albs = [line for cost in result.costs for line in cost.components if line.name.startswith("Application load balancer")]
    assert len(albs) == 1


def test_the_proxy_service_gets_an_nlb_from_the_load_balancer_controller():
    controller = resource("kubernetes:helm.sh/v3:Release", "lbc", {"chart": "aws-load-balancer-controller", "values": {}})
    cost = cost_of(export(controller, hub({"hub": {"db": {"type": "sqlite-memory"}}})), "hub")
    assert cost.components[0].name == "Network load balancer (chart proxy-public service)"
    assert cost.monthly_cost == HOURS * usd("0.0225")


def test_releases_of_charts_that_create_nothing_billable_are_free_and_unknown_charts_are_not_priced():
    document = export(resource("kubernetes:helm.sh/v3:Release", "karpenter", {"chart": "oci://public.ecr.aws/karpenter/karpenter"}),
                      resource("kubernetes:helm.sh/v3:Release", "mystery", {"chart": "some-operator"}))
    result = priced(document)
    assert [c.resource.name for c in result.costs] == ["mystery"]
    assert result.costs[0].price_not_found and result.costs[0].monthly_cost is None
    assert result.not_priced_by_type() == {"kubernetes:helm.sh/v3:Release": 1}
    assert result.free_resources == 1


def test_jupyterhub_users_volumes_and_profile_hours(tmp_path):
    values = {"proxy": {"service": {"type": "ClusterIP"}}, "hub": {"db": {"type": "sqlite-memory"}}}
    usage = {"resource_type_default_usage": {"kubernetes:helm.sh/v3:Release": {
        "notebook_users": 10, "storage_gb_per_user": 50, "profile_hours": {"cpu": {"monthly_hrs": 100, "instance_type": "m5.xlarge"}}}}}
    cost = priced(export(hub(values)), usage, tmp_path).costs[0]
    assert cost.monthly_cost == 10 * 50 * GP3 + 100 * usd("0.192")
    assert cost.components[-1].usage_key == "profile_hours.cpu.monthly_hrs"


def test_profile_hours_must_name_a_profile_of_the_release(tmp_path):
    values = {"proxy": {"service": {"type": "ClusterIP"}}, "hub": {"db": {"type": "sqlite-memory"}}, "singleuser": {"storage": {"type": "none"}, "profileList": [
        {"slug": "cpu-small", "display_name": "CPU"}, {"slug": "gpu-single", "display_name": "GPU"}]}}
    known = {"resource_usage": {"hub": {"profile_hours": {"gpu-single": {"monthly_hrs": 10, "instance_type": "g5.xlarge"}}}}}
    assert priced(export(hub(values)), known, tmp_path).costs[0].monthly_cost == 10 * usd("1.006")
    typo = {"resource_usage": {"hub": {"profile_hours": {"gpu": {"monthly_hrs": 10, "instance_type": "g5.xlarge"}}}}}
    with pytest.raises(UserError) as raised:
        priced(export(hub(values)), typo, tmp_path)
    assert raised.value.key == "resource_usage.hub.profile_hours.gpu"
    assert raised.value.message == "no JupyterHub profile 'gpu' in this release (profiles: cpu-small, gpu-single)"


def test_every_stacks_jupyterhub_ingress_alb_is_in_its_estimate(plan_of, stack):
    from mlp.cost import estimate

    plan = plan_of(stack)
    result = estimate(plan.resources)
    release = next(c for c in result.costs if c.resource.type == "kubernetes:helm.sh/v3:Release")
    hub_alb = [line for line in release.components if line.name.startswith("Application load balancer (chart ingress")]
    if plan.config.cluster.shared_load_balancer:
        # One ALB for the hub and the model servers, priced once, on whichever member comes first.
        albs = [line for cost in result.costs for line in cost.components if line.name.startswith("Application load balancer")]
        assert [line.monthly_cost for line in albs] == [HOURS * usd("0.0225")]
    else:
        assert [line.monthly_cost for line in hub_alb] == [HOURS * usd("0.0225")]
