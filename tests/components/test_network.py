"""Network per stack: AZs, subnets, NAT per config, endpoints that keep traffic off NAT, flow logs."""

from collections import Counter

import pytest

from tests.conftest import planned


def _resources(stack, type_token):
    return planned(stack).run.by_type(type_token)


def test_vpc_and_subnets_follow_config(stack):
    config = planned(stack).config.network
    (vpc,) = _resources(stack, "aws:ec2/vpc:Vpc")
    assert vpc.inputs["cidrBlock"] == str(config.vpc_cidr)
    assert vpc.inputs["enableDnsHostnames"] is True and vpc.inputs["enableDnsSupport"] is True
    subnets = _resources(stack, "aws:ec2/subnet:Subnet")
    private = {s.inputs["availabilityZone"]: s.inputs["cidrBlock"] for s in subnets if "kubernetes.io/role/internal-elb" in s.inputs["tags"]}
    public = {s.inputs["availabilityZone"]: s.inputs["cidrBlock"] for s in subnets if "kubernetes.io/role/elb" in s.inputs["tags"]}
    assert private == dict(zip(config.availability_zones, map(str, config.private_subnet_cidrs)))
    assert public == dict(zip(config.availability_zones, map(str, config.public_subnet_cidrs)))
    assert all(s.inputs.get("mapPublicIpOnLaunch") is False for s in subnets if "kubernetes.io/role/elb" in s.inputs["tags"])


def test_private_subnets_are_discoverable_by_karpenter_and_eks(stack):
    plan = planned(stack)
    for subnet in _resources(stack, "aws:ec2/subnet:Subnet"):
        tags = subnet.inputs["tags"]
        if "kubernetes.io/role/internal-elb" in tags:
            assert tags["karpenter.sh/discovery"] == plan.config.cluster_name
            assert tags[f"kubernetes.io/cluster/{plan.config.cluster_name}"] == "shared"
        else:
            assert "karpenter.sh/discovery" not in tags  # nodes never land in public subnets


@pytest.mark.parametrize("stack,nat_count", [("dev", 1), ("staging", 1), ("prod", 3)])
def test_nat_gateways_per_config(stack, nat_count):
    assert len(_resources(stack, "aws:ec2/natGateway:NatGateway")) == nat_count
    assert len(_resources(stack, "aws:ec2/eip:Eip")) == nat_count


def test_prod_routes_each_az_through_its_own_nat():
    run = planned("prod").run
    nat_ids = {r.id: r.inputs["subnetId"] for r in run.by_type("aws:ec2/natGateway:NatGateway")}
    subnet_az = {r.id: r.inputs["availabilityZone"] for r in run.by_type("aws:ec2/subnet:Subnet")}
    private_tables = [r for r in run.by_type("aws:ec2/routeTable:RouteTable") if r.inputs["routes"][0].get("natGatewayId")]
    assert len(private_tables) == 3
    used_nats = Counter(table.inputs["routes"][0]["natGatewayId"] for table in private_tables)
    assert set(used_nats) == set(nat_ids) and set(used_nats.values()) == {1}
    for table in private_tables:
        nat_az = subnet_az[nat_ids[table.inputs["routes"][0]["natGatewayId"]]]
        assert table.inputs["tags"]["Name"].endswith(nat_az)


def test_s3_gateway_and_interface_endpoints_keep_traffic_off_nat(stack):
    plan = planned(stack)
    endpoints = _resources(stack, "aws:ec2/vpcEndpoint:VpcEndpoint")
    by_service = {e.inputs["serviceName"].split(f"com.amazonaws.{plan.config.region}.")[1]: e for e in endpoints}
    assert by_service["s3"].inputs["vpcEndpointType"] == "Gateway"
    private_tables = [r.id for r in plan.run.by_type("aws:ec2/routeTable:RouteTable") if r.inputs["routes"][0].get("natGatewayId")]
    assert sorted(by_service["s3"].inputs["routeTableIds"]) == sorted(private_tables)
    for service in ("ecr.api", "ecr.dkr", "sts"):
        endpoint = by_service[service]
        assert endpoint.inputs["vpcEndpointType"] == "Interface" and endpoint.inputs["privateDnsEnabled"] is True
        assert len(endpoint.inputs["subnetIds"]) == len(plan.config.network.availability_zones)


def test_flow_logs_go_to_a_retained_log_group(stack):
    plan = planned(stack)
    (flow_log,) = _resources(stack, "aws:ec2/flowLog:FlowLog")
    (group,) = [g for g in _resources(stack, "aws:cloudwatch/logGroup:LogGroup") if "vpc-flow-logs" in g.inputs["name"]]
    assert group.inputs["retentionInDays"] == plan.config.network.flow_log_retention_days
    assert flow_log.inputs["trafficType"] == plan.config.network.flow_log_traffic_type
    assert flow_log.inputs["logDestination"].endswith(group.inputs["name"])


def test_flow_logs_are_delivered_only_for_this_account_encrypted_and_kept_with_prod_data(stack):
    import json

    plan = planned(stack)
    (group,) = [g for g in _resources(stack, "aws:cloudwatch/logGroup:LogGroup") if "vpc-flow-logs" in g.inputs["name"]]
    (role,) = [r for r in _resources(stack, "aws:iam/role:Role") if "vpc-flow-logs.amazonaws.com" in r.inputs["assumeRolePolicy"]]
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"},
                                      "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:{plan.config.region}:123456789012:vpc-flow-log/*"}}
    (key,) = [k for k in _resources(stack, "aws:kms/key:Key") if k.outputs["arn"] == group.inputs["kmsKeyId"]]
    assert key.inputs["enableKeyRotation"] is True
    protected = plan.config.datalake.protect
    assert (group.protect, group.retain_on_delete, key.protect) == (protected, protected, protected)
