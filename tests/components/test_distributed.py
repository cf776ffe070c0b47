"""Distributed compute per stack: the operators come from their pinned charts with their CRDs
declared (so upgrades update them), Kueue has a flavor per Karpenter pool and a queue per team
with the configured quotas, teams may submit only in their own namespace, Ray and Spark pods read
the lake as their team, and every child sits under the component."""

from __future__ import annotations

import functools

import pytest
import yaml

from components.config import SYSTEM_POOL_NAME, DistributedConfig
from components.distributed import operators, queues
from components.nodepools import POOL_LABEL
from mlp import upstream
from tests.conftest import STACKS, planned
from tests.test_kubernetes_schema import _manifest

RELEASE = "kubernetes:helm.sh/v3:Release"
CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
KUEUE = "kubernetes:kueue.x-k8s.io/v1beta2:"
POD_IDENTITY = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
COMPONENT_TOKEN = "mlplatform:distributed:DistributedCompute"


def settings(stack: str) -> DistributedConfig:
    return planned(stack).config.distributed


def ours(stack: str) -> list:
    return [r for r in planned(stack).run.resources if COMPONENT_TOKEN in r.urn or r.type == COMPONENT_TOKEN]


@functools.lru_cache(maxsize=None)
def of_type(stack: str, type_token: str) -> list[dict]:
    """The component's objects of a type as the provider receives them (once per session: CRDs are large)."""
    return [_manifest(r.inputs) for r in ours(stack) if r.type == type_token]


def releases(stack: str) -> dict[str, dict]:
    return {obj["name"]: obj for obj in of_type(stack, RELEASE)}


# ---- operators and their CRDs ----------------------------------------------------------------------


def test_every_stack_declares_ray_and_queues_and_spark_where_enabled(stack):
    names = set(releases(stack))
    assert {"kuberay-operator", "kueue"} <= names
    assert ("spark-operator" in names) == settings(stack).spark.enabled
    assert {planned(s).config.distributed.spark.enabled for s in STACKS} == {True, False}


def test_releases_use_the_pinned_charts_and_stay_on_the_system_nodes(stack):
    charts = settings(stack).charts
    by_name = releases(stack)
    expected = {
        "kuberay-operator": ("kuberay-operator", charts.kuberay_operator, operators.KUBERAY_REPOSITORY, operators.KUBERAY_NAMESPACE),
        "kueue": (operators.KUEUE_CHART, charts.kueue, None, operators.KUEUE_NAMESPACE),
        "spark-operator": ("spark-operator", charts.spark_operator, operators.SPARK_REPOSITORY, operators.SPARK_NAMESPACE),
    }
    system = {POOL_LABEL: SYSTEM_POOL_NAME}
    for name, release in by_name.items():
        chart, version, repository, namespace = expected[name]
        assert (release["chart"], release["version"], (release.get("repositoryOpts") or {}).get("repo"), release["namespace"]) == (chart, version, repository, namespace)
        upstream.pinned("chart", chart.rsplit("/", 1)[-1], version)
        assert release["atomic"] is True
    assert by_name["kuberay-operator"]["values"]["nodeSelector"] == system
    assert by_name["kueue"]["values"]["controllerManager"]["nodeSelector"] == system
    if "spark-operator" in by_name:
        spark = by_name["spark-operator"]["values"]
        assert spark["controller"]["nodeSelector"] == spark["webhook"]["nodeSelector"] == system


def test_helm_never_owns_the_ray_and_spark_crds_the_platform_declares_them(stack):
    by_name = releases(stack)
    declared = {obj["metadata"]["name"]: obj for obj in of_type(stack, CRD)}
    for release, chart, version in (("kuberay-operator", "kuberay-operator", settings(stack).charts.kuberay_operator),
                                    ("spark-operator", "spark-operator", settings(stack).charts.spark_operator)):
        if release not in by_name:
            assert not any(name.endswith(".sparkoperator.k8s.io") for name in declared)
            continue
        assert by_name[release]["skipCrds"] is True
        documents = [yaml.load(path.read_text(), Loader=yaml.CSafeLoader) for path in sorted((upstream.chart_dir(chart, version) / "crds").glob("*.yaml"))]
        expected = {document["metadata"]["name"]: document for document in documents}
        assert set(expected) <= set(declared)
        for name, document in expected.items():
            assert declared[name]["spec"] == document["spec"], name
            assert declared[name]["metadata"]["labels"]["mlplatform.io/component"] == "distributed"
    # RayCronJob ships only in the chart's crds/ folder, not in the CRD set of the lock.
    assert "raycronjobs.ray.io" in declared


def test_operators_watch_only_the_team_namespaces(stack):
    teams = list(planned(stack).config.team_names)
    by_name = releases(stack)
    assert by_name["kuberay-operator"]["values"]["watchNamespace"] == teams
    assert by_name["kuberay-operator"]["values"]["singleNamespaceInstall"] is True
    manager = yaml.safe_load(by_name["kueue"]["values"]["managerConfig"]["controllerManagerConfigYaml"])
    assert manager["managedJobsNamespaceSelector"]["matchExpressions"] == [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": teams}]
    assert manager["manageJobsWithoutQueueName"] is False
    frameworks = manager["integrations"]["frameworks"]
    assert {"batch/job", "ray.io/rayjob", "ray.io/raycluster"} <= set(frameworks)
    assert ("sparkoperator.k8s.io/sparkapplication" in frameworks) == settings(stack).spark.enabled
    if "spark-operator" in by_name:
        assert by_name["spark-operator"]["values"]["spark"]["jobNamespaces"] == teams


def test_queued_ray_clusters_may_autoscale_as_elastic_jobs(stack):
    gates = releases(stack)["kueue"]["values"]["controllerManager"]["featureGates"]
    assert {"name": operators.ELASTIC_JOBS_GATE, "enabled": True} in gates


def test_kueue_replicas_and_disruption_budget_follow_config(stack):
    manager = releases(stack)["kueue"]["values"]["controllerManager"]
    assert manager["replicas"] == settings(stack).controller_replicas
    assert manager["podDisruptionBudget"]["enabled"] == (settings(stack).controller_replicas > 1)


# ---- Kueue: flavors, queues, priorities ------------------------------------------------------------


def test_a_flavor_per_karpenter_pool_selects_its_nodes_and_gpu_flavors_admit_only_tolerating_pods(stack):
    flavors = {obj["metadata"]["name"]: obj["spec"] for obj in of_type(stack, KUEUE + "ResourceFlavor")}
    pools = planned(stack).config.cluster.node_pools
    assert set(flavors) == {pool.name for pool in pools}
    for pool in pools:
        assert flavors[pool.name]["nodeLabels"] == {"karpenter.sh/nodepool": pool.name}
        if pool.gpu:
            assert flavors[pool.name]["nodeTaints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]
            # Tolerations on the flavor would let Kueue put CPU-only pods on GPU nodes.
            assert "tolerations" not in flavors[pool.name]
        else:
            assert "nodeTaints" not in flavors[pool.name]


def test_one_cluster_queue_per_team_in_one_cohort_with_the_configured_quotas(stack):
    config = planned(stack).config
    cluster_queues = {obj["metadata"]["name"]: obj for obj in of_type(stack, KUEUE + "ClusterQueue")}
    assert set(cluster_queues) == set(config.team_names)
    for team, obj in cluster_queues.items():
        spec = obj["spec"]
        queue = config.distributed.team_queue(team)
        assert spec["cohortName"] == queues.COHORT
        assert spec["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": team}}
        assert obj["metadata"]["labels"]["mlplatform.io/team"] == team
        (group,) = spec["resourceGroups"]
        assert group["coveredResources"] == ["cpu", "memory", "nvidia.com/gpu"]
        # CPU pools first: work without GPUs tries them before anything else.
        assert [f["name"] for f in group["flavors"]] == [p.name for p in config.cluster.node_pools if not p.gpu] + list(config.cluster.gpu_pool_names)
        for flavor in group["flavors"]:
            quota = queue.quota(flavor["name"])
            resources = {r["name"]: (r["nominalQuota"], r["borrowingLimit"]) for r in flavor["resources"]}
            assert resources == {
                "cpu": (str(quota.cpu), str(quota.cpu * queue.borrowing_limit_percent // 100)),
                "memory": (f"{quota.memory_gi}Gi", f"{quota.memory_gi * queue.borrowing_limit_percent // 100}Gi"),
                "nvidia.com/gpu": (str(quota.gpus), str(quota.gpus * queue.borrowing_limit_percent // 100)),
            }
        assert spec["preemption"] == {"reclaimWithinCohort": "Any", "withinClusterQueue": "LowerPriority",
                                      "borrowWithinCohort": {"policy": "LowerPriority", "maxPriorityThreshold": 100}}


def test_each_team_namespace_has_a_local_queue_to_its_own_cluster_queue(stack):
    config = planned(stack).config
    local = {obj["metadata"]["namespace"]: obj for obj in of_type(stack, KUEUE + "LocalQueue")}
    assert set(local) == set(config.team_names)
    for team, obj in local.items():
        assert obj["metadata"]["name"] == queues.LOCAL_QUEUE
        assert obj["spec"] == {"clusterQueue": team}


def test_interactive_work_outranks_batch_work(stack):
    classes = {obj["metadata"]["name"]: obj["value"] for obj in of_type(stack, KUEUE + "WorkloadPriorityClass")}
    assert classes["interactive"] > classes["batch"] == queues.BATCH_PRIORITY


def test_overridden_quotas_reach_the_queue():
    # dev gives vision two GPUs where other teams have one.
    queues_by_team = {obj["metadata"]["name"]: obj for obj in of_type("dev", KUEUE + "ClusterQueue")}
    gpu = {team: next(f for f in q["spec"]["resourceGroups"][0]["flavors"] if f["name"] == "gpu") for team, q in queues_by_team.items()}
    nominal = {team: next(r["nominalQuota"] for r in f["resources"] if r["name"] == "nvidia.com/gpu") for team, f in gpu.items()}
    assert nominal == {"forecasting": "1", "vision": "2"}


# ---- access -------------------------------------------------------------------------------------------


def test_teams_submit_ray_work_in_their_own_namespace_only(stack):
    teams = planned(stack).config.team_names
    roles = {obj["metadata"]["namespace"]: obj for obj in of_type(stack, "kubernetes:rbac.authorization.k8s.io/v1:Role")}
    bindings = {obj["metadata"]["namespace"]: obj for obj in of_type(stack, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")}
    assert set(roles) == set(bindings) == set(teams)
    assert not of_type(stack, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")
    for team in teams:
        creatable = {(group, resource) for rule in roles[team]["rules"] if "create" in rule["verbs"]
                     for group in rule["apiGroups"] for resource in rule["resources"]}
        expected = {("ray.io", "rayjobs"), ("ray.io", "rayclusters")}
        if settings(stack).spark.enabled:
            expected.add(("sparkoperator.k8s.io", "sparkapplications"))
        assert creatable == expected
        assert not any("*" in rule["verbs"] or "*" in rule["resources"] for rule in roles[team]["rules"])
        assert bindings[team]["subjects"] == [
            {"kind": "ServiceAccount", "name": f"notebook-{team}", "namespace": "notebooks"},
            {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": f"system:serviceaccounts:{team}"},
        ]


def test_notebook_servers_may_reach_the_api_server_and_nothing_more(stack):
    (policy,) = of_type(stack, "kubernetes:networking.k8s.io/v1:NetworkPolicy")
    assert policy["metadata"]["namespace"] == "notebooks"
    assert policy["spec"] == {
        "podSelector": {"matchLabels": {"component": "singleuser-server"}},
        "policyTypes": ["Egress"],
        "egress": [{"to": [{"ipBlock": {"cidr": str(planned(stack).config.network.vpc_cidr)}}], "ports": [{"port": 443, "protocol": "TCP"}]}],
    }


def test_ray_and_spark_pods_read_the_lake_as_their_team(stack):
    config = planned(stack).config
    roles = {r.name: r for r in planned(stack).run.by_type("aws:iam/role:Role")}
    associations = [r for r in ours(stack) if r.type == POD_IDENTITY]
    by_account = {(a.inputs["namespace"], a.inputs["serviceAccount"]): a for a in associations}
    accounts = ["ray"] + (["spark"] if config.distributed.spark.enabled else [])
    assert set(by_account) == {(team, account) for team in config.team_names for account in accounts}
    for (team, _), association in by_account.items():
        role_name = f"{config.name_prefix}-{team}-data"
        assert any(role.inputs.get("name") == role_name and association.inputs["roleArn"] == role.outputs.get("arn") for role in roles.values())
        assert association.inputs["tags"] == {"Team": team, "Component": "distributed", **({"CostCenter": config.team(team).cost_center}
                                                                                           if config.team(team).cost_center else {})}
    ray_accounts = [obj for obj in of_type(stack, "kubernetes:core/v1:ServiceAccount") if obj["metadata"]["name"] == "ray"]
    assert {obj["metadata"]["namespace"] for obj in ray_accounts} == set(config.team_names)
    assert all(obj["automountServiceAccountToken"] is False for obj in ray_accounts)


# ---- structure ----------------------------------------------------------------------------------------


def test_every_child_is_parented_under_the_component_with_a_distributed_type_token(stack):
    resources = ours(stack)
    (component,) = [r for r in resources if r.type == COMPONENT_TOKEN]
    by_urn = {r.urn: r for r in planned(stack).run.resources}
    for resource in resources:
        if resource is component:
            continue
        chain, parent = [], resource.parent
        while parent and parent != component.urn:
            chain.append(by_urn[parent].type)
            parent = by_urn[parent].parent
        assert parent == component.urn, f"{resource.urn} is not under the component"
        assert all(t.startswith("mlplatform:distributed:") for t in chain), chain
    assert {r.type for r in resources if not r.custom} <= {COMPONENT_TOKEN, "mlplatform:distributed:RayOperator",
                                                           "mlplatform:distributed:TeamQueues", "mlplatform:distributed:SparkOperator"}


def test_a_stack_without_the_section_declares_none_of_it(plan_edited):
    plan = plan_edited("dev", lambda config: config.pop("mlplatform:distributed"))
    assert not [r for r in plan.run.resources if "mlplatform:distributed:" in r.urn]
    assert not plan.run.by_type(RELEASE) or all(r.inputs["chart"] not in ("kuberay-operator", operators.KUEUE_CHART) for r in plan.run.by_type(RELEASE))


@pytest.mark.parametrize("stack", STACKS)
def test_the_operator_namespaces_carry_pod_security_and_cost_labels(stack):
    namespaces = {obj["metadata"]["name"]: obj["metadata"]["labels"] for obj in of_type(stack, "kubernetes:core/v1:Namespace")}
    expected = {operators.KUBERAY_NAMESPACE, operators.KUEUE_NAMESPACE} | ({operators.SPARK_NAMESPACE} if settings(stack).spark.enabled else set())
    assert set(namespaces) == expected
    for labels in namespaces.values():
        assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
        assert labels["mlplatform.io/component"] == "distributed"
