"""Grouping by cost tags: effective AWS tags, Kubernetes labels, Helm chart values."""

from __future__ import annotations

from mlp.cost import group_value
from mlp.state import StateResource
from tests.mlp.cost.documents import DEFAULT_TAGS, export, gpu_pool, node_class, priced, resource, usd


def test_costs_group_by_effective_tags_and_kubernetes_labels(tmp_path):
    document = export(
        resource("aws:eks/cluster:Cluster", "cluster", tags={"Component": "compute"}),
        resource("aws:ec2/natGateway:NatGateway", "nat", tags={"Component": "network"}),
        resource("aws:ecr/repository:Repository", "vision-images", tags={"Component": "registries", "Team": "vision"}),
        node_class(), gpu_pool({"nvidia.com/gpu": 1}),
    )
    usage = {"resource_usage": {"vision-images": {"storage_gb": 10}, "gpu-pool": {"monthly_node_hrs": 10, "capacity_type": "on-demand"}}}
    result = priced(document, usage, tmp_path, group_keys=("Team", "Environment", "Component"))
    groups = result.groups()
    assert groups["Team"]["ml-platform"]["monthly"] == usd("73.00") + usd("32.85")  # from the provider's default tags
    assert groups["Team"]["vision"]["monthly"] == usd("1.00") + 10 * usd("1.006") + 100 * usd("0.08") * 10 / 730
    assert groups["Environment"]["dev"]["resources"] == 4  # the unlabelled pool takes the stack-wide value
    assert groups["Component"]["compute"]["resources"] == 2
    pool = next(c for c in result.costs if c.resource.name == "gpu-pool")
    assert group_value(pool.resource, "Team") == "vision"
    # The unprefixed keys of the old label contract are owned by charts and count for nothing.
    legacy = StateResource(urn="urn:pulumi:dev::mlplatform::kubernetes:core/v1:ServiceAccount::legacy",
                           type="kubernetes:core/v1:ServiceAccount", custom=True, inputs={"metadata": {"labels": {"team": "vision"}}})
    assert group_value(legacy, "Team", {"Team": "stack-wide"}) == "stack-wide"


def test_grouping_by_any_tag_key_uses_the_real_providers_merged_tags():
    # Real state reports the merged set as `tagsAll`; offline plans only have the provider's defaults.
    deployed = resource("aws:eks/cluster:Cluster", "deployed", tags={"Team": "vision"},
                        outputs={"tagsAll": {**DEFAULT_TAGS, "Team": "vision", "CostCenter": "CC-VISION"}})
    planned = resource("aws:ec2/natGateway:NatGateway", "planned", tags={"Team": "vision"})
    groups = priced(export(deployed, planned), group_keys=("CostCenter", "Project")).groups()
    assert {value: entry["monthly"] for value, entry in groups["CostCenter"].items()} == {"CC-VISION": usd("73.00"), "CC-1": usd("32.85")}
    assert groups["Project"]["mlplatform"]["resources"] == 2


def test_a_helm_release_belongs_to_the_team_its_chart_values_label_everything_with(tmp_path):
    platform_labels = {"mlplatform.io/team": "ml-platform", "mlplatform.io/component": "notebooks", "mlplatform.io/environment": "dev"}
    hub = resource("kubernetes:helm.sh/v3:Release", "hub", {"chart": "jupyterhub", "values": {
        "hub": {"labels": platform_labels}, "proxy": {"labels": platform_labels},
        "singleuser": {"extraLabels": {**platform_labels, "hub.jupyter.org/network-access-hub": "true"}}}})
    # Labels that disagree say nothing about the release as a whole.
    mixed = resource("kubernetes:helm.sh/v3:Release", "mixed", {"chart": "jupyterhub", "values": {
        "hub": {"labels": {"mlplatform.io/team": "vision"}}, "singleuser": {"extraLabels": {"mlplatform.io/team": "forecasting"}}}})
    usage = {"resource_type_default_usage": {"kubernetes:helm.sh/v3:Release": {
        "notebook_users": 1, "storage_gb_per_user": 10, "profile_hours": {"cpu": {"monthly_hrs": 10, "instance_type": "m5.large"}}}}}
    result = priced(export(hub, mixed), usage, tmp_path, group_keys=("Team", "Component"))
    costs = {c.resource.name: c for c in result.costs}
    assert group_value(costs["hub"].resource, "Team") == "ml-platform"
    assert group_value(costs["hub"].resource, "Component") == "notebooks"
    assert group_value(costs["mixed"].resource, "Team", {"Environment": "dev"}) == "(untagged)"
    assert group_value(costs["mixed"].resource, "Team", {"Team": "stack-wide"}) == "stack-wide"
    # Usage: one user's 10 GB and 10 notebook hours; fixed: what the chart's defaults create (the
    # proxy's Classic load balancer and the hub's 1 GiB database volume).
    usage_month = 10 * usd("0.08") + 10 * usd("0.096")
    fixed_month = 730 * usd("0.025") + 1 * usd("0.08")
    hub_month = usage_month + fixed_month
    assert costs["hub"].monthly_cost == hub_month
    assert result.groups()["Team"] == {"ml-platform": {"monthly": 2 * hub_month, "fixed": 2 * fixed_month, "usage": 2 * usage_month, "floor": 2 * hub_month,
                                                       "ceiling": 2 * hub_month, "resources": 2, "priceNotFound": 0, "unbounded": False}}  # mixed: the export's default Team

