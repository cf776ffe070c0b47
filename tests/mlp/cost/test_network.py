"""Networking figures computed by hand from the catalogue: NAT, public IPv4, endpoints, load
balancers declared or made by the AWS Load Balancer Controller (the last test also prices a
queue, a repository, an alarm and a secret beside a load balancer)."""

from __future__ import annotations

from tests.mlp.cost.documents import cost_of, export, priced, resource, usd


def test_nat_gateway_is_32_85_plus_0_045_per_gb(tmp_path):
    document = export(resource("aws:ec2/natGateway:NatGateway", "nat"))
    assert cost_of(document, "nat").monthly_cost == usd("32.85")
    with_traffic = cost_of(document, "nat", {"resource_type_default_usage": {"aws:ec2/natGateway:NatGateway": {"monthly_data_processed_gb": 100}}}, tmp_path)
    assert with_traffic.monthly_cost == usd("32.85") + usd("4.50")


def test_elastic_ip_pays_for_its_public_ipv4_address():
    assert cost_of(export(resource("aws:ec2/eip:Eip", "ip", {"domain": "vpc"})), "ip").monthly_cost == usd("3.65")  # 0.005 x 730


def test_interface_endpoint_is_per_az_and_gateway_endpoint_is_free():
    document = export(
        resource("aws:ec2/vpcEndpoint:VpcEndpoint", "ecr", {"vpcEndpointType": "Interface", "subnetIds": ["a", "b", "c"]}),
        resource("aws:ec2/vpcEndpoint:VpcEndpoint", "s3", {"vpcEndpointType": "Gateway"}),
    )
    result = priced(document)
    assert [c.resource.name for c in result.costs] == ["ecr"]
    assert result.costs[0].monthly_cost == usd("21.90")  # 3 AZ x 0.01 x 730
    assert result.free_resources == 1


def test_alb_ingresses_cost_one_load_balancer_per_group_and_workloads_cost_nothing(tmp_path):
    def ingress(name, group=None):
        annotations = {"alb.ingress.kubernetes.io/group.name": group} if group else {}
        return resource("kubernetes:networking.k8s.io/v1:Ingress", name, {"metadata": {"name": name, "annotations": annotations}, "spec": {"ingressClassName": "alb"}})

    document = export(
        ingress("a", "shared"), ingress("b", "shared"), ingress("solo"),
        resource("kubernetes:apps/v1:Deployment", "server", {"spec": {"replicas": 3}}),
        resource("kubernetes:core/v1:Service", "svc", {"spec": {"type": "ClusterIP"}}),
    )
    result = priced(document)
    assert sorted(c.resource.name for c in result.costs) == ["a", "solo"]
    assert all(c.monthly_cost == usd("0.0225") * 730 for c in result.costs)
    assert result.free_resources == 3


def test_an_ingress_costs_its_alb_whose_tags_say_whose_it_is():
    """A shared ALB is tagged to the network whichever member Ingress (a team's model server) carries it."""
    member = resource("kubernetes:networking.k8s.io/v1:Ingress", "serving", {
        "metadata": {"name": "serving", "labels": {"mlplatform.io/team": "vision", "mlplatform.io/component": "endpoints"},
                     "annotations": {"alb.ingress.kubernetes.io/group.name": "shared",
                                     "alb.ingress.kubernetes.io/tags": "Team=ml-platform,Component=network,Environment=dev"}},
        "spec": {"ingressClassName": "alb"}})
    alone = resource("kubernetes:networking.k8s.io/v1:Ingress", "alone", {
        "metadata": {"name": "alone", "labels": {"mlplatform.io/team": "vision", "mlplatform.io/component": "endpoints"}},
        "spec": {"ingressClassName": "alb"}})
    result = priced(export(member, alone))
    groups = {key: {value: entry["monthly"] for value, entry in values.items()} for key, values in result.groups().items()}
    assert groups["Team"] == {"ml-platform": usd("0.0225") * 730, "vision": usd("0.0225") * 730}
    assert groups["Component"] == {"network": usd("0.0225") * 730, "endpoints": usd("0.0225") * 730}


def test_load_balancers_queues_repositories_alarms_and_secrets(tmp_path):
    document = export(
        resource("aws:lb/loadBalancer:LoadBalancer", "alb", {"loadBalancerType": "application"}),
        resource("aws:sqs/queue:Queue", "jobs"),
        resource("aws:ecr/repository:Repository", "images"),
        resource("aws:cloudwatch/metricAlarm:MetricAlarm", "errors"),
        resource("aws:secretsmanager/secret:Secret", "token"),
        resource("aws:sagemaker/modelPackageGroup:ModelPackageGroup", "models"),
    )
    usage = {"resource_usage": {"alb": {"capacity_units": 2}, "jobs": {"monthly_requests": 10_000_000}, "images": {"storage_gb": 50}}}
    costs = {c.resource.name: c.monthly_cost for c in priced(document, usage, tmp_path).costs}
    assert costs == {
        "alb": usd("0.0225") * 730 + 2 * 730 * usd("0.008"),
        "jobs": usd("4.00"),
        "images": usd("5.00"),
        "errors": usd("0.10"),
        "token": usd("0.40"),
    }



def test_interface_endpoint_data_is_priced_in_volume_tiers_over_the_stacks_total(tmp_path):
    endpoint = {"vpcEndpointType": "Interface", "subnetIds": ["a"]}
    document = export(resource("aws:ec2/vpcEndpoint:VpcEndpoint", "ecr", endpoint), resource("aws:ec2/vpcEndpoint:VpcEndpoint", "logs", endpoint))
    usage = {"resource_type_default_usage": {"aws:ec2/vpcEndpoint:VpcEndpoint": {"monthly_data_processed_gb": 600_000}}}
    result = priced(document, usage, tmp_path)
    # 1,200,000 GB in the stack: the first PB (1,048,576 GB) at $0.01, the rest at $0.006.
    data = 1_048_576 * usd("0.01") + (1_200_000 - 1_048_576) * usd("0.006")
    assert result.total == 2 * 730 * usd("0.01") + data
    assert sum(c.components[1].monthly_cost for c in result.costs) == data
    small = priced(document, {"resource_usage": {"ecr": {"monthly_data_processed_gb": 500}}}, tmp_path)
    assert small.costs[0].components[1].monthly_cost == usd("5.00")


def test_data_transfer_is_usage_on_the_vpc_internet_egress_in_tiers_and_cross_az_both_ways(tmp_path):
    document = export(resource("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.0.0.0/16"}))
    assert priced(document).costs == []  # no usage, no transfer: the VPC itself is free
    usage = {"resource_usage": {"vpc": {"monthly_internet_egress_gb": 60_000, "monthly_cross_az_gb": 1_000}}}
    egress, cross_az = cost_of(document, "vpc", usage, tmp_path).components
    # 10 TB (10,240 GB) at $0.09, the next 40 TB at $0.085, the rest (8,800 GB) at $0.07.
    assert egress.monthly_cost == 10_240 * usd("0.09") + 40_960 * usd("0.085") + 8_800 * usd("0.07")
    assert egress.usage_key == "monthly_internet_egress_gb"
    assert cross_az.monthly_cost == 2 * 1_000 * usd("0.01")  # billed out of one zone and into the other


def test_a_load_balancer_service_gets_an_nlb_when_the_load_balancer_controller_mutates_services():
    service = resource("kubernetes:core/v1:Service", "svc", {"spec": {"type": "LoadBalancer"}})
    classic = cost_of(export(service), "svc")
    assert classic.components[0].name == "Classic load balancer (from this service)" and classic.monthly_cost == 730 * usd("0.025")
    controller = resource("kubernetes:helm.sh/v3:Release", "lbc", {"chart": "aws-load-balancer-controller", "values": {}})
    assert cost_of(export(controller, service), "svc").components[0].name == "Network load balancer (from this service)"
    switched_off = resource("kubernetes:helm.sh/v3:Release", "lbc", {"chart": "aws-load-balancer-controller", "values": {"enableServiceMutatorWebhook": False}})
    assert cost_of(export(switched_off, service), "svc").components[0].name.startswith("Classic")
