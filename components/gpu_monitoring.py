"""GPU utilisation agent on every GPU node: the measurement behind idle-GPU cost.

One DaemonSet per GPU NodePool runs `mlp gpu-agent` (images/gpu-agent), which samples NVML and
publishes GPU and idle-GPU counts per window to CloudWatch (`MLPlatform/GPU`); `mlp report`
prices the idle ones. A DaemonSet per pool lets each agent know its pool without reading node
labels through the API. It requests no GPU, so it never takes one from a workload: the NVIDIA
runtime exposes the devices, and NVML needs no network at all.

The agent holds nothing it does not use: it runs in its own network namespace (so instance
metadata, at hop limit 1, and with it the node role stay out of reach), mounts no Kubernetes API
token (it never calls the API server), and publishes with a Pod Identity role that can only put
metrics into its own namespace. It reads the instance type from the node's firmware (SMBIOS
product name, `/sys/devices/virtual/dmi/id/product_name`, which on Nitro instances is the
instance type), since the Downward API exposes no node labels and metadata is out of reach.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.config import GpuAgentConfig
from components.facts import StackFacts
from components.iam import pod_identity_role, policy_document
from components.interfaces import ClusterAccess, ImageSource
from components.nodepools import CONTROLLER_NAMESPACE, GPU_RESOURCE
from components.tagging import CostTagging
from components.workloads import egress_rules, image_pin_annotations

COMPONENT = "compute"
APP = "gpu-agent"
METRIC_NAMESPACE = "MLPlatform/GPU"  # must match mlp.gpu_agent.NAMESPACE, which reports read
INSTANCE_TYPE_FILE = "/sys/devices/virtual/dmi/id/product_name"
AGENT_USER_ID = 65534  # nobody: the product name file is world-readable


def agent_policy() -> str:
    """Publish metrics into the agent's own namespace only."""
    return policy_document([{
        "Sid": "PublishGpuMetrics",
        "Effect": "Allow",
        "Action": "cloudwatch:PutMetricData",
        "Resource": "*",  # PutMetricData has no resource type; the namespace condition scopes it
        "Condition": {"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}},
    }])


class GpuMonitoring(pulumi.ComponentResource):
    def __init__(self, name: str, settings: GpuAgentConfig, facts: StackFacts, tagging: CostTagging, cluster: ClusterAccess,
                 images: ImageSource, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:compute:GpuMonitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        with_k8s = pulumi.ResourceOptions(parent=self, provider=cluster.k8s_provider)
        labels = tagging.k8s_labels(COMPONENT, app=APP)

        self.role, _, _ = pod_identity_role(
            f"{name}-agent",
            role_name=f"{facts.name_prefix}-gpu-agent",
            facts=facts,
            description="GPU agent: publishes GPU utilisation to CloudWatch",
            cluster_name=cluster.cluster_name,
            namespace=CONTROLLER_NAMESPACE,
            service_account=APP,
            policy=agent_policy(),
            tags=tagging.resource_tags(COMPONENT),
            opts=child,
        )
        service_account = k8s.core.v1.ServiceAccount(
            f"{name}-agent",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=APP, namespace=CONTROLLER_NAMESPACE, labels=labels),
            # Pod Identity projects its own token; the agent never calls the Kubernetes API.
            automount_service_account_token=False,
            opts=with_k8s,
        )

        # It only resolves names, fetches its credentials and publishes to CloudWatch; nothing calls it.
        k8s.networking.v1.NetworkPolicy(
            f"{name}-agent",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=APP, namespace=CONTROLLER_NAMESPACE, labels=labels),
            spec={
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": APP}},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [],
                "egress": egress_rules(),
            },
            opts=with_k8s,
        )

        image = images.image_uri(settings.image)
        self.daemon_sets = {
            pool: k8s.apps.v1.DaemonSet(
                f"{name}-agent-{pool}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{APP}-{pool}", namespace=CONTROLLER_NAMESPACE, labels=labels,
                                                    annotations=image_pin_annotations(settings.image) or None),
                spec=self._daemon_set_spec(settings, facts, pool, image, labels),
                opts=pulumi.ResourceOptions(parent=self, provider=cluster.k8s_provider, depends_on=[service_account]),
            )
            for pool in cluster.gpu_pool_names
        }
        self.register_outputs({"roleArn": self.role.arn, "daemonSets": list(self.daemon_sets)})

    @staticmethod
    def _daemon_set_spec(agent: GpuAgentConfig, facts: StackFacts, pool: str, image: pulumi.Input[str], labels: dict) -> k8s.apps.v1.DaemonSetSpecArgs:
        selector = {"app.kubernetes.io/name": APP, "mlplatform.io/node-pool": pool}
        return k8s.apps.v1.DaemonSetSpecArgs(
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
            update_strategy=k8s.apps.v1.DaemonSetUpdateStrategyArgs(type="RollingUpdate"),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels={**labels, **selector}),
                spec=k8s.core.v1.PodSpecArgs(
                    service_account_name=APP,
                    automount_service_account_token=False,
                    host_network=False,
                    node_selector={"karpenter.sh/nodepool": pool},
                    tolerations=[k8s.core.v1.TolerationArgs(key=GPU_RESOURCE, operator="Exists", effect="NoSchedule")],
                    priority_class_name="system-node-critical",
                    security_context=k8s.core.v1.PodSecurityContextArgs(
                        run_as_non_root=True, run_as_user=AGENT_USER_ID, run_as_group=AGENT_USER_ID,
                        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
                    ),
                    containers=[k8s.core.v1.ContainerArgs(
                        name=APP,
                        image=image,
                        image_pull_policy="Always",
                        args=[
                            "--cluster", facts.cluster_name,
                            "--node-pool", pool,
                            "--sample-seconds", str(agent.sample_seconds),
                            "--publish-seconds", str(agent.publish_seconds),
                            "--idle-threshold", f"{agent.idle_threshold_percent:g}",
                            "--instance-type-file", INSTANCE_TYPE_FILE,
                        ],
                        env=[
                            k8s.core.v1.EnvVarArgs(name="AWS_REGION", value=facts.region),
                            # The NVIDIA runtime mounts the driver's NVML without a GPU being requested.
                            k8s.core.v1.EnvVarArgs(name="NVIDIA_VISIBLE_DEVICES", value="all"),
                            k8s.core.v1.EnvVarArgs(name="NVIDIA_DRIVER_CAPABILITIES", value="utility"),
                        ],
                        resources=k8s.core.v1.ResourceRequirementsArgs(
                            requests={"cpu": "20m", "memory": "64Mi"},
                            limits={"cpu": "200m", "memory": "128Mi"},
                        ),
                        security_context=k8s.core.v1.SecurityContextArgs(
                            allow_privilege_escalation=False,
                            read_only_root_filesystem=True,
                            capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
                        ),
                    )],
                ),
            ),
        )
