"""The three operators' Helm values: KubeRay, Kueue and the Spark operator, hardened like the
platform's other controllers (components/hardening.py) and kept on the system nodes.

Each operator watches only the team namespaces (KubeRay and Spark through their namespace lists,
Kueue through `managedJobsNamespaceSelector`), so nothing else in the cluster is queued or reconciled.
"""

from __future__ import annotations

from typing import Any

import yaml

from components.hardening import PULL_ALWAYS, Resources, container_security_context, pod_security_context

COMPONENT = "distributed"

KUBERAY_CHART = "kuberay-operator"
KUBERAY_REPOSITORY = "https://ray-project.github.io/kuberay-helm/"
KUBERAY_NAMESPACE = "kuberay-system"
KUBERAY_SERVICE_ACCOUNT = "kuberay-operator"
KUEUE_CHART = "oci://registry.k8s.io/kueue/charts/kueue"
KUEUE_NAMESPACE = "kueue-system"
KUEUE_RELEASE = "kueue"
KUEUE_SERVICE_ACCOUNT = "kueue-controller-manager"  # the chart's `<release>-controller-manager`
SPARK_CHART = "spark-operator"
SPARK_REPOSITORY = "https://kubeflow.github.io/spark-operator"
SPARK_NAMESPACE = "spark-operator"
SPARK_CONTROLLER_SERVICE_ACCOUNT = "spark-operator-controller"
SPARK_WEBHOOK_SERVICE_ACCOUNT = "spark-operator-webhook"
# The service account Spark drivers and executors run as in every team namespace: EKS Pod Identity
# maps it to the team's data-lake role.
SPARK_JOB_SERVICE_ACCOUNT = "spark"

# Kueue's integrations: the workload kinds it queues. Ray and batch Jobs always, Spark with its operator.
KUEUE_FRAMEWORKS = ("batch/job", "ray.io/rayjob", "ray.io/raycluster")
KUEUE_SPARK_FRAMEWORK = "sparkoperator.k8s.io/sparkapplication"
# A RayCluster whose idle workers scale down must change its Kueue workload as it scales: that is
# Kueue's elastic workloads (workload slices), behind this gate, asked for per job by annotation.
ELASTIC_JOBS_GATE = "ElasticJobsViaWorkloadSlices"
ELASTIC_JOB_ANNOTATION = "kueue.x-k8s.io/elastic-job"

# KubeRay reconciles pods and services of every Ray cluster; ~500 Ray pods need ~512Mi (chart note).
KUBERAY_RESOURCES = Resources(cpu_request="100m", memory_request="256Mi", cpu_limit="500m", memory_limit="512Mi")
# Kueue's scheduler keeps every workload, queue and flavor in memory and answers webhooks for
# every queued workload; the limit leaves room for bursts of submissions.
KUEUE_RESOURCES = Resources(cpu_request="250m", memory_request="512Mi", cpu_limit="1", memory_limit="1Gi")
# The Spark controller runs spark-submit (a JVM) for every application it starts.
SPARK_CONTROLLER_RESOURCES = Resources(cpu_request="200m", memory_request="512Mi", cpu_limit="1", memory_limit="1Gi")
SPARK_WEBHOOK_RESOURCES = Resources(cpu_request="50m", memory_request="128Mi", cpu_limit="200m", memory_limit="256Mi")
# The distroless nonroot user (KubeRay's and Kueue's images run as it).
NONROOT = 65532
# The Spark operator image's own user: spark-submit needs the passwd entry only it has (the root
# filesystem is read-only, so the entrypoint cannot add one for another UID).
SPARK_USER = 185


def operator_user(service_account: str, namespace: str) -> str:
    """The user name an operator's requests reach the API server as."""
    return f"system:serviceaccount:{namespace}:{service_account}"


def kuberay_values(teams: tuple[str, ...], system_node_selector: dict[str, str], labels: dict[str, str]) -> dict[str, Any]:
    return {
        "image": {"pullPolicy": PULL_ALWAYS},
        "nodeSelector": dict(system_node_selector),
        "labels": labels,
        "serviceAccount": {"create": True, "name": KUBERAY_SERVICE_ACCOUNT},
        # Roles in the team namespaces only, instead of a ClusterRole over every namespace.
        "singleNamespaceInstall": True,
        "crNamespacedRbacEnable": True,
        "watchNamespace": list(teams),
        "resources": KUBERAY_RESOURCES.values(),
        "podSecurityContext": pod_security_context(),
        "securityContext": container_security_context(user=NONROOT, group=NONROOT),
    }


def kueue_manager_config(teams: tuple[str, ...], spark: bool) -> str:
    """Kueue's controller configuration (the chart's `controller_manager_config.yaml`)."""
    config = {
        "apiVersion": "config.kueue.x-k8s.io/v1beta2",
        "kind": "Configuration",
        "health": {"healthProbeBindAddress": ":8081"},
        "metrics": {"bindAddress": ":8443"},
        "webhook": {"port": 9443},
        "leaderElection": {"leaderElect": True, "resourceName": "c1f6bfd2.kueue.x-k8s.io"},
        # Work without a queue is refused by the admission policy in team namespaces, and left
        # alone everywhere else.
        "manageJobsWithoutQueueName": False,
        "managedJobsNamespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": list(teams)}]},
        "integrations": {"frameworks": [*KUEUE_FRAMEWORKS, *([KUEUE_SPARK_FRAMEWORK] if spark else [])]},
    }
    return yaml.safe_dump(config, sort_keys=False)


def kueue_values(teams: tuple[str, ...], spark: bool, replicas: int, system_node_selector: dict[str, str]) -> dict[str, Any]:
    return {
        "controllerManager": {
            "replicas": replicas,
            "featureGates": [{"name": ELASTIC_JOBS_GATE, "enabled": True}],
            "nodeSelector": dict(system_node_selector),
            "podDisruptionBudget": {"enabled": replicas > 1, "minAvailable": 1},
            "manager": {
                "image": {"pullPolicy": PULL_ALWAYS},
                "resources": KUEUE_RESOURCES.values(),
                "podSecurityContext": pod_security_context(),
                "containerSecurityContext": container_security_context(user=NONROOT, group=NONROOT),
            },
        },
        "managerConfig": {"controllerManagerConfigYaml": kueue_manager_config(teams, spark)},
    }


def spark_values(teams: tuple[str, ...], webhook_replicas: int, system_node_selector: dict[str, str], labels: dict[str, str]) -> dict[str, Any]:
    def part(service_account: str, resources: Resources, replicas: int, user: int) -> dict[str, Any]:
        return {
            "replicas": replicas,
            "serviceAccount": {"create": True, "name": service_account},
            "labels": labels,
            "nodeSelector": dict(system_node_selector),
            "resources": resources.values(),
            "podSecurityContext": pod_security_context(fs_group=user),
            "securityContext": container_security_context(user=user, group=user),
        }

    return {
        "image": {"pullPolicy": PULL_ALWAYS},
        # The platform declares the CRDs itself; the chart's CRD-upgrade hook job is not needed.
        "hook": {"upgradeCrd": False},
        # Only the controller runs spark-submit; the webhook runs as the distroless nonroot user.
        "controller": part(SPARK_CONTROLLER_SERVICE_ACCOUNT, SPARK_CONTROLLER_RESOURCES, 1, SPARK_USER),
        "webhook": part(SPARK_WEBHOOK_SERVICE_ACCOUNT, SPARK_WEBHOOK_RESOURCES, webhook_replicas, NONROOT),
        "spark": {
            "jobNamespaces": list(teams),
            "serviceAccount": {"create": True, "name": SPARK_JOB_SERVICE_ACCOUNT},
        },
    }
