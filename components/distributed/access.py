"""Who may submit distributed work, from where, and as whom it reads the lake.

- In each team namespace a Role lets the team create RayJobs and RayClusters (and SparkApplications
  with the Spark operator) and follow them (their pods, logs, services and Kueue workloads); a
  RoleBinding gives it to the team's notebook service account (`notebook-<team>` in the notebooks
  namespace, what a user server of that team runs as) and to every service account of the team
  namespace itself. Nothing is granted in another team's namespace.
- JupyterHub's network policy lets user servers reach public addresses only; submitting from a
  notebook needs the Kubernetes API server, whose private endpoint sits in the VPC. A second
  policy allows exactly that: HTTPS to the VPC's addresses.
- Ray pods run as the `ray` service account of their team namespace and Spark drivers and executors
  as the `spark` one the operator creates there; EKS Pod Identity maps both to the team's data-lake
  role (a Ray cluster that autoscales keeps KubeRay's own service account on its head, which the
  autoscaler needs; its workers still run as `ray`).
"""

from __future__ import annotations

from typing import Any

RAY_GROUP = "ray.io"
SPARK_GROUP = "sparkoperator.k8s.io"
EDIT_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]
READ_VERBS = ["get", "list", "watch"]
SUBMITTER_ROLE = "distributed-submitter"
RAY_SERVICE_ACCOUNT = "ray"
API_SERVER_PORT = 443
# JupyterHub's user servers (the chart's own label: selecting on it is fine, setting it is not).
USER_SERVER_SELECTOR = {"component": "singleuser-server"}


def submitter_rules(spark: bool) -> list[dict[str, Any]]:
    kinds = ["rayjobs", "rayclusters"]
    rules = [
        {"apiGroups": [RAY_GROUP], "resources": kinds, "verbs": EDIT_VERBS},
        {"apiGroups": [RAY_GROUP], "resources": [f"{kind}/status" for kind in kinds], "verbs": READ_VERBS},
    ]
    if spark:
        rules += [
            {"apiGroups": [SPARK_GROUP], "resources": ["sparkapplications"], "verbs": EDIT_VERBS},
            {"apiGroups": [SPARK_GROUP], "resources": ["sparkapplications/status"], "verbs": READ_VERBS},
        ]
    rules += [
        # Following the work: where it is queued, its pods and their logs, the Ray head's service.
        {"apiGroups": ["kueue.x-k8s.io"], "resources": ["workloads", "localqueues"], "verbs": READ_VERBS},
        {"apiGroups": [""], "resources": ["pods", "pods/log", "services", "events"], "verbs": READ_VERBS},
    ]
    return rules


def submitter_subjects(team_namespace: str, notebook_namespace: Any, notebook_service_account: str) -> list[dict[str, Any]]:
    return [
        {"kind": "ServiceAccount", "name": notebook_service_account, "namespace": notebook_namespace},
        # Every service account of the team namespace: the team's own workloads.
        {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": f"system:serviceaccounts:{team_namespace}"},
    ]


def api_server_egress_spec(vpc_cidr: str) -> dict[str, Any]:
    return {
        "podSelector": {"matchLabels": dict(USER_SERVER_SELECTOR)},
        "policyTypes": ["Egress"],
        "egress": [{"to": [{"ipBlock": {"cidr": vpc_cidr}}], "ports": [{"port": API_SERVER_PORT, "protocol": "TCP"}]}],
    }
