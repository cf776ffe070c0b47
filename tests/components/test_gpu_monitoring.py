"""The GPU agent's deployment: on every GPU pool's nodes, publishing only its own metrics, with
nothing it does not use: no host network (so no instance metadata, no node role), no API token."""

import argparse
import json

from components.gpu_monitoring import INSTANCE_TYPE_FILE
from mlp import gpu_agent
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
        (container,) = pod["containers"]
        args = dict(zip(container["args"][::2], container["args"][1::2]))
        assert args == {
            "--cluster": plan.config.cluster_name, "--node-pool": pool, "--sample-seconds": str(agent.sample_seconds),
            "--publish-seconds": str(agent.publish_seconds), "--idle-threshold": f"{agent.idle_threshold_percent:g}",
            "--instance-type-file": INSTANCE_TYPE_FILE,
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


def test_agent_holds_no_node_network_and_no_api_token(stack):
    """Host networking put the node role (through instance metadata) one hop from the agent, and a
    mounted token gave it an API identity it never uses; Pod Identity is its only credential."""
    run = planned(stack).run
    (account,) = [a for a in run.by_type("kubernetes:core/v1:ServiceAccount") if a.inputs["metadata"]["name"] == "gpu-agent"]
    assert account.inputs["automountServiceAccountToken"] is False
    for daemon_set in _daemon_sets(stack).values():
        pod = daemon_set.inputs["spec"]["template"]["spec"]
        assert pod["hostNetwork"] is False and "dnsPolicy" not in pod
        assert pod["automountServiceAccountToken"] is False
        assert not any(volume.get("hostPath") for volume in pod.get("volumes", []))
        (container,) = pod["containers"]
        assert container["imagePullPolicy"] == "Always"
    # Nothing calls it; it reaches only DNS, the Pod Identity agent and HTTPS (CloudWatch).
    (policy,) = [p for p in run.by_type("kubernetes:networking.k8s.io/v1:NetworkPolicy") if p.inputs["metadata"]["name"] == "gpu-agent"]
    assert policy.inputs["spec"]["ingress"] == [] and policy.inputs["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert {rule["ports"][0]["port"] for rule in policy.inputs["spec"]["egress"]} == {53, 80, 443}


def _agent_args(**overrides):
    values = dict(cluster="c", node_pool="gpu", instance_type=None, instance_type_file=None, region="us-east-1", endpoint_url=None,
                  sample_seconds=1.0, publish_seconds=1.0, idle_threshold=5.0, windows=1, dry_run=True)
    return argparse.Namespace(**{**values, **overrides})


class _OneGpu:
    def read(self):
        return [gpu_agent.GpuSample(index=0, utilization_percent=0.0, memory_used_bytes=0, memory_total_bytes=1)]

    def close(self):
        pass


def test_the_agent_reads_the_instance_type_from_the_file_the_daemon_set_names(tmp_path, monkeypatch, capsys):
    """The node's SMBIOS product name holds the instance type on Nitro instances: no metadata needed."""
    product_name = tmp_path / "product_name"
    product_name.write_text("g5.xlarge\n")
    monkeypatch.setattr(gpu_agent, "instance_type_from_imds", lambda *a, **k: None)
    monkeypatch.setattr(gpu_agent.time, "sleep", lambda seconds: None)
    assert gpu_agent.run(_agent_args(instance_type_file=str(product_name)), source_factory=_OneGpu) == 0
    published = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    dimensions = [dimension for document in published for datum in document["MetricData"] for dimension in datum["Dimensions"]]
    assert {"Name": "InstanceType", "Value": "g5.xlarge"} in dimensions
    product_name.write_text("Standard PC (Q35 + ICH9, 2009)\n")
    assert gpu_agent.instance_type_from_file(str(product_name)) is None
    assert gpu_agent.instance_type_from_file(str(tmp_path / "missing")) is None
