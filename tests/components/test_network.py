"""Network per stack: AZs, subnets, NAT per config, endpoints that keep traffic off NAT, flow logs."""

from collections import Counter
from decimal import Decimal

import pytest

from components.nat_instance import ROOT_VOLUME_GIB
from mlp.cost import estimate
from mlp.prices import HOURS_PER_MONTH, load_catalogue
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


def _private_route_tables(run):
    """Route tables whose default route leaves through NAT (a gateway or an instance's interface)."""
    return [r for r in run.by_type("aws:ec2/routeTable:RouteTable")
            if r.inputs["routes"][0].get("natGatewayId") or r.inputs["routes"][0].get("networkInterfaceId")]


@pytest.mark.parametrize("stack,gateways,instances", [("dev", 0, 1), ("staging", 1, 0), ("prod", 3, 0)])
def test_nat_per_config(stack, gateways, instances):
    assert planned(stack).config.network.nat_gateways == {"dev": "instance", "staging": "single", "prod": "one-per-az"}[stack]
    assert len(_resources(stack, "aws:ec2/natGateway:NatGateway")) == gateways
    assert len(_resources(stack, "aws:ec2/instance:Instance")) == instances
    assert len(_resources(stack, "aws:ec2/eip:Eip")) == gateways + instances  # one public address each


def test_dev_routes_every_private_subnet_through_the_nat_instance_interface():
    run = planned("dev").run
    (interface,) = run.by_type("aws:ec2/networkInterface:NetworkInterface")
    (instance,) = run.by_type("aws:ec2/instance:Instance")
    tables = _private_route_tables(run)
    assert len(tables) == len(planned("dev").config.network.availability_zones)
    for table in tables:
        (route,) = table.inputs["routes"]
        assert route == {"cidrBlock": "0.0.0.0/0", "networkInterfaceId": interface.id}
    assert instance.inputs["primaryNetworkInterface"]["networkInterfaceId"] == interface.id


def test_prod_routes_each_az_through_its_own_nat():
    run = planned("prod").run
    nat_ids = {r.id: r.inputs["subnetId"] for r in run.by_type("aws:ec2/natGateway:NatGateway")}
    subnet_az = {r.id: r.inputs["availabilityZone"] for r in run.by_type("aws:ec2/subnet:Subnet")}
    private_tables = _private_route_tables(run)
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
    private_tables = [r.id for r in _private_route_tables(plan.run)]
    assert sorted(by_service["s3"].inputs["routeTableIds"]) == sorted(private_tables)
    for service in ("ecr.api", "ecr.dkr", "sts"):
        endpoint = by_service[service]
        assert endpoint.inputs["vpcEndpointType"] == "Interface" and endpoint.inputs["privateDnsEnabled"] is True


@pytest.mark.parametrize("stack,zones", [("dev", ["us-east-1a"]), ("staging", ["us-east-1a", "us-east-1b", "us-east-1c"]),
                                         ("prod", ["us-west-2a", "us-west-2b", "us-west-2c"])])
def test_interface_endpoints_sit_in_the_configured_number_of_azs(stack, zones):
    plan = planned(stack)
    assert plan.config.network.endpoint_zones == tuple(zones)
    private_subnet_of_az = {s.inputs["availabilityZone"]: s.id for s in plan.run.by_type("aws:ec2/subnet:Subnet")
                            if "kubernetes.io/role/internal-elb" in s.inputs["tags"]}
    interface_endpoints = [e for e in _resources(stack, "aws:ec2/vpcEndpoint:VpcEndpoint") if e.inputs["vpcEndpointType"] == "Interface"]
    assert len(interface_endpoints) == len(plan.config.network.interface_endpoints)
    for endpoint in interface_endpoints:
        # The first N private subnets, in the order of availabilityZones.
        assert endpoint.inputs["subnetIds"] == [private_subnet_of_az[az] for az in zones]


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


def _network_floor(plan) -> Decimal:
    """The floor of what the Network component declares (its URNs carry its type), whatever else
    a stack tags with the network component."""
    return sum((cost.floor_cost for cost in estimate(plan.resources).costs if "mlplatform:network:Network$" in cost.resource.urn), Decimal(0))


def test_dev_network_floor_drops_by_the_gateway_and_the_endpoint_azs_it_no_longer_pays(plan_edited):
    """Dev's idle network, priced from the catalogue: one NAT instance instead of a NAT gateway,
    and interface endpoints in one AZ instead of every AZ, against the same stack with gateways."""
    plan = planned("dev")
    network = plan.config.network
    catalogue = load_catalogue(plan.config.region)
    hours = Decimal(HOURS_PER_MONTH)
    az_hour = catalogue.price("vpc", "interfaceEndpointAzHour")
    nat_instance = catalogue.instance(network.nat_instance).hourly * hours + ROOT_VOLUME_GIB * catalogue.price("ebs", "gp3", "gbMonth")
    public_address = catalogue.price("vpc", "publicIpv4Hour") * hours
    endpoints = len(network.interface_endpoints) * len(network.endpoint_zones) * az_hour * hours
    flow_log_key = catalogue.price("kms", "keyMonth")
    assert _network_floor(plan) == nat_instance + public_address + endpoints + flow_log_key

    def with_gateway(config: dict) -> None:
        config["mlplatform:network"]["natGateways"] = "single"
        del config["mlplatform:network"]["interfaceEndpointZones"]

    before = _network_floor(plan_edited("dev", with_gateway))
    gateway = catalogue.price("vpc", "natGatewayHour") * hours  # its public address is priced in both
    endpoint_azs_saved = len(network.interface_endpoints) * (len(network.availability_zones) - len(network.endpoint_zones)) * az_hour * hours
    # With the shipped us-east-1 catalogue: $32.85 + $21.90 - $3.71 = $51.04 a month less.
    assert before - _network_floor(plan) == gateway + endpoint_azs_saved - nat_instance
