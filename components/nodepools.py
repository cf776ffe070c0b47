"""Compute that follows the load: Karpenter, its node classes and pools, and the GPU device plugin.

Karpenter launches EC2 capacity for pending pods and removes it when it is empty or (CPU pools)
underused. Every pool in config becomes one `karpenter.sh/v1` NodePool with its own
`karpenter.k8s.aws/v1` EC2NodeClass, declared one by one as custom resources so plans, cost
estimates and tests see each of them.

GPU pools scale from zero (a NodePool has no minimum size) and carry the taint
`nvidia.com/gpu=true:NoSchedule`, so only pods that tolerate it, and ask for `nvidia.com/gpu`,
land on them. Their node class uses the same `al2023@<version>` AMI alias as the CPU pools:
Karpenter resolves that alias to the EKS-optimised AL2023 **NVIDIA** AMI (driver and container
toolkit preinstalled) whenever the instance type has NVIDIA GPUs, and to the standard AL2023 AMI
otherwise, so one pinned alias keeps both variants on the same release. The NVIDIA device plugin
then advertises the GPUs to the kubelet.

Spot interruptions, rebalance recommendations, scheduled maintenance and instance state changes
reach Karpenter through an SQS queue fed by EventBridge, so it drains nodes before AWS takes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.config import ClusterConfig, NodePoolConfig
from components.facts import StackFacts
from components.hardening import PULL_ALWAYS, RUNTIME_DEFAULT_SECCOMP, Resources, container_security_context
from components.iam import ec2_node_role, pod_identity_role
from components.karpenter_iam import interruption_queue_policy, karpenter_controller_policy
from components.tagging import LABEL_FOR_TAG, CostTagging

COMPONENT = "compute"
POOL_LABEL = "mlplatform.io/pool"
CONTROLLER_NAMESPACE = "kube-system"
ROOT_DEVICE_NAME = "/dev/xvda"  # root device of the AL2023 EKS AMIs
# Instance metadata of every node the platform launches, whether the system node group or Karpenter
# launched it: IMDSv2 only, and a hop limit of 1, so the node's own processes and host-network pods
# reach it but a pod in its own network namespace (one hop further) never gets the node role.
NODE_METADATA_OPTIONS = {"httpEndpoint": "enabled", "httpProtocolIPv6": "disabled", "httpPutResponseHopLimit": 1, "httpTokens": "required"}

KARPENTER_CHART = "oci://public.ecr.aws/karpenter/karpenter"
KARPENTER_CRD_CHART = "oci://public.ecr.aws/karpenter/karpenter-crd"
KARPENTER_SERVICE_ACCOUNT = "karpenter"
NODEPOOL_API_VERSION = "karpenter.sh/v1"
NODECLASS_API_VERSION = "karpenter.k8s.aws/v1"
NODECLASS_GROUP = "karpenter.k8s.aws"
# Karpenter's memory follows the cluster's nodes, pods and instance-type catalogue; the CPU limit
# caps its bursts of scheduling simulation so they never starve the system nodes' other add-ons.
KARPENTER_RESOURCES = Resources(cpu_request="250m", memory_request="512Mi", cpu_limit="1", memory_limit="1Gi")

NVIDIA_DEVICE_PLUGIN_CHART = "nvidia-device-plugin"
NVIDIA_DEVICE_PLUGIN_REPO = "https://nvidia.github.io/k8s-device-plugin"
GPU_RESOURCE = "nvidia.com/gpu"
GPU_TAINT = {"key": GPU_RESOURCE, "value": "true", "effect": "NoSchedule"}
GPU_TOLERATION = {"key": GPU_RESOURCE, "operator": "Equal", "value": "true", "effect": "NoSchedule"}
# Karpenter labels every node with the GPU maker of its instance type.
GPU_MANUFACTURER_LABEL = "karpenter.k8s.aws/instance-gpu-manufacturer"
# The device plugin only lists a node's GPUs over NVML and answers the kubelet's gRPC calls; it
# runs on every GPU node, where every millicore it holds is a millicore no training job gets.
DEVICE_PLUGIN_RESOURCES = Resources(cpu_request="50m", memory_request="64Mi", cpu_limit="200m", memory_limit="256Mi")

# EventBridge events that warn of capacity going away, by rule name.
INTERRUPTION_EVENTS = {
    "spot-interruption": {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]},
    "rebalance": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]},
    "instance-state-change": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]},
    "scheduled-change": {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
}


def launch_template_metadata_options() -> aws.ec2.LaunchTemplateMetadataOptionsArgs:
    """`NODE_METADATA_OPTIONS` as a launch template's metadata options."""
    return aws.ec2.LaunchTemplateMetadataOptionsArgs(
        http_endpoint=NODE_METADATA_OPTIONS["httpEndpoint"],
        http_protocol_ipv6=NODE_METADATA_OPTIONS["httpProtocolIPv6"],
        http_put_response_hop_limit=NODE_METADATA_OPTIONS["httpPutResponseHopLimit"],
        http_tokens=NODE_METADATA_OPTIONS["httpTokens"],
    )


def pool_requirements(pool: NodePoolConfig) -> list[dict]:
    """NodePool requirements in Karpenter's well-known label keys."""
    requirements = [
        {"key": "kubernetes.io/arch", "operator": "In", "values": list(pool.architectures)},
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": list(pool.capacity_types)},
    ]
    if pool.instance_categories:
        requirements.append({"key": "karpenter.k8s.aws/instance-category", "operator": "In", "values": list(pool.instance_categories)})
    if pool.instance_families:
        requirements.append({"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": list(pool.instance_families)})
    if pool.instance_types:
        requirements.append({"key": "node.kubernetes.io/instance-type", "operator": "In", "values": list(pool.instance_types)})
    if pool.gpu:
        # The g family also has AMD (g4ad) instances, which the NVIDIA AMI and plugin cannot use.
        requirements.append({"key": GPU_MANUFACTURER_LABEL, "operator": "In", "values": ["nvidia"]})
    return requirements


def pool_limits(pool: NodePoolConfig) -> dict[str, str]:
    limits = {"cpu": str(pool.cpu_limit), "memory": f"{pool.memory_limit_gi}Gi"}
    if pool.gpu:
        limits[GPU_RESOURCE] = str(pool.gpu_limit)
    return limits


@dataclass(frozen=True)
class ControlPlane:
    """What Karpenter needs from the cluster that declares it (so this module never imports that one)."""

    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    k8s_provider: pulumi.ProviderResource
    system_node_selector: dict[str, str]
    # Pod Identity associations take effect only once the agent runs.
    pod_identity_agent: pulumi.Resource
    # Karpenter runs on the system nodes, and only once they and every add-on are up.
    system_nodes_ready: list[pulumi.Resource]


class NodePools(pulumi.ComponentResource):
    """Karpenter (controller, IAM, interruption handling), one node class and pool per config entry."""

    def __init__(self, name: str, settings: ClusterConfig, facts: StackFacts, tagging: CostTagging, control_plane: ControlPlane,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:compute:NodePools", name, None, opts)
        prefix = facts.name_prefix
        cluster_name = facts.cluster_name
        child = pulumi.ResourceOptions(parent=self)
        tags = tagging.resource_tags(COMPONENT)
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))

        # --- node role: what Karpenter's instances run as ---------------------------------------
        self.node_role, node_policies = ec2_node_role(f"{name}-node", f"{prefix}-karpenter-node", tags, child)
        # Nodes join through an access entry, not the aws-auth ConfigMap (authentication mode API).
        node_access = aws.eks.AccessEntry(
            f"{name}-node",
            cluster_name=control_plane.cluster_name,
            principal_arn=self.node_role.arn,
            type="EC2_LINUX",
            tags=tags,
            opts=child,
        )

        # --- interruption handling ---------------------------------------------------------------
        self.interruption_queue = aws.sqs.Queue(
            f"{name}-interruptions",
            name=f"{cluster_name}-karpenter",
            # An interruption warning older than five minutes is useless: the instance is gone.
            message_retention_seconds=300,
            sqs_managed_sse_enabled=True,
            tags=tags,
            opts=child,
        )
        rules = []
        for rule_name, pattern in INTERRUPTION_EVENTS.items():
            rule = aws.cloudwatch.EventRule(
                f"{name}-{rule_name}",
                name=f"{prefix}-karpenter-{rule_name}",  # rule names stop at 64 characters
                description=f"Karpenter interruption handling: {pattern['detail-type'][0]}",
                event_pattern=json.dumps(pattern),
                tags=tags,
                opts=child,
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{rule_name}",
                rule=rule.name,
                target_id="KarpenterInterruptionQueue",
                arn=self.interruption_queue.arn,
                opts=child,
            )
            rules.append(rule)
        aws.sqs.QueuePolicy(
            f"{name}-interruptions",
            queue_url=self.interruption_queue.url,
            policy=pulumi.Output.all(self.interruption_queue.arn, identity.account_id, *[rule.arn for rule in rules]).apply(
                lambda args: interruption_queue_policy(args[0], args[1], list(args[2:]))
            ),
            opts=child,
        )

        # --- controller identity -----------------------------------------------------------------
        _, controller_identity, controller_policy = pod_identity_role(
            f"{name}-controller",
            role_name=f"{prefix}-karpenter-controller",
            facts=facts,
            cluster_name=control_plane.cluster_name,
            namespace=CONTROLLER_NAMESPACE,
            service_account=KARPENTER_SERVICE_ACCOUNT,
            policy=pulumi.Output.all(identity.account_id, self.interruption_queue.arn, self.node_role.arn).apply(
                lambda args: karpenter_controller_policy(cluster_name, facts.region, args[0], args[1], args[2])
            ),
            tags=tags,
            opts=child,
            association_depends_on=[control_plane.pod_identity_agent],
        )

        # --- Karpenter -----------------------------------------------------------------------------
        with_k8s = pulumi.ResourceOptions(parent=self, provider=control_plane.k8s_provider)
        # CRDs from their own chart: Helm never upgrades CRDs bundled in a chart's crds/ folder.
        crds = k8s.helm.v3.Release(
            f"{name}-karpenter-crd",
            name="karpenter-crd",
            chart=KARPENTER_CRD_CHART,
            version=settings.charts.karpenter,
            namespace=CONTROLLER_NAMESPACE,
            opts=with_k8s,
        )
        self.karpenter = k8s.helm.v3.Release(
            f"{name}-karpenter",
            name="karpenter",
            chart=KARPENTER_CHART,
            version=settings.charts.karpenter,
            namespace=CONTROLLER_NAMESPACE,
            skip_crds=True,
            values={
                "settings": {
                    "clusterName": cluster_name,
                    "clusterEndpoint": control_plane.endpoint,
                    "interruptionQueue": self.interruption_queue.name,
                },
                "serviceAccount": {"create": True, "name": KARPENTER_SERVICE_ACCOUNT},
                "replicas": settings.controller_replicas,
                # Karpenter must never run on capacity it manages: it could remove its own node.
                "nodeSelector": control_plane.system_node_selector,
                "podLabels": tagging.cost_labels(COMPONENT),
                "controller": {
                    # The region from config, not instance metadata, which may sit beyond the pod's hop limit.
                    "env": [{"name": "AWS_REGION", "value": facts.region}],
                    "resources": KARPENTER_RESOURCES.values(),
                },
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=control_plane.k8s_provider,
                depends_on=[crds, controller_policy, controller_identity, node_access, *node_policies, *control_plane.system_nodes_ready],
            ),
        )

        # --- node classes and pools ------------------------------------------------------------
        after_karpenter = pulumi.ResourceOptions(parent=self, provider=control_plane.k8s_provider, depends_on=[crds, self.karpenter])
        discovery = {"karpenter.sh/discovery": cluster_name}
        self.node_classes: dict[str, k8s.apiextensions.CustomResource] = {}
        self.pools: dict[str, k8s.apiextensions.CustomResource] = {}
        for pool in settings.node_pools:
            labels = tagging.k8s_labels(COMPONENT, app=f"nodepool-{pool.name}")
            node_class = k8s.apiextensions.CustomResource(
                f"{name}-class-{pool.name}",
                api_version=NODECLASS_API_VERSION,
                kind="EC2NodeClass",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=pool.name, labels=labels),
                spec={
                    "role": self.node_role.name,
                    "amiSelectorTerms": [{"alias": settings.ami_alias}],
                    "subnetSelectorTerms": [{"tags": discovery}],
                    "securityGroupSelectorTerms": [{"tags": discovery}],
                    "blockDeviceMappings": [{
                        "deviceName": ROOT_DEVICE_NAME,
                        # Karpenter sizes the node's ephemeral-storage from the volume marked as root.
                        "rootVolume": True,
                        "ebs": {"volumeSize": f"{pool.disk_size_gi}Gi", "volumeType": "gp3", "encrypted": True, "deleteOnTermination": True},
                    }],
                    "metadataOptions": dict(NODE_METADATA_OPTIONS),
                    # Karpenter copies these onto the instances, volumes and network interfaces it launches.
                    "tags": {**tagging.all_tags(COMPONENT), "Name": f"{prefix}-{pool.name}-node"},
                },
                opts=after_karpenter,
            )
            template_spec: dict = {
                "nodeClassRef": {"group": NODECLASS_GROUP, "kind": "EC2NodeClass", "name": pool.name},
                "requirements": pool_requirements(pool),
                "expireAfter": pool.expire_after,
            }
            if pool.termination_grace_period is not None:
                # Bounds how long do-not-disrupt pods (running notebooks) can hold an expiring node.
                template_spec["terminationGracePeriod"] = pool.termination_grace_period
            if pool.gpu:
                template_spec["taints"] = [dict(GPU_TAINT)]
            pool_spec: dict = {
                "template": {
                    # Only the cost labels and the pool label: Karpenter refuses kubernetes.io domains here.
                    "metadata": {"labels": {**{key: labels[key] for key in LABEL_FOR_TAG.values()}, POOL_LABEL: pool.name}},
                    "spec": template_spec,
                },
                "disruption": {
                    "consolidationPolicy": pool.consolidation_policy,
                    "consolidateAfter": pool.consolidate_after,
                    # At most a tenth of a pool's nodes are replaced at once.
                    "budgets": [{"nodes": "10%"}],
                },
                "limits": pool_limits(pool),
            }
            if pool.weight is not None:
                pool_spec["weight"] = pool.weight
            self.node_classes[pool.name] = node_class
            self.pools[pool.name] = k8s.apiextensions.CustomResource(
                f"{name}-pool-{pool.name}",
                api_version=NODEPOOL_API_VERSION,
                kind="NodePool",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=pool.name, labels=labels),
                spec=pool_spec,
                opts=pulumi.ResourceOptions(parent=self, provider=control_plane.k8s_provider, depends_on=[crds, self.karpenter, node_class]),
            )

        # --- GPUs ------------------------------------------------------------------------------
        gpu_pools = settings.gpu_pool_names
        self.gpu_node_selector: dict[str, str] = {"karpenter.sh/nodepool": gpu_pools[0]} if gpu_pools else {}
        self.gpu_toleration: Optional[dict[str, str]] = dict(GPU_TOLERATION) if gpu_pools else None
        self.device_plugin: Optional[k8s.helm.v3.Release] = None
        if gpu_pools:
            self.device_plugin = k8s.helm.v3.Release(
                f"{name}-nvidia-device-plugin",
                name="nvidia-device-plugin",
                chart=NVIDIA_DEVICE_PLUGIN_CHART,
                version=settings.charts.nvidia_device_plugin,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=NVIDIA_DEVICE_PLUGIN_REPO),
                namespace=CONTROLLER_NAMESPACE,
                values={
                    "tolerations": [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}],
                    # Replaces the chart's default affinity on labels from GPU feature discovery,
                    # which this cluster does not run: Karpenter's own label marks NVIDIA nodes.
                    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{
                        "matchExpressions": [{"key": GPU_MANUFACTURER_LABEL, "operator": "In", "values": ["nvidia"]}],
                    }]}}},
                    "priorityClassName": "system-node-critical",
                    "image": {"pullPolicy": PULL_ALWAYS},
                    "resources": DEVICE_PLUGIN_RESOURCES.values(),
                    # A securityContext value replaces the chart's default (drop ALL, no escalation),
                    # so this one restates it. The plugin stays root: it serves its socket from the
                    # kubelet's root-owned device-plugins folder. It writes only to host folders
                    # (that socket, CDI specs, MPS), so its root filesystem is read-only.
                    "securityContext": container_security_context(),
                    # The pod's own context, which the chart leaves empty: root, so no runAsNonRoot.
                    "podSecurityContext": {"seccompProfile": dict(RUNTIME_DEFAULT_SECCOMP)},
                    # Only the MPS control daemon uses the host's PID namespace, and it only runs on
                    # nodes set up for MPS GPU sharing, which this platform never configures.
                    "mps": {"enableHostPID": False},
                },
                opts=with_k8s,
            )

        self.register_outputs({
            "interruptionQueueName": self.interruption_queue.name,
            "nodeRoleName": self.node_role.name,
            "nodePools": list(self.pools),
            "gpuNodeSelector": self.gpu_node_selector,
        })
