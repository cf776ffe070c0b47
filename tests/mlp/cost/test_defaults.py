"""Defaults as AWS, the providers and the charts apply them, each with where it is written: what
the estimator assumes when a resource leaves an input out."""

from __future__ import annotations

from datetime import date

from tests.mlp.cost.documents import cost_of, export, gpu_pool, priced, resource, usd


def test_create_volume_without_a_type_makes_gp2():
    # EC2 CreateVolume, VolumeType: "Default: gp2".
    assert cost_of(export(resource("aws:ebs/volume:Volume", "v", {"size": 10})), "v").components[0].name == "Volume: storage (gp2)"


def test_managed_node_group_defaults():
    # EKS CreateNodegroup: t3.medium when neither instanceTypes nor a launch template gives a type;
    # diskSize "The default disk size is 20 GiB for Linux"; EKS-made launch templates give it gp2
    # (aws/containers-roadmap#1417); capacityType ON_DEMAND.
    group = cost_of(export(resource("aws:eks/nodeGroup:NodeGroup", "g", {"scalingConfig": {"desiredSize": 1, "minSize": 1, "maxSize": 1}})), "g")
    assert [c.name for c in group.components] == ["Instance usage (Linux, on-demand, t3.medium)", "Node disk: storage (gp2)"]
    assert group.monthly_cost == 730 * usd("0.0416") + 20 * usd("0.10")


def test_karpenter_node_disks_default_to_20gi_gp3_and_an_unconstrained_capacity_type_allows_spot(tmp_path):
    # karpenter-provider-aws amifamily.DefaultEBS: 20Gi gp3. NodePools docs: "If a requirement is
    # not defined for a well known label, any value available to the cloud provider may be
    # chosen" and "Karpenter prioritizes Spot offerings if the NodePool allows Spot".
    pool = gpu_pool({"nvidia.com/gpu": 1}, families=("g5",))
    pool["inputs"]["spec"]["template"]["spec"]["requirements"] = [r for r in pool["inputs"]["spec"]["template"]["spec"]["requirements"]
                                                                   if r["key"] != "karpenter.sh/capacity-type"]
    pool["inputs"]["spec"]["template"]["spec"]["nodeClassRef"]["name"] = "missing"
    cost = cost_of(export(pool), "gpu-pool", {"resource_usage": {"gpu-pool": {"monthly_node_hrs": 730}}}, tmp_path)
    assert cost.components[0].name == "Expected nodes (g5.xlarge, spot)"
    assert cost.components[1].name == "Expected node disks: storage (gp3)" and cost.components[1].monthly_cost == 20 * usd("0.08")


def test_provider_defaults_load_balancer_application_endpoint_gateway_lambda_128_queue_standard(tmp_path):
    # aws.lb.LoadBalancer loadBalancerType "Defaults to application"; CreateVpcEndpoint
    # VpcEndpointType "Default: Gateway"; aws.lambda.Function memorySize "Defaults to 128";
    # SQS CreateQueue makes a standard queue unless FifoQueue.
    document = export(resource("aws:lb/loadBalancer:LoadBalancer", "lb"), resource("aws:ec2/vpcEndpoint:VpcEndpoint", "s3"),
                      resource("aws:lambda/function:Function", "fn"), resource("aws:sqs/queue:Queue", "q"))
    usage = {"resource_usage": {"fn": {"monthly_requests": 1_000_000, "request_duration_ms": 1000}, "q": {"monthly_requests": 1_000_000}}}
    costs = {c.resource.name: c for c in priced(document, usage, tmp_path).costs}
    assert costs["lb"].components[0].name == "Application load balancer"
    assert "s3" not in costs  # a gateway endpoint is free
    assert costs["fn"].components[1].monthly_cost == 1_000_000 * usd("0.125") * usd("0.0000166667")  # 1 s x 128 MB
    assert costs["q"].components[0].name == "Requests (standard)"


def test_eks_support_type_defaults_to_extended():
    # EKS User Guide: "By default, for all new and existing clusters, the upgrade policy is set to EXTENDED".
    cost = priced(export(resource("aws:eks/cluster:Cluster", "c", {"version": "1.33"})), on=date(2026, 11, 29)).costs[0]
    assert cost.monthly_cost == 730 * usd("0.60")


def test_claims_without_a_class_parameter_are_gp3_and_log_groups_standard_class():
    # aws-ebs-csi-driver parameters.md: "type ... gp3*"; CreateLogGroup logGroupClass: STANDARD.
    storage_class = resource("kubernetes:storage.k8s.io/v1:StorageClass", "plain", {"metadata": {"name": "plain"}, "provisioner": "ebs.csi.aws.com"})
    claim = resource("kubernetes:core/v1:PersistentVolumeClaim", "c", {"spec": {"storageClassName": "plain", "resources": {"requests": {"storage": "10Gi"}}}})
    assert cost_of(export(storage_class, claim), "c").components[0].name == "Volume: storage (gp3)"
    assert cost_of(export(resource("aws:cloudwatch/logGroup:LogGroup", "l")), "l").components[0].name == "Data ingested (standard class)"


def test_mlflow_size_small_and_jupyterhub_chart_defaults():
    # CreateMlflowTrackingServer: "The default MLflow Tracking Server configuration size is Small".
    server = cost_of(export(resource("aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer", "m")), "m")
    assert server.components[0].name == "MLflow tracking server (Small)"
    # zero-to-jupyterhub values.yaml: ingress.enabled false, proxy.service.type LoadBalancer,
    # hub.db sqlite-pvc 1Gi, singleuser.storage dynamic 10Gi.
    hub = cost_of(export(resource("kubernetes:helm.sh/v3:Release", "hub", {"chart": "jupyterhub"})), "hub")
    assert [c.name for c in hub.components] == ["Classic load balancer (chart proxy-public service)", "Data processed", "Hub database volume: storage (gp3)",
                                                "Per-user notebook storage: storage (gp3)"]
    assert hub.components[-1].quantity == 0  # no users in the usage file; 10 GB each when there are
