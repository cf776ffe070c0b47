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

