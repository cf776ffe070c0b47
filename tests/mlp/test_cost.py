"""`mlp cost`: per-type figures computed by hand from the catalogue, usage, grouping, formats,
the real Pulumi documents, the real stacks, and every kind of bad input."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from mlp.cli import main
from mlp.cost import estimate, group_value, kubernetes_quantity, usage_schemas
from mlp.errors import UserError
from mlp.prices import load_catalogue
from mlp.state import resources_from_document
from mlp.usage import UsageFile, load_usage
from tests.conftest import run_mlp

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "pulumi"
STACKS_DIR = Path(__file__).resolve().parents[2] / "stacks"
PROVIDER = "urn:pulumi:dev::mlplatform::pulumi:providers:aws::main"
DEFAULT_TAGS = {"Environment": "dev", "CostCenter": "CC-1", "Project": "mlplatform", "ManagedBy": "pulumi", "Team": "ml-platform"}


def resource(type_token: str, name: str, inputs: dict | None = None, tags: dict | None = None, **extra) -> dict:
    inputs = dict(inputs or {})
    if tags is not None:
        inputs["tags"] = tags
    provider = "urn:pulumi:dev::mlplatform::pulumi:providers:kubernetes::k8s::k8s-id" if type_token.startswith("kubernetes:") else f"{PROVIDER}::prov"
    return {"urn": f"urn:pulumi:dev::mlplatform::{type_token}::{name}", "type": type_token, "custom": True, "id": f"{name}-id",
            "inputs": inputs, "outputs": dict(extra.pop("outputs", {})), "provider": provider, **extra}


def export(*resources: dict, region: str = "us-east-1") -> dict:
    provider = {"urn": PROVIDER, "type": "pulumi:providers:aws", "custom": True, "id": "prov",
                "inputs": {"region": region, "defaultTags": json.dumps({"tags": DEFAULT_TAGS})}, "outputs": {}}
    return {"version": 3, "deployment": {"resources": [provider, *resources]}}


def priced(document: dict, usage: dict | None = None, tmp_path: Path | None = None, **kwargs):
    usage_file = UsageFile()
    if usage is not None:
        path = tmp_path / "usage.yaml"
        path.write_text(json.dumps({"version": "0.1", **usage}))
        usage_file = load_usage(path, usage_schemas())
    return estimate(resources_from_document(document, "state.json"), usage_file, **kwargs)


def cost_of(document: dict, name: str, usage: dict | None = None, tmp_path: Path | None = None):
    result = priced(document, usage, tmp_path)
    matches = [c for c in result.costs if c.resource.name == name]
    assert len(matches) == 1, [c.resource.name for c in result.costs]
    return matches[0]


def usd(text: str) -> Decimal:
    return Decimal(text)


# --- hand-computed figures per type ------------------------------------------------------------


def test_eks_cluster_is_73_dollars_a_month_in_us_east_1(tmp_path):
    document = export(resource("aws:eks/cluster:Cluster", "cluster"))
    assert cost_of(document, "cluster").monthly_cost == usd("73.00")  # 0.10 x 730
    extended = cost_of(document, "cluster", {"resource_usage": {"cluster": {"extended_support": True}}}, tmp_path)
    assert extended.monthly_cost == usd("438.00")  # 0.60 x 730


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


def test_log_group_ingest_storage_and_queries(tmp_path):
    document = export(resource("aws:cloudwatch/logGroup:LogGroup", "logs"))
    usage = {"resource_usage": {"logs": {"monthly_data_ingested_gb": 10, "storage_gb": 100, "monthly_data_scanned_gb": 200}}}
    assert cost_of(document, "logs", usage, tmp_path).monthly_cost == usd("5.00") + usd("3.00") + usd("1.00")


def test_kms_key_is_a_dollar_a_month_plus_requests(tmp_path):
    document = export(resource("aws:kms/key:Key", "key"))
    assert cost_of(document, "key").monthly_cost == usd("1.00")
    assert cost_of(document, "key", {"resource_usage": {"key": {"monthly_requests": 100_000}}}, tmp_path).monthly_cost == usd("1.30")


def test_s3_bucket_storage_by_class_and_requests(tmp_path):
    document = export(resource("aws:s3/bucket:Bucket", "lake"))
    usage = {"resource_usage": {"lake": {
        "standard": {"storage_gb": 1000, "monthly_tier_1_requests": 100_000, "monthly_tier_2_requests": 1_000_000},
        "standard_infrequent_access": {"storage_gb": 500},
        "glacier_instant_retrieval": {"storage_gb": 1000},
    }}}
    # 1000 x 0.023 + 100 x 0.005 + 1000 x 0.0004 + 500 x 0.0125 + 1000 x 0.004
    assert cost_of(document, "lake", usage, tmp_path).monthly_cost == usd("23.00") + usd("0.50") + usd("0.40") + usd("6.25") + usd("4.00")


def test_ebs_gp3_pays_only_iops_and_throughput_above_the_baseline_and_io2_is_tiered():
    document = export(
        resource("aws:ebs/volume:Volume", "fast", {"type": "gp3", "size": 100, "iops": 6000, "throughput": 250}),
        resource("aws:ebs/volume:Volume", "baseline", {"type": "gp3", "size": 100, "iops": 3000, "throughput": 125}),
        resource("aws:ebs/volume:Volume", "db", {"type": "io2", "size": 100, "iops": 40000}),
        resource("aws:ebs/volume:Volume", "cold", {"type": "sc1", "size": 1000}),
    )
    costs = {c.resource.name: c.monthly_cost for c in priced(document).costs}
    assert costs["fast"] == usd("8.00") + 3000 * usd("0.005") + 125 * usd("0.04")
    assert costs["baseline"] == usd("8.00")
    assert costs["db"] == usd("12.50") + 32000 * usd("0.065") + 8000 * usd("0.0455")
    assert costs["cold"] == usd("15.00")


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
    assert cost.baseline_cost == 2 * node_month
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


def _gpu_pool(limits: dict | None, families=("g5",), extra_requirements=()) -> dict:
    spec = {"template": {"spec": {
        "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "gpu"},
        "requirements": [
            {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": list(families)},
            {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot", "on-demand"]},
            *extra_requirements,
        ]}}}
    if limits is not None:
        spec["limits"] = limits
    return resource("kubernetes:karpenter.sh/v1:NodePool", "gpu-pool", {"apiVersion": "karpenter.sh/v1", "kind": "NodePool",
                    "metadata": {"name": "gpu", "labels": {"team": "vision", "component": "compute"}}, "spec": spec})


def _node_class() -> dict:
    return resource("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass", "gpu-class", {"metadata": {"name": "gpu"}, "spec": {
        "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": "100Gi", "volumeType": "gp3"}}]}})


def test_karpenter_pool_baseline_expected_and_ceiling(tmp_path):
    document = export(_node_class(), _gpu_pool({"nvidia.com/gpu": "8", "cpu": "1000"}))
    cost = cost_of(document, "gpu-pool", {"resource_usage": {"gpu-pool": {"monthly_node_hrs": 100}}}, tmp_path)
    # Expected: the cheapest allowed type (g5.xlarge) on spot for 100 h, plus its disk for 100 h.
    expected = 100 * usd("1.006") * usd("0.35") + 100 * usd("0.08") * 100 / 730
    assert cost.monthly_cost == expected
    assert cost.baseline_cost == 0  # GPU pools scale from zero
    # Ceiling: 8 GPUs fill 8 x g5.16xlarge (1 GPU, $4.096/h), the costliest way to reach the limit.
    assert cost.ceiling_cost == 8 * usd("4.096") * 730 + 8 * 100 * usd("0.08")
    assert any("8 x g5.16xlarge" in c.name for c in cost.components)


def test_karpenter_pool_usage_chooses_the_expected_type_and_capacity(tmp_path):
    document = export(_node_class(), _gpu_pool({"nvidia.com/gpu": 8}))
    usage = {"resource_usage": {"gpu-pool": {"monthly_node_hrs": 10, "instance_type": "g5.2xlarge", "capacity_type": "on-demand"}}}
    cost = cost_of(document, "gpu-pool", usage, tmp_path)
    assert cost.monthly_cost == 10 * usd("1.212") + 10 * 100 * usd("0.08") / 730


def test_karpenter_pool_ceiling_counts_node_disks_when_choosing_the_worst_fill():
    pool = _gpu_pool({"cpu": "64"}, families=("m5",), extra_requirements=[{"key": "node.kubernetes.io/instance-type", "operator": "NotIn", "values": ["m5.24xlarge"]}])
    cost = cost_of(export(pool), "gpu-pool")
    # Every m5 size fills 64 vCPUs for $3.072/h, but 32 x m5.large carry 32 root disks (20 GiB
    # gp3 without a node class): the worst case.
    assert cost.ceiling_cost == 32 * (usd("0.096") * 730 + 20 * usd("0.08"))
    assert any(c.name.startswith("Ceiling: 32 x m5.large") for c in cost.components)


def test_karpenter_pool_without_limits_has_an_unbounded_ceiling():
    result = priced(export(_gpu_pool(None)))
    assert result.costs[0].ceiling_unbounded
    assert result.ceiling_unbounded


def test_karpenter_pool_of_types_missing_from_the_catalogue_is_price_not_found():
    pool = _gpu_pool({"cpu": 10}, families=("x9z",))
    cost = priced(export(pool)).costs[0]
    assert cost.price_not_found


def test_sagemaker_endpoint_instances_and_autoscaling_ceiling():
    config = resource("aws:sagemaker/endpointConfiguration:EndpointConfiguration", "churn-config", {
        "name": "churn-config", "productionVariants": [{"variantName": "primary", "instanceType": "ml.m5.large", "initialInstanceCount": 2}]})
    endpoint = resource("aws:sagemaker/endpoint:Endpoint", "churn", {"name": "churn", "endpointConfigName": "churn-config"})
    target = resource("aws:appautoscaling/target:Target", "churn-scaling", {
        "resourceId": "endpoint/churn/variant/primary", "minCapacity": 1, "maxCapacity": 4, "scalableDimension": "sagemaker:variant:DesiredInstanceCount"})
    result = priced(export(config, endpoint, target))
    assert [c.resource.name for c in result.costs] == ["churn-config"]  # endpoint and target: priced on the config
    cost = result.costs[0]
    assert cost.monthly_cost == 2 * usd("0.115") * 730
    assert cost.baseline_cost == 1 * usd("0.115") * 730
    assert cost.ceiling_cost == 4 * usd("0.115") * 730


def test_sagemaker_serverless_priced_from_invocations(tmp_path):
    config = resource("aws:sagemaker/endpointConfiguration:EndpointConfiguration", "serverless", {
        "productionVariants": [{"variantName": "primary", "serverlessConfig": {"memorySizeInMb": 2048, "maxConcurrency": 5}}]})
    usage = {"resource_usage": {"serverless": {"monthly_requests": 1_000_000, "request_duration_ms": 100, "monthly_data_processed_gb": 10}}}
    cost = cost_of(export(config), "serverless", usage, tmp_path)
    assert cost.monthly_cost == 1_000_000 * Decimal("0.1") * 2 * usd("0.00002") + 10 * usd("0.016")
    assert cost.ceiling_cost == 5 * 730 * 3600 * 2 * usd("0.00002") + 10 * usd("0.016")


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


def test_jupyterhub_users_volumes_and_profile_hours(tmp_path):
    release = resource("kubernetes:helm.sh/v3:Release", "hub", {"chart": "jupyterhub", "version": "4.0.0"})
    other = resource("kubernetes:helm.sh/v3:Release", "karpenter", {"chart": "karpenter"})
    usage = {"resource_type_default_usage": {"kubernetes:helm.sh/v3:Release": {
        "notebook_users": 10, "storage_gb_per_user": 50,
        "profile_hours": {"cpu": {"monthly_hrs": 100, "instance_type": "m5.xlarge"}}}}}
    result = priced(export(release, other), usage, tmp_path)
    assert [c.resource.name for c in result.costs] == ["hub"]
    assert result.costs[0].monthly_cost == 10 * 50 * usd("0.08") + 100 * usd("0.192")


def test_profile_hours_must_name_a_profile_of_the_release(tmp_path, capsys):
    release = resource("kubernetes:helm.sh/v3:Release", "hub", {"chart": "jupyterhub", "values": {"singleuser": {"profileList": [
        {"slug": "cpu-small", "display_name": "CPU"}, {"slug": "gpu-single", "display_name": "GPU"}]}}})
    known = {"resource_usage": {"hub": {"profile_hours": {"gpu-single": {"monthly_hrs": 10, "instance_type": "g5.xlarge"}}}}}
    assert priced(export(release), known, tmp_path).costs[0].monthly_cost == 10 * usd("1.006")
    typo = {"resource_usage": {"hub": {"profile_hours": {"gpu": {"monthly_hrs": 10, "instance_type": "g5.xlarge"}}}}}
    with pytest.raises(UserError) as raised:
        priced(export(release), typo, tmp_path)
    assert raised.value.key == "resource_usage.hub.profile_hours.gpu"
    assert raised.value.message == "no JupyterHub profile 'gpu' in this release (profiles: cpu-small, gpu-single)"


def test_persistent_volume_claims_use_their_storage_class():
    storage_class = resource("kubernetes:storage.k8s.io/v1:StorageClass", "fast", {"metadata": {"name": "fast"}, "parameters": {"type": "gp2"}})
    claim = resource("kubernetes:core/v1:PersistentVolumeClaim", "data", {"spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "200Gi"}}}})
    assert cost_of(export(storage_class, claim), "data").monthly_cost == usd("20.00")


def test_unpriced_types_and_missing_prices_are_flagged_never_zero():
    document = export(
        resource("aws:redshift/cluster:Cluster", "warehouse"),
        resource("aws:eks/nodeGroup:NodeGroup", "exotic", {"instanceTypes": ["z9.mega"], "scalingConfig": {"desiredSize": 1}}),
        resource("aws:iam/role:Role", "role"),
        resource("aws:ec2/subnet:Subnet", "subnet"),
    )
    result = priced(document)
    costs = {c.resource.name: c for c in result.costs}
    assert set(costs) == {"warehouse", "exotic"}
    assert costs["warehouse"].price_not_found and costs["warehouse"].monthly_cost is None
    assert costs["exotic"].price_not_found
    assert result.free_resources == 2


def test_region_without_a_catalogue_reports_every_price_as_not_found():
    result = priced(export(resource("aws:eks/cluster:Cluster", "cluster"), region="eu-north-1"))
    assert not result.catalogue.available
    assert result.costs[0].price_not_found
    assert result.total == 0


def test_kubernetes_quantities():
    assert kubernetes_quantity("100Gi") == 100 * 2**30
    assert kubernetes_quantity("500m") == Decimal("0.5")
    assert kubernetes_quantity(8.0) == 8
    assert kubernetes_quantity("lots") is None


# --- grouping, usage precedence ---------------------------------------------------------------


def test_costs_group_by_effective_tags_and_kubernetes_labels(tmp_path):
    document = export(
        resource("aws:eks/cluster:Cluster", "cluster", tags={"Component": "compute"}),
        resource("aws:ec2/natGateway:NatGateway", "nat", tags={"Component": "network"}),
        resource("aws:ecr/repository:Repository", "vision-images", tags={"Component": "registries", "Team": "vision"}),
        _node_class(), _gpu_pool({"nvidia.com/gpu": 1}),
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


def test_grouping_by_any_tag_key_uses_the_real_providers_merged_tags():
    # Real state reports the merged set as `tagsAll`; offline plans only have the provider's defaults.
    deployed = resource("aws:eks/cluster:Cluster", "deployed", tags={"Team": "vision"},
                        outputs={"tagsAll": {**DEFAULT_TAGS, "Team": "vision", "CostCenter": "CC-VISION"}})
    planned = resource("aws:ec2/natGateway:NatGateway", "planned", tags={"Team": "vision"})
    groups = priced(export(deployed, planned), group_keys=("CostCenter", "Project")).groups()
    assert {value: entry["monthly"] for value, entry in groups["CostCenter"].items()} == {"CC-VISION": usd("73.00"), "CC-1": usd("32.85")}
    assert groups["Project"]["mlplatform"]["resources"] == 2


def test_a_helm_release_belongs_to_the_team_its_chart_values_label_everything_with(tmp_path):
    platform_labels = {"team": "ml-platform", "component": "notebooks", "environment": "dev"}
    hub = resource("kubernetes:helm.sh/v3:Release", "hub", {"chart": "jupyterhub", "values": {
        "hub": {"labels": platform_labels}, "proxy": {"labels": platform_labels},
        "singleuser": {"extraLabels": {**platform_labels, "hub.jupyter.org/network-access-hub": "true"}}}})
    # Labels that disagree say nothing about the release as a whole.
    mixed = resource("kubernetes:helm.sh/v3:Release", "mixed", {"chart": "jupyterhub", "values": {
        "hub": {"labels": {"team": "vision"}}, "singleuser": {"extraLabels": {"team": "forecasting"}}}})
    usage = {"resource_type_default_usage": {"kubernetes:helm.sh/v3:Release": {
        "notebook_users": 1, "storage_gb_per_user": 10, "profile_hours": {"cpu": {"monthly_hrs": 10, "instance_type": "m5.large"}}}}}
    result = priced(export(hub, mixed), usage, tmp_path, group_keys=("Team", "Component"))
    costs = {c.resource.name: c for c in result.costs}
    assert group_value(costs["hub"].resource, "Team") == "ml-platform"
    assert group_value(costs["hub"].resource, "Component") == "notebooks"
    assert group_value(costs["mixed"].resource, "Team", {"Environment": "dev"}) == "(untagged)"
    assert group_value(costs["mixed"].resource, "Team", {"Team": "stack-wide"}) == "stack-wide"
    hub_month = 10 * usd("0.08") + 10 * usd("0.096")
    assert costs["hub"].monthly_cost == hub_month
    assert result.groups()["Team"] == {"ml-platform": {"monthly": 2 * hub_month, "baseline": 2 * hub_month, "ceiling": 2 * hub_month,
                                                       "resources": 2, "priceNotFound": 0, "unbounded": False}}  # mixed: the export's default Team


def test_resource_usage_by_urn_or_name_beats_the_type_default(tmp_path):
    document = export(resource("aws:ec2/natGateway:NatGateway", "nat-a"), resource("aws:ec2/natGateway:NatGateway", "nat-b"),
                      resource("aws:ec2/natGateway:NatGateway", "nat-c"))
    urn_c = "urn:pulumi:dev::mlplatform::aws:ec2/natGateway:NatGateway::nat-c"
    usage = {"resource_type_default_usage": {"aws:ec2/natGateway:NatGateway": {"monthly_data_processed_gb": 100}},
             "resource_usage": {"nat-b": {"monthly_data_processed_gb": 1000}, urn_c: {"monthly_data_processed_gb": 0}}}
    costs = {c.resource.name: c.monthly_cost for c in priced(document, usage, tmp_path).costs}
    assert costs == {"nat-a": usd("37.35"), "nat-b": usd("77.85"), "nat-c": usd("32.85")}


def test_a_name_shared_by_two_types_gives_each_the_keys_it_knows(tmp_path):
    document = export(resource("aws:ec2/natGateway:NatGateway", "nat"), resource("aws:ec2/eip:Eip", "nat"))
    result = priced(document, {"resource_usage": {"nat": {"monthly_data_processed_gb": 100}}}, tmp_path)
    assert result.total == usd("37.35") + usd("3.65")


# --- the command: formats, real documents, real stacks, bad input -------------------------------


def _write(tmp_path: Path, document: dict, name: str = "state.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


def test_json_output_has_the_contract_fields(tmp_path):
    state = _write(tmp_path, export(resource("aws:eks/cluster:Cluster", "cluster", tags={"Component": "compute"}), resource("aws:redshift/cluster:Cluster", "dw")))
    done = run_mlp("cost", state, "--format", "json", "--by", "Team,Component")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["currency"] == "USD"
    assert report["totalMonthlyCost"] == "73.00"
    by_name = {r["name"]: r for r in report["resources"]}
    assert by_name["cluster"]["monthlyCost"] == "73.00"
    assert by_name["cluster"]["costComponents"][0] == {"name": "EKS cluster", "unit": "hours", "price": "0.10", "monthlyQuantity": "730",
                                                       "monthlyCost": "73.00", "priceNotFound": False}
    assert by_name["dw"]["priceNotFound"] is True and by_name["dw"]["monthlyCost"] is None
    assert report["groups"]["Component"][0] == {"value": "compute", "monthlyCost": "73.00", "baselineMonthlyCost": "73.00",
                                                "ceilingMonthlyCost": "73.00", "resources": 1, "priceNotFound": 0}
    assert set(report["groups"]) == {"Team", "Component"}
    assert report["summary"]["priceNotFoundResources"] == 1


def test_csv_and_table_outputs(tmp_path):
    state = _write(tmp_path, export(resource("aws:ec2/natGateway:NatGateway", "nat")))
    rows = list(csv.DictReader(io.StringIO(run_mlp("cost", state, "--format", "csv").stdout)))
    assert rows == [{"name": "nat", "type": "aws:ec2/natGateway:NatGateway", "urn": "urn:pulumi:dev::mlplatform::aws:ec2/natGateway:NatGateway::nat",
                     "Environment": "dev", "Team": "ml-platform", "Component": "platform", "monthlyCost": "32.85", "baselineMonthlyCost": "32.85",
                     "ceilingMonthlyCost": "32.85", "priceNotFound": "false"}]
    table = run_mlp("cost", state)
    assert table.returncode == 0
    assert "Total monthly cost: $32.85 (baseline $32.85, ceiling $32.85); 1 priced resource(s), 0 free" in table.stdout
    unpriced = run_mlp("cost", _write(tmp_path, export(resource("aws:redshift/cluster:Cluster", "dw")), "unpriced.json"))
    assert "0 priced resource(s), 0 free, 1 with a price not found" in unpriced.stdout


@pytest.mark.parametrize("name", ["sample-export.json", "sample-preview-creates.json", "sample-preview-update.json", "sample-preview-deletes.json"])
def test_real_pulumi_documents_are_estimated(name):
    done = run_mlp("cost", str(FIXTURES / name), "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    if name == "sample-export.json":  # from the resources' ARNs: the default provider has no region input
        assert (report["region"], report["regionAssumed"]) == ("eu-west-1", False)
    else:  # a preview knows no outputs: the region is assumed, and says so
        assert (report["region"], report["regionAssumed"]) == ("us-east-1", True)
    # The bucket and its Lambda (the only priced types); a preview's deleted Lambda costs nothing.
    priced_types = sorted(r["type"] for r in report["resources"])
    expected = ["aws:s3/bucket:Bucket"] if name == "sample-preview-deletes.json" else ["aws:lambda/function:Function", "aws:s3/bucket:Bucket"]
    assert priced_types == expected
    # eu-west-1 ships no catalogue: every price is "not found", never a silent $0.
    assert all(r["priceNotFound"] is (name == "sample-export.json") for r in report["resources"])
    assert report["totalMonthlyCost"] == "0.00"


def test_a_replaced_resource_in_a_preview_costs_once_and_a_deleted_one_nothing():
    cluster = resource("aws:eks/cluster:Cluster", "cluster")
    gateway = resource("aws:ec2/natGateway:NatGateway", "nat")
    provider = export()["deployment"]["resources"][0]
    # What `pulumi preview --json` writes for a replacement: three steps of one URN.
    preview = {"steps": [
        {"op": "same", "urn": provider["urn"], "newState": provider},
        {"op": "create-replacement", "urn": cluster["urn"], "newState": cluster},
        {"op": "replace", "urn": cluster["urn"], "oldState": cluster, "newState": cluster},
        {"op": "delete-replaced", "urn": cluster["urn"], "oldState": cluster},
        {"op": "delete", "urn": gateway["urn"], "oldState": gateway},
    ]}
    result = estimate(resources_from_document(preview, "preview.json"))
    assert [c.resource.name for c in result.costs] == ["cluster"]
    assert result.total == usd("73.00")


def test_real_stack_plans_are_fully_priced(plan_of, stack):
    usage = load_usage(STACKS_DIR / f"usage.{stack}.yaml", usage_schemas())
    result = estimate(plan_of(stack).resources, usage)
    assert result.catalogue.available
    assert [c.resource.urn for c in result.costs if c.price_not_found] == []
    nat = [c for c in result.costs if c.resource.type == "aws:ec2/natGateway:NatGateway"]
    assert nat and all(c.monthly_cost > usd("32.85") for c in nat)  # hours plus the usage file's traffic
    assert result.total > 0
    # Every dollar lands on a team, an environment and a component: the JupyterHub release
    # (no labels of its own) on the platform team, as its chart values label what it runs.
    groups = result.groups()
    for key in ("Team", "Environment", "Component"):
        assert "(untagged)" not in groups[key], (key, groups[key].get("(untagged)"))
    hub = next(c for c in result.costs if c.resource.type == "kubernetes:helm.sh/v3:Release")
    platform_team = yaml.safe_load((STACKS_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]["mlplatform:platformTeam"]
    assert (group_value(hub.resource, "Team", result.stack_tags), group_value(hub.resource, "Component")) == (platform_team, "notebooks")
    assert groups["Environment"] == {stack: groups["Environment"][stack]}


def test_cost_of_a_stack_plans_it_first(plan_of):
    done = run_mlp("cost", "--stack", "dev", "--usage", "stacks/usage.dev.yaml", "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["region"] == "us-east-1"
    assert {g["value"] for g in report["groups"]["Environment"]} == {"dev"}
    expected = estimate(plan_of("dev").resources, load_usage(STACKS_DIR / "usage.dev.yaml", usage_schemas()))
    assert report["totalMonthlyCost"] == str(expected.total.quantize(Decimal("0.01")))
    assert report["summary"]["priceNotFoundResources"] == 0 and report["usageFile"] == "stacks/usage.dev.yaml"


@pytest.mark.parametrize("content,args,expected", [
    ("{not json", (), "state.json: not valid JSON (line 1, column 2)"),
    ('{"hello": 1}', (), "state.json: neither a stack export"),
    ('{"version": 3, "deployment": {"resources": [{"urn": 1}]}}', (), "state.json: deployment.resources[0].urn"),
    (None, ("--usage", "missing.yaml"), "missing.yaml: no such file"),
    (None, ("--by", ","), "--by: expected one or more tag keys"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, monkeypatch, capsys, content, args, expected):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "state.json").write_text(content if content is not None else json.dumps(export()))
    assert main(["cost", "state.json", *args]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert expected in err


def test_bad_usage_key_exits_2_naming_file_and_key(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "state.json").write_text(json.dumps(export(resource("aws:ec2/natGateway:NatGateway", "nat"))))
    (tmp_path / "usage.yaml").write_text("version: 0.1\nresource_usage:\n  nat:\n    monthly_data_procesed_gb: 10\n")
    assert main(["cost", "state.json", "--usage", "usage.yaml"]) == 2
    assert capsys.readouterr().err.strip() == "mlp cost: usage.yaml: resource_usage.nat.monthly_data_procesed_gb: not a usage key of aws:ec2/natGateway:NatGateway"


def test_no_state_and_no_stack_is_bad_input():
    done = run_mlp("cost")
    assert done.returncode == 2
    assert "either a state file" in done.stderr


def test_catalogue_region_is_the_documents(tmp_path):
    result = priced(export(resource("aws:eks/cluster:Cluster", "c"), region="us-west-2"))
    assert result.region == "us-west-2" and result.catalogue.region == "us-west-2"
    assert load_catalogue("us-west-2").price("eks", "clusterHour") == usd("0.10")
