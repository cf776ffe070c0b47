"""What every workload the platform runs on the cluster for a team shares: where it runs, how
its pods are hardened and scheduled, what they may reach, and the identity they act as.

Every pod runs as a non-root user with a read-only root filesystem, no capabilities, no privilege
escalation and the RuntimeDefault seccomp profile, mounts no Kubernetes API token, and reaches
only DNS, the Pod Identity agent and HTTPS. GPU work requests `nvidia.com/gpu` and tolerates the
GPU pool's taint; nothing lands on the system nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from components.config import ImageRef
from components.distributed.queues import QUEUE_LABEL
from components.facts import StackFacts
from components.iam import pod_identity_role
from components.nodepools import GPU_RESOURCE
from components.tagging import CostTagging

COMPONENT = "endpoints"
TRACK_LABEL = "endpoints.mlplatform.io/track"
# A fixed, unprivileged identity (above 10000, clear of host users) for every serving pod.
POD_USER_ID = 10001
# The EKS Pod Identity agent answers credential requests on this link-local address.
POD_IDENTITY_AGENT_CIDR = "169.254.170.23/32"
CHECKOV_SKIP_DIGEST = "checkov.io/skip1"


@dataclass(frozen=True)
class ClusterPlacement:
    """Where and how pods run: the cluster, the team namespace, GPU scheduling, the VPC."""

    cluster_name: pulumi.Input[str]
    namespace: str
    namespace_resource: Optional[pulumi.Resource]
    ingress_class_name: str
    # The AWS Load Balancer Controller: its webhooks must be up before Services and Ingresses land.
    load_balancer_controller: Optional[pulumi.Resource]
    gpu_node_selector: dict
    gpu_toleration: Optional[dict]
    vpc_cidr: str
    # Labels of the untainted system nodes, which model servers and scoring jobs must leave alone.
    system_node_selector: dict
    # Where load balancers write their access logs.
    access_log_bucket: str = ""
    # The ingress group of the stack's shared ALB, if it shares one.
    ingress_group: Optional[str] = None
    # The team's Kueue LocalQueue, where the stack has queues: batch work is then queued by it.
    local_queue: Optional[str] = None


def job_template_labels(labels: dict[str, str], placement: ClusterPlacement) -> dict[str, str]:
    """Labels of the Jobs a CronJob creates: where the stack runs Kueue, they name the team's
    LocalQueue, which admits each run within the team's quota (Kueue suspends Jobs that name one);
    the admission policy refuses unqueued Jobs in team namespaces (components/distributed/guardrails.py)."""
    return {**labels, QUEUE_LABEL: placement.local_queue} if placement.local_queue else labels


def scheduled_job_spec(schedule: str, active_deadline_seconds: int, labels: dict[str, str], placement: ClusterPlacement,
                       service_account: str, container: dict, gpus: int = 0) -> dict:
    """A CronJob's spec for a team's scheduled work: UTC schedule, runs never overlap (a run that
    overruns its slot finishes before the next starts, no pile-up on GPUs or on the same window),
    bounded retries and history, queued where the stack runs Kueue, on a hardened pod with /tmp."""
    volume, mount = scratch_volume()
    return {
        "schedule": schedule,
        "timeZone": "Etc/UTC",
        "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": 600,
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 3,
        "jobTemplate": {
            "metadata": {"labels": job_template_labels(labels, placement)},
            "spec": {
                "backoffLimit": 2,
                "activeDeadlineSeconds": active_deadline_seconds,
                "ttlSecondsAfterFinished": 86400,
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": service_account,
                        "automountServiceAccountToken": False,
                        "restartPolicy": "Never",
                        "securityContext": pod_security_context(),
                        "containers": [{"imagePullPolicy": "Always", **container, "securityContext": container_security_context(),
                                        "volumeMounts": [mount]}],
                        "volumes": [volume],
                        **pod_scheduling(gpus, placement),
                    },
                },
            },
        },
    }


def image_pin_annotations(*images: ImageRef) -> dict[str, str]:
    """checkov wants digests; a tag is the documented alternative pin (immutable outside dev)."""
    if all(image.digest for image in images):
        return {}
    return {CHECKOV_SKIP_DIGEST: "CKV_K8S_43=pinned by a version tag from stack config; ECR makes tags immutable where mlplatform:registries.immutableTags is true"}


def pod_security_context() -> dict:
    return {
        "runAsNonRoot": True,
        "runAsUser": POD_USER_ID,
        "runAsGroup": POD_USER_ID,
        "fsGroup": POD_USER_ID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict:
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": POD_USER_ID,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_resources(cpu: str, memory: str, gpus: int) -> dict:
    """Requests equal limits: predictable latency (Guaranteed QoS) and honest cost allocation."""
    limits = {"cpu": cpu, "memory": memory}
    if gpus:
        limits[GPU_RESOURCE] = str(gpus)
    return {"requests": dict(limits), "limits": limits}


def pod_scheduling(gpus: int, placement: ClusterPlacement) -> dict:
    """Off the system nodes always; onto the GPU pool, tolerating its taint, when GPUs are requested."""
    scheduling: dict[str, Any] = {}
    if placement.system_node_selector:
        scheduling["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{
            "matchExpressions": [{"key": key, "operator": "NotIn", "values": [value]} for key, value in sorted(placement.system_node_selector.items())],
        }]}}}
    if not gpus:
        return scheduling
    if placement.gpu_node_selector:
        scheduling["nodeSelector"] = dict(placement.gpu_node_selector)
    if placement.gpu_toleration:
        scheduling["tolerations"] = [dict(placement.gpu_toleration)]
    return scheduling


def scratch_volume() -> tuple[dict, dict]:
    """Writable /tmp for model servers, since the root filesystem is read-only."""
    return {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}, {"name": "tmp", "mountPath": "/tmp"}


def egress_rules() -> list[dict]:
    """DNS inside the cluster, credentials from the Pod Identity agent, HTTPS to AWS APIs and S3."""
    return [
        {
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        },
        {"to": [{"ipBlock": {"cidr": POD_IDENTITY_AGENT_CIDR}}], "ports": [{"protocol": "TCP", "port": 80}]},
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 443}]},
    ]


def env_list(values: dict[str, pulumi.Input[str]]) -> list[dict]:
    return [{"name": name, "value": value} for name, value in values.items()]


class PodIdentity:
    """A ServiceAccount in the team namespace mapped by EKS Pod Identity to a new IAM role."""

    def __init__(self, owner: pulumi.ComponentResource, name: str, role_name: str, description: str,
                 service_account: str, team: str, facts: StackFacts, tagging: CostTagging, placement: ClusterPlacement, app: str,
                 policy: pulumi.Input[str]):
        self.role, self.association, _ = pod_identity_role(
            f"{name}-role",
            association_name=f"{name}-pod-identity",
            role_name=role_name,
            facts=facts,
            description=description,
            cluster_name=placement.cluster_name,
            namespace=placement.namespace,
            service_account=service_account,
            policy=policy,
            tags=tagging.resource_tags(COMPONENT, team),
            opts=pulumi.ResourceOptions(parent=owner),
        )
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata={"name": service_account, "namespace": placement.namespace, "labels": tagging.k8s_labels(COMPONENT, team, app=app)},
            # Pod Identity injects its own projected token; the API token is not needed.
            automount_service_account_token=False,
            opts=pulumi.ResourceOptions(parent=owner, depends_on=[placement.namespace_resource] if placement.namespace_resource else None),
        )
