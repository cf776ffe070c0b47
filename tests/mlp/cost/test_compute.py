"""Compute figures computed by hand from the catalogue: managed node groups and Karpenter pools."""

from __future__ import annotations

from tests.mlp.cost.documents import cost_of, export, gpu_pool, node_class, priced, resource, usd


def test_node_group_counts_desired_size_and_launch_template_disks():
    template = resource("aws:ec2/launchTemplate:LaunchTemplate", "system-lt", {
        "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": 100, "volumeType": "gp3"}}]})
    group = resource("aws:eks/nodeGroup:NodeGroup", "system", {
        "instanceTypes": ["m5.large"], "capacityType": "ON_DEMAND",
        "scalingConfig": {"desiredSize": 3, "minSize": 2, "maxSize": 5},
        "launchTemplate": {"id": "system-lt-id", "version": "1"}})
    cost = cost_of(export(template, group), "system")
    node_month = usd("0.096") * 730 + 100 * usd("0.08")
    assert cost.monthly_cost == 3 * node_month
    assert cost.floor_cost == 2 * node_month
    assert cost.ceiling_cost == 5 * node_month


def test_node_group_instance_type_from_its_launch_template_and_disk_defaults(tmp_path):
    template = resource("aws:ec2/launchTemplate:LaunchTemplate", "gpu-lt", {"name": "gpu-lt", "instanceType": "g5.xlarge"})
    from_template = resource("aws:eks/nodeGroup:NodeGroup", "gpu", {"scalingConfig": {"desiredSize": 1, "minSize": 0, "maxSize": 2}, "launchTemplate": {"name": "gpu-lt"}})
    with_disk_size = resource("aws:eks/nodeGroup:NodeGroup", "sized", {"instanceTypes": ["t3.large"], "diskSize": 50, "scalingConfig": {"desiredSize": 2, "minSize": 2, "maxSize": 2}})
    spot = resource("aws:eks/nodeGroup:NodeGroup", "spot", {"instanceTypes": ["m5.large"], "capacityType": "SPOT", "scalingConfig": {"desiredSize": 1, "minSize": 1, "maxSize": 1}})
    costs = {c.resource.name: c for c in priced(export(template, from_template, with_disk_size, spot)).costs}
    assert costs["gpu"].monthly_cost == usd("1.006") * 730 + 20 * usd("0.10")  # no disk given: 20 GB gp2
    assert costs["sized"].monthly_cost == 2 * (usd("0.0832") * 730 + 50 * usd("0.10"))
    assert costs["spot"].monthly_cost == usd("0.096") * usd("0.35") * 730 + 20 * usd("0.10")
    overridden = cost_of(export(template, from_template), "gpu", {"resource_usage": {"gpu": {"instances": 2}}}, tmp_path)
    assert overridden.monthly_cost == 2 * (usd("1.006") * 730 + 20 * usd("0.10"))


def test_karpenter_pool_floor_expected_and_ceiling(tmp_path):
    document = export(node_class(), gpu_pool({"nvidia.com/gpu": "8", "cpu": "1000"}))
    cost = cost_of(document, "gpu-pool", {"resource_usage": {"gpu-pool": {"monthly_node_hrs": 100}}}, tmp_path)
    # Expected: the cheapest allowed type (g5.xlarge) on spot for 100 h, plus its disk for 100 h.
    expected = 100 * usd("1.006") * usd("0.35") + 100 * usd("0.08") * 100 / 730
    assert cost.monthly_cost == expected
    assert cost.floor_cost == 0  # GPU pools scale from zero
    # Ceiling: 8 GPUs fill 8 x g5.16xlarge (1 GPU, $4.096/h), the costliest way to reach the limit.
    assert cost.ceiling_cost == 8 * usd("4.096") * 730 + 8 * 100 * usd("0.08")
    assert any("8 x g5.16xlarge" in c.name for c in cost.components)


def test_karpenter_pool_usage_chooses_the_expected_type_and_capacity(tmp_path):
    document = export(node_class(), gpu_pool({"nvidia.com/gpu": 8}))
    usage = {"resource_usage": {"gpu-pool": {"monthly_node_hrs": 10, "instance_type": "g5.2xlarge", "capacity_type": "on-demand"}}}
    cost = cost_of(document, "gpu-pool", usage, tmp_path)
    assert cost.monthly_cost == 10 * usd("1.212") + 10 * 100 * usd("0.08") / 730


def test_karpenter_pool_ceiling_counts_node_disks_when_choosing_the_worst_fill():
    pool = gpu_pool({"cpu": "64"}, families=("m5",), extra_requirements=[{"key": "node.kubernetes.io/instance-type", "operator": "NotIn", "values": ["m5.24xlarge"]}])
    cost = cost_of(export(pool), "gpu-pool")
    # Every m5 size fills 64 vCPUs for $3.072/h, but 32 x m5.large carry 32 root disks (20 GiB
    # gp3 without a node class): the worst case.
    assert cost.ceiling_cost == 32 * (usd("0.096") * 730 + 20 * usd("0.08"))
    assert any(c.name.startswith("Ceiling: 32 x m5.large") for c in cost.components)


def test_karpenter_pool_without_limits_has_an_unbounded_ceiling():
    result = priced(export(gpu_pool(None)))
    assert result.costs[0].ceiling_unbounded
    assert result.ceiling_unbounded


def test_karpenter_pool_of_types_missing_from_the_catalogue_is_price_not_found():
    pool = gpu_pool({"cpu": 10}, families=("x9z",))
    cost = priced(export(pool)).costs[0]
    assert cost.price_not_found

