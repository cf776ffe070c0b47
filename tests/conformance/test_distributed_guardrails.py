"""The distributed-compute admission policy, as the plans declare it, evaluated on example objects the
way the API server evaluates it: what it must admit, what it must refuse and with which message,
which requests it leaves alone, and which namespaces it binds to."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from mlp import PROJECT_ROOT
from tests.conformance import admission, crd, render
from tests.conformance.render import chart_versions
from tests.conftest import STACKS, planned
from tests.test_kubernetes_schema import _manifest

POLICY_TYPE = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
BINDING_TYPE = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"
NAMESPACE_TYPE = "kubernetes:core/v1:Namespace"
EXAMPLES = PROJECT_ROOT / "docs" / "examples"
KUBERAY = "system:serviceaccount:kuberay-system:kuberay-operator"
CRONJOB_CONTROLLER = "system:serviceaccount:kube-system:cronjob-controller"


def declared(stack: str, type_token: str) -> list[dict]:
    return [_manifest(r.inputs) for r in planned(stack).resources if r.type == type_token]


def policy(stack: str) -> dict:
    (found,) = declared(stack, POLICY_TYPE)
    return found["spec"]


def namespace(stack: str, name: str) -> dict:
    (found,) = [obj for obj in declared(stack, NAMESPACE_TYPE) if obj["metadata"]["name"] == name]
    return found


def notebook_user(team: str) -> str:
    return f"system:serviceaccount:notebooks:notebook-{team}"


def stored(stack: str, obj: dict) -> dict:
    """The object as the API server holds it when the policy runs: CRD defaults applied."""
    if obj["apiVersion"] == "batch/v1":
        return obj
    definition, _ = crd.crd_for(obj["apiVersion"], obj["kind"], chart_versions(stack))
    schema = definition.schema(obj["apiVersion"].rpartition("/")[2])
    body = {key: value for key, value in obj.items() if key != "metadata"}
    return {**crd.with_defaults(body, schema), "metadata": obj["metadata"]}


def refusals(stack: str, obj: dict, username: str | None = None) -> list[str] | None:
    team = obj["metadata"]["namespace"]
    request = admission.Request(stored(stack, obj), username or notebook_user(team), namespace(stack, team))
    return admission.refusals(policy(stack), request)


def example(name: str) -> dict:
    return yaml.safe_load((EXAMPLES / name).read_text())


def changed(obj: dict, change: Callable[[dict], Any]) -> dict:
    result = copy.deepcopy(obj)
    change(result)
    return result


RAY_JOB = example("ray-tune-search.yaml")  # dev, forecasting
RAY_CLUSTER = {
    "apiVersion": "ray.io/v1",
    "kind": "RayCluster",
    "metadata": {"name": "explore", "namespace": "forecasting", "labels": {"kueue.x-k8s.io/queue-name": "team-queue",
                                                                            "kueue.x-k8s.io/priority-class": "interactive"},
                 "annotations": {"kueue.x-k8s.io/elastic-job": "true"}},
    "spec": {
        "rayVersion": "2.49.0",
        "enableInTreeAutoscaling": True,
        "autoscalerOptions": {"idleTimeoutSeconds": 300},
        "headGroupSpec": copy.deepcopy(RAY_JOB["spec"]["rayClusterSpec"]["headGroupSpec"]),
        "workerGroupSpecs": [{**copy.deepcopy(RAY_JOB["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]), "minReplicas": 0, "replicas": 0}],
    },
}
RAY_CLUSTER["spec"]["headGroupSpec"]["template"]["spec"].pop("serviceAccountName")  # the autoscaler's, from KubeRay
JOB = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "backfill", "namespace": "forecasting", "labels": {"kueue.x-k8s.io/queue-name": "team-queue"}},
    "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "backfill", "image": "busybox"}]}}},
}
SPARK_APPLICATION = example("spark-lake-job.yaml")  # staging, forecasting


def head_template(obj: dict) -> dict:
    spec = obj["spec"].get("rayClusterSpec", obj["spec"])
    return spec["headGroupSpec"]["template"]


def worker_labels(obj: dict) -> dict:
    spec = obj["spec"].get("rayClusterSpec", obj["spec"])
    return spec["workerGroupSpecs"][0]["template"]["metadata"]["labels"]


@pytest.mark.parametrize("stack, obj", [("dev", RAY_JOB), ("dev", RAY_CLUSTER), ("dev", JOB), ("staging", SPARK_APPLICATION)],
                         ids=["RayJob", "RayCluster", "Job", "SparkApplication"])
def test_work_that_follows_the_rules_is_admitted(stack, obj):
    assert refusals(stack, obj) == []


REFUSED = [
    # (id, stack, object, change, the message the API server answers with)
    ("no-queue-label", "dev", RAY_JOB, lambda o: o["metadata"]["labels"].pop("kueue.x-k8s.io/queue-name"), "queued by Kueue"),
    ("another-queue", "dev", RAY_JOB, lambda o: o["metadata"]["labels"].__setitem__("kueue.x-k8s.io/queue-name", "vision-queue"),
     "set the label kueue.x-k8s.io/queue-name: team-queue"),
    ("no-labels-at-all", "dev", JOB, lambda o: o["metadata"].pop("labels"), "queued by Kueue"),
    ("job-without-queue", "dev", JOB, lambda o: o["metadata"]["labels"].clear(), "queued by Kueue"),
    ("keeps-its-cluster", "dev", RAY_JOB, lambda o: o["spec"].__setitem__("shutdownAfterJobFinishes", False), "shutdownAfterJobFinishes: true"),
    ("shutdown-unset", "dev", RAY_JOB, lambda o: o["spec"].pop("shutdownAfterJobFinishes"), "shutdownAfterJobFinishes: true"),
    ("lingers-too-long", "dev", RAY_JOB, lambda o: o["spec"].__setitem__("ttlSecondsAfterFinished", 3600), "linger at most 600s"),
    ("no-autoscaling", "dev", RAY_CLUSTER, lambda o: o["spec"].pop("enableInTreeAutoscaling"), "must remove idle workers"),
    ("no-idle-timeout", "dev", RAY_CLUSTER, lambda o: o["spec"].pop("autoscalerOptions"), "idleTimeoutSeconds <= 600"),
    ("idle-too-long", "dev", RAY_CLUSTER, lambda o: o["spec"]["autoscalerOptions"].__setitem__("idleTimeoutSeconds", 3600), "idleTimeoutSeconds <= 600"),
    ("workers-stay", "dev", RAY_CLUSTER, lambda o: o["spec"]["workerGroupSpecs"][0].__setitem__("minReplicas", 1), "minReplicas: 0"),
    ("not-elastic", "dev", RAY_CLUSTER, lambda o: o["metadata"].pop("annotations"), "kueue.x-k8s.io/elastic-job"),
    ("worker-not-billed", "dev", RAY_JOB, lambda o: worker_labels(o).pop("mlplatform.io/team"), "team's cost labels"),
    ("billed-to-another-team", "dev", RAY_JOB, lambda o: worker_labels(o).__setitem__("mlplatform.io/team", "vision"), "team's cost labels"),
    ("billed-to-another-environment", "dev", RAY_CLUSTER, lambda o: worker_labels(o).__setitem__("mlplatform.io/environment", "prod"),
     "team's cost labels"),
    ("billed-as-notebooks", "dev", RAY_JOB, lambda o: head_template(o)["metadata"]["labels"].__setitem__("mlplatform.io/component", "notebooks"),
     "team's cost labels"),
    ("head-without-labels", "dev", RAY_JOB, lambda o: head_template(o).pop("metadata"), "team's cost labels"),
    ("head-disruptable", "dev", RAY_JOB, lambda o: head_template(o)["metadata"].pop("annotations"), "karpenter.sh/do-not-disrupt"),
    ("head-annotated-false", "dev", RAY_CLUSTER, lambda o: head_template(o)["metadata"]["annotations"].__setitem__("karpenter.sh/do-not-disrupt", "false"),
     "karpenter.sh/do-not-disrupt"),
    ("spark-without-queue", "staging", SPARK_APPLICATION, lambda o: o["metadata"].pop("labels"), "queued by Kueue"),
    ("spark-executor-not-billed", "staging", SPARK_APPLICATION, lambda o: o["spec"]["executor"].pop("labels"), "Spark driver and executor labels"),
    ("spark-driver-other-cost-center", "staging", SPARK_APPLICATION,
     lambda o: o["spec"]["driver"]["labels"].__setitem__("mlplatform.io/cost-center", "CC-0000"), "Spark driver and executor labels"),
]


@pytest.mark.parametrize("stack, obj, change, expected", [pytest.param(s, o, c, x, id=i) for i, s, o, c, x in REFUSED])
def test_work_that_breaks_a_rule_is_refused_with_its_message(stack, obj, change, expected):
    refused = refusals(stack, changed(obj, change))
    assert refused and any(expected in message for message in refused), f"expected {expected!r} among {refused}"


def test_the_ttl_the_crd_defaults_is_within_every_bound():
    # The API server defaults spec.ttlSecondsAfterFinished to 0 before the policy sees the RayJob.
    assert refusals("dev", changed(RAY_JOB, lambda o: o["spec"].pop("ttlSecondsAfterFinished"))) == []


def test_bounds_come_from_each_stacks_config():
    lingering = changed(RAY_JOB, lambda o: o["spec"].__setitem__("ttlSecondsAfterFinished", 1800))
    assert refusals("dev", lingering)
    prod = changed(lingering, lambda o: [labels.__setitem__(key, value) for labels in (head_template(o)["metadata"]["labels"], worker_labels(o))
                                         for key, value in (("mlplatform.io/environment", "prod"), ("mlplatform.io/cost-center", "CC-4210-FORECAST"))])
    assert refusals("prod", prod) == []


@pytest.mark.parametrize("obj, username", [
    (changed(RAY_CLUSTER, lambda o: (o["metadata"].clear(), o["metadata"].update(name="tune-raycluster-x", namespace="forecasting"))), KUBERAY),
    (changed(JOB, lambda o: o["metadata"]["labels"].clear()), KUBERAY),
], ids=["rayjob-cluster-by-kuberay", "submitter-job-by-kuberay"])
def test_what_the_operators_create_for_checked_parents_is_left_alone(obj, username):
    assert refusals("dev", obj, username) is None


def test_a_scheduled_job_that_skips_the_queue_is_refused():
    """The CronJob controller is not exempt: a CronJob in a team namespace must queue its runs."""
    assert any("queued by Kueue" in message for message in refusals("dev", changed(JOB, lambda o: o["metadata"]["labels"].pop(
        "kueue.x-k8s.io/queue-name")), CRONJOB_CONTROLLER))


@pytest.mark.parametrize("stack", STACKS)
def test_every_declared_cronjob_in_a_team_namespace_creates_jobs_the_policy_admits(stack):
    (binding,) = declared(stack, BINDING_TYPE)
    selector = binding["spec"]["matchResources"]["namespaceSelector"]
    team_namespaces = {obj["metadata"]["name"] for obj in declared(stack, NAMESPACE_TYPE)
                       if not render.selector_mismatches(selector, obj["metadata"].get("labels") or {})}
    cron_jobs = [c for c in declared(stack, "kubernetes:batch/v1:CronJob") if c["metadata"]["namespace"] in team_namespaces]
    assert cron_jobs, "the stacks schedule batch scoring in team namespaces"
    for cron_job in cron_jobs:
        template = cron_job["spec"]["jobTemplate"]
        # What the CronJob controller creates: the template's metadata and spec, in the CronJob's namespace.
        job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {**template["metadata"], "name": f"{cron_job['metadata']['name']}-29000000",
                                                                     "namespace": cron_job["metadata"]["namespace"]}, "spec": template["spec"]}
        assert refusals(stack, job, CRONJOB_CONTROLLER) == [], cron_job["metadata"]["name"]


@pytest.mark.parametrize("stack", STACKS)
def test_the_policy_applies_in_every_team_namespace_and_nowhere_else(stack):
    (binding,) = declared(stack, BINDING_TYPE)
    selector = binding["spec"]["matchResources"]["namespaceSelector"]
    teams = set(planned(stack).config.team_names)
    for obj in declared(stack, NAMESPACE_TYPE):
        name, labels = obj["metadata"]["name"], obj["metadata"].get("labels") or {}
        assert (not render.selector_mismatches(selector, labels)) == (name in teams), f"{stack}: namespace {name}"
    assert binding["spec"]["validationActions"] == ["Deny"]
    assert binding["spec"]["policyName"] == declared(stack, POLICY_TYPE)[0]["metadata"]["name"]


@pytest.mark.parametrize("stack", STACKS)
def test_spark_applications_are_checked_where_the_spark_operator_runs(stack):
    groups = {group for rule in policy(stack)["matchConstraints"]["resourceRules"] for group in rule["apiGroups"]}
    assert {"ray.io", "batch"} <= groups
    assert ("sparkoperator.k8s.io" in groups) == planned(stack).config.distributed.spark.enabled


@pytest.mark.parametrize("stack", STACKS)
def test_every_expression_compiles_and_fails_closed(stack):
    spec = policy(stack)
    assert spec["failurePolicy"] == "Fail"
    expressions = [item["expression"] for key in ("matchConditions", "variables", "validations") for item in spec[key]]
    problems = [f"{expression}: {problem}" for expression in expressions if (problem := admission.compiles(expression))]
    assert not problems, "\n".join(problems)


# The objects the component declares around the policy, checked as the API server checks them.
SCHEMA_CHECKED = ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "Role", "RoleBinding", "NetworkPolicy", "ServiceAccount",
                  "Namespace", "CustomResourceDefinition")


@pytest.mark.parametrize("stack", STACKS)
def test_declared_objects_pass_strict_schema_validation(stack):
    version = planned(stack).config.cluster.kubernetes_version
    failures = []
    for resource in planned(stack).resources:
        obj = _manifest(resource.inputs)
        if "mlplatform:distributed:" not in resource.urn or obj.get("kind") not in SCHEMA_CHECKED:
            continue
        problems = render.schema_problems(obj, version, {})
        failures += [f"{resource.name}: {problem}" for problem in (["no schema in kubernetes-validate"] if problems is None else problems)]
    assert not failures, "\n".join(failures)


def test_examples_directory_holds_what_the_readme_lists():
    readme = (EXAMPLES / "README.md").read_text()
    assert sorted(path.name for path in Path(EXAMPLES).glob("*.yaml")) == sorted(
        name for name in ("ray-tune-search.yaml", "ray-train-multi-gpu.yaml", "spark-lake-job.yaml") if f"({name})" in readme)


@pytest.mark.parametrize("stack", STACKS)
def test_the_operators_left_alone_are_the_service_accounts_their_charts_render(stack):
    (condition,) = policy(stack)["matchConditions"]
    exempt = set(re.findall(r"'(system:serviceaccount:[^']+)'", condition["expression"]))
    rendered = {f"system:serviceaccount:{obj['metadata']['namespace']}:{obj['metadata']['name']}"
                for release in render.releases(stack) if release.chart_name in ("kuberay-operator", "kueue", "spark-operator")
                for obj in render.objects(stack, release.name) if obj["kind"] == "ServiceAccount"}
    assert exempt <= rendered, exempt - rendered
    assert {KUBERAY, "system:serviceaccount:kueue-system:kueue-controller-manager"} <= exempt
