"""The examples in docs/examples/ are work the stack they name would take: each is accepted by the
upstream CRD the stack installs (schema and CEL rules), admitted by the stack's admission policy
when a notebook of its team submits it, billed to that team, allowed to its team's notebooks by
RBAC, and small enough for its team's queue."""

from __future__ import annotations

import re

import pytest
import yaml

from components.tagging import CostTagging
from tests.conformance import crd
from tests.conformance.crd import RULES
from tests.conformance.render import chart_versions
from tests.conformance.test_distributed_guardrails import EXAMPLES, declared, notebook_user, refusals
from tests.conftest import planned
from tests.test_kubernetes_schema import _manifest

# Example file -> the stack it is written for (its namespace names the team).
EXAMPLE_STACKS = {
    "ray-tune-search.yaml": "dev",
    "ray-train-multi-gpu.yaml": "dev",
    "spark-lake-job.yaml": "staging",
}
PARAMS = [pytest.param(name, stack, id=name.removesuffix(".yaml")) for name, stack in EXAMPLE_STACKS.items()]
GPU = "nvidia.com/gpu"
PLURALS = {"RayJob": ("ray.io", "rayjobs"), "RayCluster": ("ray.io", "rayclusters"), "SparkApplication": ("sparkoperator.k8s.io", "sparkapplications")}


def load(name: str) -> dict:
    return yaml.safe_load((EXAMPLES / name).read_text())


def test_every_example_is_checked():
    assert sorted(EXAMPLE_STACKS) == sorted(path.name for path in EXAMPLES.glob("*.yaml"))


@pytest.mark.parametrize("name, stack", PARAMS)
def test_the_upstream_crd_accepts_the_example(name, stack):
    obj = load(name)
    definition, version = crd.crd_for(obj["apiVersion"], obj["kind"], chart_versions(stack))
    errors = [str(error) for error in crd.validate(obj, definition, RULES)]
    assert not errors, f"{name} against {definition.source} {version}:\n" + "\n".join(errors)


@pytest.mark.parametrize("name, stack", PARAMS)
def test_the_admission_policy_admits_the_example_from_a_notebook_of_its_team(name, stack):
    obj = load(name)
    assert refusals(stack, obj, notebook_user(obj["metadata"]["namespace"])) == []


def pod_label_maps(obj: dict) -> list[dict]:
    if obj["kind"] == "SparkApplication":
        return [obj["spec"]["driver"]["labels"], obj["spec"]["executor"]["labels"]]
    spec = obj["spec"].get("rayClusterSpec", obj["spec"])
    return [template["metadata"]["labels"] for template in [spec["headGroupSpec"]["template"], *[g["template"] for g in spec["workerGroupSpecs"]]]]


@pytest.mark.parametrize("name, stack", PARAMS)
def test_the_examples_pods_are_billed_to_its_team(name, stack):
    obj = load(name)
    expected = CostTagging.from_config(planned(stack).config).cost_labels("distributed", obj["metadata"]["namespace"])
    for labels in pod_label_maps(obj):
        assert labels == expected


@pytest.mark.parametrize("name, stack", PARAMS)
def test_the_teams_notebooks_may_submit_the_example(name, stack):
    obj = load(name)
    team = obj["metadata"]["namespace"]
    group, plural = PLURALS[obj["kind"]]
    (role,) = [r for r in declared(stack, "kubernetes:rbac.authorization.k8s.io/v1:Role") if r["metadata"]["namespace"] == team]
    (binding,) = [b for b in declared(stack, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding") if b["metadata"]["namespace"] == team]
    assert any(group in rule["apiGroups"] and plural in rule["resources"] and "create" in rule["verbs"] for rule in role["rules"])
    assert {"kind": "ServiceAccount", "name": f"notebook-{team}", "namespace": "notebooks"} in binding["subjects"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]


# --- the example fits its team's queue ---------------------------------------------------------------

_UNITS = {"": 1, "k": 10**3, "m": 10**-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "M": 10**6, "G": 10**9}


def quantity(value) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(value)).groups()
    return float(number) * _UNITS[unit]


def spark_memory(text: str) -> float:
    """Spark's `2g` plus the default overhead Kubernetes is asked for (10%, at least 384 MiB)."""
    number, unit = re.fullmatch(r"(\d+)([gm])", text).groups()
    memory = int(number) * (2**30 if unit == "g" else 2**20)
    return memory + max(0.1 * memory, 384 * 2**20)


def pod_sets(obj: dict) -> list[tuple[bool, int, dict[str, float]]]:
    """(on a GPU pool, pods, requests of one pod) of each pod set Kueue queues for the example."""
    if obj["kind"] == "SparkApplication":
        driver, executor = obj["spec"]["driver"], obj["spec"]["executor"]
        return [(False, 1, {"cpu": driver["cores"], "memory": spark_memory(driver["memory"]), GPU: 0}),
                (False, executor["instances"], {"cpu": executor["cores"], "memory": spark_memory(executor["memory"]), GPU: 0})]
    spec = obj["spec"]["rayClusterSpec"]
    groups = [(1, spec["headGroupSpec"]["template"])] + [(g["replicas"], g["template"]) for g in spec["workerGroupSpecs"]]
    found = []
    for count, template in groups:
        requests = {resource: sum(quantity(c["resources"]["requests"].get(resource, 0)) for c in template["spec"]["containers"])
                    for resource in ("cpu", "memory", GPU)}
        tolerates = any(t.get("key") == GPU for t in template["spec"].get("tolerations", []))
        found.append((bool(requests[GPU]) and tolerates, count, requests))
    return found


@pytest.mark.parametrize("name, stack", PARAMS)
def test_the_example_fits_its_teams_nominal_quota(name, stack):
    obj = load(name)
    team = obj["metadata"]["namespace"]
    config = planned(stack).config
    queue = config.distributed.team_queue(team)
    pools = {pool.gpu: pool.name for pool in reversed(config.cluster.node_pools)}
    needed: dict[str, dict[str, float]] = {}
    for on_gpu_pool, count, requests in pod_sets(obj):
        totals = needed.setdefault(pools[on_gpu_pool], {"cpu": 0.0, "memory": 0.0, GPU: 0.0})
        for resource, amount in requests.items():
            totals[resource] += count * amount
    for pool, totals in needed.items():
        quota = queue.quota(pool)
        allowed = {"cpu": quota.cpu, "memory": quota.memory_gi * 2**30, GPU: quota.gpus}
        over = {resource: (totals[resource], allowed[resource]) for resource in totals if totals[resource] > allowed[resource]}
        assert not over, f"{name} needs more than team {team}'s nominal quota on pool {pool} in {stack}: {over}"


@pytest.mark.parametrize("name, stack", PARAMS)
def test_the_example_names_its_teams_local_queue(name, stack):
    obj = load(name)
    team = obj["metadata"]["namespace"]
    queues = [q for q in declared(stack, "kubernetes:kueue.x-k8s.io/v1beta2:LocalQueue") if q["metadata"]["namespace"] == team]
    assert [q["metadata"]["name"] for q in queues] == [obj["metadata"]["labels"]["kueue.x-k8s.io/queue-name"]]
    assert queues[0]["spec"]["clusterQueue"] == team
    assert _manifest(queues[0])["metadata"]["labels"]["mlplatform.io/team"] == team
