"""The GPU agent's deployment: on every GPU pool's nodes, publishing only its own metrics."""

import json

from mlp.gpu_agent import NAMESPACE as AGENT_METRIC_NAMESPACE
from tests.conftest import planned


def _daemon_sets(stack):
    return {d.inputs["metadata"]["name"]: d for d in planned(stack).run.by_type("kubernetes:apps/v1:DaemonSet")
            if d.inputs["metadata"]["name"].startswith("gpu-agent-")}


def test_one_agent_daemon_set_per_gpu_pool(stack):
    plan = planned(stack)
    assert set(_daemon_sets(stack)) == {f"gpu-agent-{pool}" for pool in plan.config.cluster.gpu_pool_names}
    assert plan.config.cluster.gpu_pool_names  # every stack has GPU pools, so this is not vacuous


def test_agent_runs_on_its_pool_with_config_settings(stack):
    plan = planned(stack)
    agent = plan.config.cluster.gpu_agent
    gpu_taints = {("nvidia.com/gpu", "NoSchedule")}
    for name, daemon_set in _daemon_sets(stack).items():
        pool = name.removeprefix("gpu-agent-")
        pod = daemon_set.inputs["spec"]["template"]["spec"]
        assert pod["nodeSelector"] == {"karpenter.sh/nodepool": pool}
        assert {(t["key"], t["effect"]) for t in pod["tolerations"]} >= gpu_taints
        assert pod["hostNetwork"] is True and pod["dnsPolicy"] == "ClusterFirstWithHostNet"
        (container,) = pod["containers"]
        args = dict(zip(container["args"][::2], container["args"][1::2]))
        assert args == {
            "--cluster": plan.config.cluster_name, "--node-pool": pool, "--sample-seconds": str(agent.sample_seconds),
            "--publish-seconds": str(agent.publish_seconds), "--idle-threshold": f"{agent.idle_threshold_percent:g}",
        }
        assert "nvidia.com/gpu" not in container["resources"].get("limits", {})  # never takes a GPU from a workload
        assert container["image"].endswith(f"/gpu-agent:{agent.image.tag}")
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert pod["securityContext"]["runAsNonRoot"] is True


def test_agent_may_only_publish_its_own_metrics(stack):
    run = planned(stack).run
    (role,) = [r for r in run.by_type("aws:iam/role:Role") if r.inputs.get("name", "").endswith("-gpu-agent")]
    (policy,) = [p for p in run.by_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.id]
    (statement,) = json.loads(policy.inputs["policy"])["Statement"]
    assert statement["Action"] == "cloudwatch:PutMetricData"
    assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": AGENT_METRIC_NAMESPACE}}
    (association,) = [a for a in run.by_type("aws:eks/podIdentityAssociation:PodIdentityAssociation") if a.inputs["serviceAccount"] == "gpu-agent"]
    assert association.inputs["roleArn"] == role.outputs["arn"] and association.inputs["namespace"] == "kube-system"
