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



def test_instance_takes_its_type_and_root_volume_from_its_launch_template():
    template = resource("aws:ec2/launchTemplate:LaunchTemplate", "nat-lt", {
        "name": "nat", "instanceType": "t4g.nano",
        "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": 8, "volumeType": "gp3", "encrypted": "true"}}]})
    instance = resource("aws:ec2/instance:Instance", "nat", {"launchTemplate": {"id": "nat-lt-id", "version": "1"}})
    cost = cost_of(export(template, instance), "nat")
    month = usd("0.0042") * 730 + 8 * usd("0.08")
    assert cost.monthly_cost == cost.floor_cost == cost.ceiling_cost == month  # runs all month whatever the load
    assert [c.name for c in cost.components] == ["Instance usage (Linux, on-demand, t4g.nano)", "Root volume: storage (gp3)"]


def test_instance_arguments_override_its_launch_template_and_extra_volumes_count(tmp_path):
    template = resource("aws:ec2/launchTemplate:LaunchTemplate", "lt", {"name": "lt", "instanceType": "t4g.nano",
                                                                         "blockDeviceMappings": [{"ebs": {"volumeSize": 8, "volumeType": "gp3"}}]})
    instance = resource("aws:ec2/instance:Instance", "box", {
        "launchTemplate": {"name": "lt"}, "instanceType": "m5.large",
        "rootBlockDevice": {"volumeSize": 30, "volumeType": "gp3", "iops": 4000},
        "ebsBlockDevices": [{"deviceName": "/dev/sdf", "volumeSize": 100}]})  # no type: EC2's default, gp2
    cost = cost_of(export(template, instance), "box")
    assert cost.monthly_cost == usd("0.096") * 730 + 30 * usd("0.08") + 1000 * usd("0.005") + 100 * usd("0.10")
    half_month = cost_of(export(template, instance), "box", {"resource_usage": {"box": {"monthly_hrs": 365}}}, tmp_path)
    assert half_month.monthly_cost == cost.monthly_cost / 2


def test_instance_on_spot_and_without_a_type_is_flagged_not_counted_as_zero():
    spot = resource("aws:ec2/instance:Instance", "spot", {"instanceType": "m5.large", "instanceMarketOptions": {"marketType": "spot"},
                                                          "rootBlockDevice": {"volumeSize": 8, "volumeType": "gp3"}})
    assert cost_of(export(spot), "spot").monthly_cost == usd("0.096") * usd("0.35") * 730 + 8 * usd("0.08")
    untyped = cost_of(export(resource("aws:ec2/instance:Instance", "bare", {"ami": "ami-1"})), "bare")
    assert untyped.price_not_found and "instance type" in untyped.notes[0]
    sized_by_ami = cost_of(export(resource("aws:ec2/instance:Instance", "ami-root", {"instanceType": "t4g.nano"})), "ami-root")
    assert sized_by_ami.monthly_cost == usd("0.0042") * 730 and "root volume" in sized_by_ami.notes[0]


def test_network_interfaces_are_free_and_their_elastic_ip_is_not():
    result = priced(export(resource("aws:ec2/networkInterface:NetworkInterface", "eni", {"subnetId": "s", "sourceDestCheck": False}),
                           resource("aws:ec2/eip:Eip", "ip", {"domain": "vpc", "networkInterface": "eni-id"})))
    assert [c.resource.name for c in result.costs] == ["ip"] and result.free_resources == 1
    assert result.costs[0].monthly_cost == usd("3.65")
