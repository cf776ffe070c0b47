"""Karpenter per stack: GPU pools from zero with the taint and per-env limits, spot only where
allowed, v1 node classes that require IMDSv2 and tag what they launch, interruption handling,
pinned charts, the NVIDIA device plugin on GPU nodes only."""

import json
import re

import pytest

from components.nodepools import GPU_TOLERATION, INTERRUPTION_EVENTS
from components.tagging import REQUIRED_TAG_KEYS
from mlp.plan import compute_pools
from tests.conftest import planned, run_mlp, stack_default_tags, stack_yaml

NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
RELEASE = "kubernetes:helm.sh/v3:Release"

# Karpenter v1 field names (karpenter.sh/v1 NodePool, karpenter.k8s.aws/v1 EC2NodeClass).
NODE_POOL_SPEC_FIELDS = {"template", "disruption", "limits", "weight"}
NODE_POOL_TEMPLATE_SPEC_FIELDS = {"nodeClassRef", "requirements", "taints", "startupTaints", "expireAfter", "terminationGracePeriod"}
DISRUPTION_FIELDS = {"consolidationPolicy", "consolidateAfter", "budgets"}
NODE_CLASS_SPEC_FIELDS = {
    "kubelet", "subnetSelectorTerms", "securityGroupSelectorTerms", "capacityReservationSelectorTerms", "associatePublicIPAddress",
    "amiSelectorTerms", "amiFamily", "userData", "role", "instanceProfile", "tags", "blockDeviceMappings", "instanceStorePolicy",
    "detailedMonitoring", "metadataOptions", "context",
}
NODE_POOL_TEMPLATE_FIELDS = {"metadata", "spec"}
NODE_POOL_TEMPLATE_METADATA_FIELDS = {"labels", "annotations"}
NODE_CLASS_REF_FIELDS = {"group", "kind", "name"}
REQUIREMENT_FIELDS = {"key", "operator", "values", "minValues"}
REQUIREMENT_OPERATORS = {"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"}
TAINT_FIELDS = {"key", "value", "effect", "timeAdded"}
BUDGET_FIELDS = {"nodes", "schedule", "duration", "reasons"}
BLOCK_DEVICE_MAPPING_FIELDS = {"deviceName", "ebs", "rootVolume"}
EBS_FIELDS = {"deleteOnTermination", "encrypted", "iops", "kmsKeyID", "snapshotID", "throughput", "volumeSize", "volumeType"}
METADATA_OPTIONS_FIELDS = {"httpEndpoint", "httpProtocolIPv6", "httpPutResponseHopLimit", "httpTokens"}
SELECTOR_TERM_FIELDS = {"tags", "id", "name"}
# Value formats the v1 CRDs validate (patterns from the karpenter.sh/v1 and karpenter.k8s.aws/v1 schemas).
DURATION_OR_NEVER = re.compile(r"^(([0-9]+(s|m|h))+|Never)$")
BUDGET_NODES = re.compile(r"^((100|[0-9]{1,2})%|[0-9]+)$")
VOLUME_SIZE = re.compile(r"^((?:[1-9][0-9]{0,3}|[1-4][0-9]{4}|[5][0-8][0-9]{3}|59000)Gi)$")
QUANTITY = re.compile(r"^[0-9]+(Ki|Mi|Gi|Ti)?$")


def _resources(stack, type_token):
    return planned(stack).run.by_type(type_token)


def _pools(stack):
    return {p.inputs["metadata"]["name"]: p for p in _resources(stack, NODE_POOL)}


def _classes(stack):
    return {c.inputs["metadata"]["name"]: c for c in _resources(stack, NODE_CLASS)}


def _requirement(pool, key):
    requirements = {r["key"]: r for r in pool.inputs["spec"]["template"]["spec"]["requirements"]}
    return requirements.get(key)


def _release(stack, chart_suffix):
    (release,) = [r for r in _resources(stack, RELEASE) if r.inputs["chart"].endswith(chart_suffix)]
    return release


def test_every_configured_pool_is_declared_with_its_own_node_class(stack):
    spec = planned(stack).config.cluster
    pools, classes = _pools(stack), _classes(stack)
    assert set(pools) == set(classes) == {pool.name for pool in spec.node_pools}
    for name, pool in pools.items():
        assert pool.inputs["apiVersion"] == "karpenter.sh/v1" and pool.inputs["kind"] == "NodePool"
        assert pool.inputs["spec"]["template"]["spec"]["nodeClassRef"] == {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": name}
        assert classes[name].inputs["apiVersion"] == "karpenter.k8s.aws/v1" and classes[name].inputs["kind"] == "EC2NodeClass"


def test_custom_resources_use_karpenter_v1_field_names(stack):
    pools, classes = _resources(stack, NODE_POOL), _resources(stack, NODE_CLASS)
    assert pools and classes
    for pool in pools:
        spec = pool.inputs["spec"]
        assert set(spec) <= NODE_POOL_SPEC_FIELDS
        assert set(spec["template"]) <= NODE_POOL_TEMPLATE_FIELDS
        assert set(spec["template"]["metadata"]) <= NODE_POOL_TEMPLATE_METADATA_FIELDS
        template = spec["template"]["spec"]
        assert set(template) <= NODE_POOL_TEMPLATE_SPEC_FIELDS
        assert set(template["nodeClassRef"]) == NODE_CLASS_REF_FIELDS
        for requirement in template["requirements"]:
            assert set(requirement) <= REQUIREMENT_FIELDS and requirement["operator"] in REQUIREMENT_OPERATORS
            assert requirement["values"] and all(isinstance(value, str) for value in requirement["values"])
        for taint in template.get("taints", []):
            assert set(taint) <= TAINT_FIELDS
        assert DURATION_OR_NEVER.fullmatch(template["expireAfter"])
        assert set(spec["disruption"]) <= DISRUPTION_FIELDS
        # v1beta1 spellings that v1 rejects.
        assert spec["disruption"]["consolidationPolicy"] in ("WhenEmpty", "WhenEmptyOrUnderutilized")
        assert "expireAfter" not in spec["disruption"]
        assert DURATION_OR_NEVER.fullmatch(spec["disruption"]["consolidateAfter"])
        for budget in spec["disruption"]["budgets"]:
            assert set(budget) <= BUDGET_FIELDS and BUDGET_NODES.fullmatch(budget["nodes"])
        assert all(isinstance(value, str) and QUANTITY.fullmatch(value) for value in spec["limits"].values())
    for node_class in classes:
        spec = node_class.inputs["spec"]
        assert set(spec) <= NODE_CLASS_SPEC_FIELDS
        assert "amiFamily" not in spec  # v1 selects the family through the alias
        assert [term["alias"].split("@")[0] for term in spec["amiSelectorTerms"]] == ["al2023"]
        assert all(set(term) <= SELECTOR_TERM_FIELDS for term in spec["subnetSelectorTerms"] + spec["securityGroupSelectorTerms"])
        assert set(spec["metadataOptions"]) <= METADATA_OPTIONS_FIELDS
        for mapping in spec["blockDeviceMappings"]:
            assert set(mapping) <= BLOCK_DEVICE_MAPPING_FIELDS and set(mapping["ebs"]) <= EBS_FIELDS
            assert VOLUME_SIZE.fullmatch(mapping["ebs"]["volumeSize"])
        assert [mapping["rootVolume"] for mapping in spec["blockDeviceMappings"]] == [True]
        assert all(isinstance(value, str) for value in spec["tags"].values())


def test_gpu_pools_scale_from_zero_and_carry_the_taint(stack):
    spec = planned(stack).config.cluster
    assert spec.gpu_pool_names
    pools = _pools(stack)
    for name in spec.gpu_pool_names:
        pool = pools[name].inputs["spec"]
        # A Karpenter NodePool has no floor: without `replicas` it holds no node until a pod asks.
        assert "replicas" not in pool
        assert pool["template"]["spec"]["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]
        assert _requirement(pools[name], "karpenter.k8s.aws/instance-gpu-manufacturer")["values"] == ["nvidia"]
    # GPU capacity never comes from an always-on node group.
    for group in _resources(stack, "aws:eks/nodeGroup:NodeGroup"):
        assert group.inputs["scalingConfig"]["minSize"] >= 1
        assert not any(t[0] in "gp" for t in group.inputs["instanceTypes"])
    for pool in spec.node_pools:
        assert ("taints" in pools[pool.name].inputs["spec"]["template"]["spec"]) is pool.gpu


@pytest.mark.parametrize("stack,gpu_limit", [("dev", 8), ("staging", 16), ("prod", 64)])
def test_gpu_limit_equals_config_per_stack(stack, gpu_limit):
    spec = planned(stack).config.cluster
    (gpu_pool,) = spec.gpu_pool_names
    assert spec.node_pool(gpu_pool).gpu_limit == gpu_limit
    assert _pools(stack)[gpu_pool].inputs["spec"]["limits"]["nvidia.com/gpu"] == str(gpu_limit)
    for pool in spec.node_pools:
        limits = _pools(stack)[pool.name].inputs["spec"]["limits"]
        assert limits["cpu"] == str(pool.cpu_limit) and limits["memory"] == f"{pool.memory_limit_gi}Gi"
        assert ("nvidia.com/gpu" in limits) is pool.gpu


@pytest.mark.parametrize("stack,gpu_capacity", [("dev", ["spot", "on-demand"]), ("staging", ["spot", "on-demand"]), ("prod", ["on-demand"])])
def test_spot_only_where_config_allows_it(stack, gpu_capacity):
    spec = planned(stack).config.cluster
    pools = _pools(stack)
    assert _requirement(pools["gpu"], "karpenter.sh/capacity-type")["values"] == gpu_capacity
    for pool in spec.node_pools:
        assert _requirement(pools[pool.name], "karpenter.sh/capacity-type") == {
            "key": "karpenter.sh/capacity-type", "operator": "In", "values": list(pool.capacity_types)}


@pytest.mark.parametrize("stack,families", [("dev", ["g5", "g6"]), ("staging", ["g5", "g6"]), ("prod", ["g5", "g6", "p4d"])])
def test_gpu_instance_families_follow_config(stack, families):
    assert _requirement(_pools(stack)["gpu"], "karpenter.k8s.aws/instance-family")["values"] == families


def test_cpu_pools_consolidate_when_empty_or_underutilised_and_gpu_pools_when_empty(stack):
    spec = planned(stack).config.cluster
    pools = _pools(stack)
    for pool in spec.node_pools:
        declared = pools[pool.name].inputs["spec"]
        assert declared["disruption"]["consolidationPolicy"] == ("WhenEmpty" if pool.gpu else "WhenEmptyOrUnderutilized")
        assert declared["disruption"]["consolidateAfter"] == pool.consolidate_after
        assert declared["template"]["spec"]["expireAfter"] == pool.expire_after
    cpu_requirements = _requirement(pools["cpu"], "karpenter.k8s.aws/instance-category")
    assert cpu_requirements["values"] == list(spec.node_pool("cpu").instance_categories)


def test_expiring_nodes_wait_for_running_notebooks_but_still_roll(stack):
    # Notebook servers carry karpenter.sh/do-not-disrupt; without a grace period an expiring node
    # would either be held forever (no patches) or, before the fix, consolidated under live work.
    plan = planned(stack)
    max_age = f"{plan.config.notebooks.culling.max_age_hours}h"
    pools = _pools(stack)
    for pool in plan.config.cluster.node_pools:
        assert pool.termination_grace_period == max_age
        assert pools[pool.name].inputs["spec"]["template"]["spec"]["terminationGracePeriod"] == max_age


def test_node_classes_select_discovery_tagged_subnets_and_security_groups(stack):
    cluster_name = planned(stack).config.cluster_name
    for node_class in _resources(stack, NODE_CLASS):
        spec = node_class.inputs["spec"]
        assert spec["subnetSelectorTerms"] == [{"tags": {"karpenter.sh/discovery": cluster_name}}]
        assert spec["securityGroupSelectorTerms"] == [{"tags": {"karpenter.sh/discovery": cluster_name}}]
        assert spec["role"].endswith("-karpenter-node")
        assert spec["amiSelectorTerms"] == [{"alias": planned(stack).config.cluster.ami_alias}]


def test_node_classes_require_imdsv2_and_encrypted_gp3(stack):
    spec = planned(stack).config.cluster
    for name, node_class in _classes(stack).items():
        class_spec = node_class.inputs["spec"]
        assert class_spec["metadataOptions"]["httpTokens"] == "required"
        assert class_spec["metadataOptions"]["httpPutResponseHopLimit"] == 1
        (root,) = class_spec["blockDeviceMappings"]
        assert root["ebs"] == {"volumeSize": f"{spec.node_pool(name).disk_size_gi}Gi", "volumeType": "gp3", "encrypted": True, "deleteOnTermination": True}


def test_node_classes_tag_what_they_launch_with_all_cost_tags(stack):
    expected = {**stack_default_tags(stack), "Team": planned(stack).config.platform_team, "Component": "compute"}
    node_classes = _resources(stack, NODE_CLASS)
    assert node_classes
    for node_class in node_classes:
        tags = node_class.inputs["spec"]["tags"]
        assert {key: tags.get(key) for key in REQUIRED_TAG_KEYS} == {key: expected[key] for key in REQUIRED_TAG_KEYS}
        # Karpenter refuses node classes that set the tags it owns.
        assert not any(key.startswith(("kubernetes.io/cluster/", "karpenter.sh/", "eks:")) for key in tags)


def test_pool_node_labels_stay_out_of_restricted_domains(stack):
    for pool in _resources(stack, NODE_POOL):
        labels = pool.inputs["spec"]["template"]["metadata"]["labels"]
        assert labels["mlplatform.io/pool"] == pool.inputs["metadata"]["name"]
        assert not any("kubernetes.io" in key or key.startswith("karpenter") for key in labels)


def test_interruption_queue_receives_every_warning_karpenter_handles(stack):
    plan = planned(stack)
    (queue,) = _resources(stack, "aws:sqs/queue:Queue")
    assert queue.inputs["messageRetentionSeconds"] == 300 and queue.inputs["sqsManagedSseEnabled"] is True
    rules = {r.inputs["name"]: r for r in _resources(stack, "aws:cloudwatch/eventRule:EventRule")}
    detail_types = {json.loads(r.inputs["eventPattern"])["detail-type"][0] for r in rules.values()}
    assert detail_types == {"EC2 Spot Instance Interruption Warning", "EC2 Instance Rebalance Recommendation",
                            "EC2 Instance State-change Notification", "AWS Health Event"}
    assert len(INTERRUPTION_EVENTS) == 4
    targets = _resources(stack, "aws:cloudwatch/eventTarget:EventTarget")
    assert sorted(t.inputs["rule"] for t in targets) == sorted(rules)
    assert {t.inputs["arn"] for t in targets} == {queue.outputs["arn"]}
    (queue_policy,) = _resources(stack, "aws:sqs/queuePolicy:QueuePolicy")
    statements = json.loads(queue_policy.inputs["policy"])["Statement"]
    # EventBridge delivers only for the platform's own rules in this account (the confused deputy).
    assert statements[0]["Principal"] == {"Service": "events.amazonaws.com"}
    assert statements[0]["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"},
                                          "ArnEquals": {"aws:SourceArn": sorted(r.outputs["arn"] for r in rules.values())}}
    assert _release(stack, "/karpenter").inputs["values"]["settings"] == {
        "clusterName": plan.config.cluster_name,
        "clusterEndpoint": plan.run.by_type("aws:eks/cluster:Cluster")[0].outputs["endpoint"],
        "interruptionQueue": queue.inputs["name"],
    }


def test_karpenter_controller_runs_on_system_nodes_with_pod_identity(stack):
    release = _release(stack, "/karpenter")
    assert release.inputs["namespace"] == "kube-system" and release.inputs["skipCrds"] is True
    assert release.inputs["values"]["nodeSelector"] == {"mlplatform.io/pool": "system"}
    assert release.inputs["values"]["serviceAccount"] == {"create": True, "name": "karpenter"}
    assert {"name": "AWS_REGION", "value": planned(stack).config.region} in release.inputs["values"]["controller"]["env"]
    (association,) = [a for a in _resources(stack, "aws:eks/podIdentityAssociation:PodIdentityAssociation") if a.inputs["serviceAccount"] == "karpenter"]
    assert association.inputs["namespace"] == "kube-system" and association.inputs["roleArn"].endswith("-karpenter-controller")
    (controller_role,) = [r for r in _resources(stack, "aws:iam/role:Role") if r.inputs.get("name", "").endswith("-karpenter-controller")]
    (policy,) = [p for p in _resources(stack, "aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == controller_role.id]
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert statements["AllowPassingInstanceRole"]["Resource"].endswith("role/" + planned(stack).config.name_prefix + "-karpenter-node")
    assert statements["AllowInterruptionQueueActions"]["Resource"] == _resources(stack, "aws:sqs/queue:Queue")[0].outputs["arn"]
    cluster_name = planned(stack).config.cluster_name
    assert statements["AllowScopedDeletion"]["Condition"]["StringEquals"] == {f"aws:ResourceTag/kubernetes.io/cluster/{cluster_name}": "owned"}
    # IAM list actions cannot be scoped to an ARN: a scoped grant would silently deny the listing.
    assert statements["AllowUnscopedInstanceProfileListAction"] == {
        "Sid": "AllowUnscopedInstanceProfileListAction", "Effect": "Allow", "Action": "iam:ListInstanceProfiles", "Resource": "*"}
    assert statements["AllowInstanceProfileReadActions"]["Action"] == "iam:GetInstanceProfile"


def test_charts_are_pinned_to_config_versions(stack):
    charts = planned(stack).config.cluster.charts
    versions = {r.inputs["chart"]: r.inputs["version"] for r in _resources(stack, RELEASE)}
    assert versions["oci://public.ecr.aws/karpenter/karpenter"] == charts.karpenter
    assert versions["oci://public.ecr.aws/karpenter/karpenter-crd"] == charts.karpenter
    assert versions["nvidia-device-plugin"] == charts.nvidia_device_plugin
    assert versions["aws-load-balancer-controller"] == charts.aws_load_balancer_controller
    for release in _resources(stack, RELEASE):
        version = release.inputs.get("version", "")
        assert version and all(part.isdigit() for part in version.split(".")), release.urn


def test_device_plugin_runs_only_on_nvidia_nodes_and_tolerates_the_taint(stack):
    values = _release(stack, "nvidia-device-plugin").inputs["values"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in values["tolerations"]
    (term,) = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert term["matchExpressions"] == [{"key": "karpenter.k8s.aws/instance-gpu-manufacturer", "operator": "In", "values": ["nvidia"]}]


def test_karpenter_has_cpu_and_memory_limits(stack):
    resources = _release(stack, "/karpenter").inputs["values"]["controller"]["resources"]
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}


def test_device_plugin_is_limited_pulls_always_and_keeps_the_charts_restricted_context(stack):
    values = _release(stack, "nvidia-device-plugin").inputs["values"]
    assert set(values["resources"]["requests"]) == set(values["resources"]["limits"]) == {"cpu", "memory"}
    assert values["image"] == {"pullPolicy": "Always"}
    # Setting securityContext replaces the chart's default, so the drop-ALL default must be restated.
    assert values["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
    # The plugin runs as root for the kubelet's folder: a runAsNonRoot pod would never start.
    assert values["podSecurityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
    assert values["mps"] == {"enableHostPID": False}


def test_the_toleration_other_components_use_matches_every_gpu_taint(stack):
    assert GPU_TOLERATION["operator"] == "Equal"
    for name in planned(stack).config.cluster.gpu_pool_names:
        for taint in _pools(stack)[name].inputs["spec"]["template"]["spec"]["taints"]:
            assert {key: GPU_TOLERATION[key] for key in ("key", "value", "effect")} == taint


def test_plan_summarises_each_pool(stack):
    spec = planned(stack).config.cluster
    pools = {pool.name: pool for pool in compute_pools(planned(stack).resources)}
    system = pools[f"{planned(stack).config.name_prefix}-system"]
    group = spec.system_node_group
    assert system.size == f"min {group.min_size} / max {group.max_size} (desired {group.desired_size})"
    assert system.capacity_types == group.capacity_type.lower().replace("_", "-")
    gpu = pools["gpu"]
    assert gpu.capacity_types == ", ".join(spec.node_pool("gpu").capacity_types)
    assert f"nvidia.com/gpu {spec.node_pool('gpu').gpu_limit}" in gpu.size and gpu.size.startswith("min 0")
    assert gpu.instances == "families " + ", ".join(spec.node_pool("gpu").instance_families)
    assert gpu.taints == "nvidia.com/gpu=true:NoSchedule"


def test_plan_prints_the_compute_summary():
    done = run_mlp("plan", "prod")
    assert done.returncode == 0, done.stderr
    assert "Compute of stack prod" in done.stdout
    assert "p4d" in done.stdout, done.stdout


# --- bad pool configuration: exit 2 and one line naming the file and key ----------------------


def _pool(document, index):
    return document["config"]["mlplatform:cluster"]["nodePools"][index]


@pytest.mark.parametrize("edit,expected", [
    (lambda d: _pool(d, 1)["limits"].update(gpus=-1),
     "mlplatform:cluster.nodePools[1].limits.gpus: expected a number >= 0, got -1"),
    (lambda d: _pool(d, 0).update(capacityTypes=["spot", "reserved"]),
     "mlplatform:cluster.nodePools[0].capacityTypes[1]: expected one of on-demand, spot, got 'reserved'"),
    (lambda d: _pool(d, 0).update(instanceFamilies=["m6i", "g5"]),
     "mlplatform:cluster.nodePools[0].instanceFamilies[1]: g5 is a GPU instance; put it in a pool with gpu: true"),
    (lambda d: _pool(d, 1).update(instanceFamilies=["m6i"]),
     "mlplatform:cluster.nodePools[1].instanceFamilies[0]: m6i has no NVIDIA GPU"),
    (lambda d: _pool(d, 0)["limits"].update(gpus=4),
     "mlplatform:cluster.nodePools[0].limits.gpus: only pools with gpu: true have a GPU limit"),
    (lambda d: _pool(d, 1).update(consolidationPolicy="WhenUnderutilized"),
     "mlplatform:cluster.nodePools[1].consolidationPolicy: expected one of WhenEmpty, WhenEmptyOrUnderutilized"),
    (lambda d: _pool(d, 1).update(consolidateAfter="five minutes"),
     "mlplatform:cluster.nodePools[1].consolidateAfter: expected a duration like 30s, 10m or 720h"),
    (lambda d: _pool(d, 1).update(name="cpu"),
     "mlplatform:cluster.nodePools[1].name: duplicate node pool 'cpu'"),
    (lambda d: _pool(d, 0).update(name="system"),
     "mlplatform:cluster.nodePools[0].name: 'system' is the managed system node group's pool label"),
    (lambda d: _pool(d, 0).update(minNodes=1),
     "mlplatform:cluster.nodePools[0].minNodes: unknown key"),
    (lambda d: [_pool(d, 0).pop(key) for key in ("instanceCategories",)],
     "mlplatform:cluster.nodePools[0].instanceFamilies: give instanceCategories, instanceFamilies or instanceTypes"),
])
def test_bad_pool_config_exits_2_with_one_line(write_stack, edit, expected):
    document = stack_yaml("dev")
    edit(document)
    done = run_mlp("plan", "dev", "--config-file", str(write_stack("dev", document)))
    assert done.returncode == 2, done.stdout
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "Pulumi.dev.yaml: " in done.stderr and expected in done.stderr


def test_stack_without_gpu_pool_rejects_team_gpu_quotas(write_stack):
    document = stack_yaml("staging")
    cluster = document["config"]["mlplatform:cluster"]
    cluster["nodePools"] = [pool for pool in cluster["nodePools"] if not pool["gpu"]]
    done = run_mlp("plan", "staging", "--config-file", str(write_stack("staging", document)))
    assert done.returncode == 2
    assert "mlplatform:cluster.teamQuotas.default.gpus: team 'forecasting' has a GPU quota but the cluster has no GPU node pool" in done.stderr
