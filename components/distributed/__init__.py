"""Distributed compute: work that outgrows one notebook runs on Ray (KubeRay) or Spark (the Spark
operator), queued fairly per team by Kueue, on Karpenter nodes that exist only while it runs.

- **Ray**: the KubeRay operator (CRDs declared from the pinned chart so upgrades update them) watches
  the team namespaces. Teams submit RayJobs and RayClusters from their notebooks or their own
  workloads, in their own namespace only.
- **Queues**: Kueue, with a ResourceFlavor per Karpenter pool and a ClusterQueue per team in one
  cohort: nominal quotas per pool from config, borrowing of what other teams leave unused, and
  preemption that takes borrowed capacity back. Config refuses quotas the pools cannot hold
  (Kueue cannot ask Karpenter for more than a pool's limits), and prices every queue at its
  ceiling against the team's budget (`components/distributed_budget.py`).
- **Spark** (optional per stack): the Spark operator, its drivers and executors running as the
  team's data-lake role.
- **Guardrails**: a ValidatingAdmissionPolicy in the team namespaces refuses work that bypasses
  the team's queue, Ray clusters that would idle on paid nodes, and Ray or Spark pods that would
  not be billed to the team (`guardrails.py`).
- **Access**: RBAC for the teams' notebook and workload service accounts, and the path from a
  notebook to the API server (`access.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.config import DistributedConfig, NodePoolConfig
from components.distributed import access, guardrails, operators, queues
from components.distributed.parts import RayOperator, SparkOperator, Teams, TeamQueues, team_data_access
from components.facts import StackFacts
from components.interfaces import ClusterAccess
from components.tagging import CostTagging

COMPONENT = operators.COMPONENT


@dataclass(frozen=True)
class NotebookIdentities:
    """Where the teams' notebook servers run and the service account each team's servers run as."""

    namespace: pulumi.Input[str]
    service_accounts: dict[str, str]  # team -> service account in `namespace`


class DistributedCompute(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        settings: DistributedConfig,
        facts: StackFacts,
        tagging: CostTagging,
        cluster: ClusterAccess,
        node_pools: tuple[NodePoolConfig, ...],
        team_role_arns: dict[str, pulumi.Output[str]],
        notebooks: NotebookIdentities,
        opts: Optional[pulumi.ResourceOptions] = None,
    ):
        super().__init__("mlplatform:distributed:DistributedCompute", name, None, opts)
        teams = Teams(
            namespaces={team: cluster.team_namespaces[team] for team in facts.team_names},
            namespace_resources={team: cluster.namespace_resources[team] for team in facts.team_names},
        )
        child = pulumi.ResourceOptions(parent=self)
        system = dict(cluster.system_node_selector)

        self.ray = RayOperator(f"{name}-ray", settings, tagging, teams, system, opts=child)
        self.queues = TeamQueues(f"{name}-queues", settings, tagging, teams, node_pools, system, opts=child)
        self.spark = (
            SparkOperator(f"{name}-spark", settings, tagging, teams, system, cluster.cluster_name, team_role_arns, opts=child)
            if settings.spark.enabled else None
        )

        # --- who may submit, in which namespace, and what the work runs as -------------------------
        spark = settings.spark.enabled
        self.roles: dict[str, k8s.rbac.v1.Role] = {}
        self.ray_service_accounts: dict[str, k8s.core.v1.ServiceAccount] = {}
        for team, namespace in teams.namespaces.items():
            labels = tagging.k8s_labels(COMPONENT, team, app=access.SUBMITTER_ROLE)
            in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[teams.namespace_resources[team]])
            self.roles[team] = k8s.rbac.v1.Role(
                f"{name}-{team}-submitter",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=access.SUBMITTER_ROLE, namespace=namespace, labels=labels),
                rules=access.submitter_rules(spark),
                opts=in_namespace,
            )
            k8s.rbac.v1.RoleBinding(
                f"{name}-{team}-submitter",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=access.SUBMITTER_ROLE, namespace=namespace, labels=labels),
                role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role", name=access.SUBMITTER_ROLE),
                subjects=access.submitter_subjects(namespace, notebooks.namespace, notebooks.service_accounts[team]),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.roles[team]]),
            )
            # What Ray pods run as to read and write the lake: the team's data-lake role, no Kubernetes API.
            self.ray_service_accounts[team] = k8s.core.v1.ServiceAccount(
                f"{name}-{team}-ray",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=access.RAY_SERVICE_ACCOUNT, namespace=namespace,
                                                    labels=tagging.k8s_labels(COMPONENT, team, app="ray")),
                automount_service_account_token=False,
                opts=in_namespace,
            )
            team_data_access(self, f"{name}-{team}-ray", tagging, team, namespace, access.RAY_SERVICE_ACCOUNT, cluster.cluster_name, team_role_arns[team])
        self.notebook_api_access = k8s.networking.v1.NetworkPolicy(
            f"{name}-notebooks-to-api-server",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="notebooks-to-api-server", namespace=notebooks.namespace,
                                                labels=tagging.k8s_labels(COMPONENT, app="notebooks-to-api-server")),
            spec=access.api_server_egress_spec(cluster.vpc_cidr),
            opts=child,
        )

        # --- guardrails ----------------------------------------------------------------------------
        exempt = [operators.operator_user(operators.KUBERAY_SERVICE_ACCOUNT, operators.KUBERAY_NAMESPACE),
                  operators.operator_user(operators.KUEUE_SERVICE_ACCOUNT, operators.KUEUE_NAMESPACE)]
        if spark:
            exempt.append(operators.operator_user(operators.SPARK_CONTROLLER_SERVICE_ACCOUNT, operators.SPARK_NAMESPACE))
        policy_labels = tagging.k8s_labels(COMPONENT, app="guardrails")
        self.admission_policy = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            f"{name}-guardrails",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=guardrails.POLICY_NAME, labels=policy_labels),
            spec=guardrails.admission_policy_spec(settings.guardrails, spark, exempt),
            opts=child,
        )
        k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            f"{name}-guardrails",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=guardrails.POLICY_NAME, labels=policy_labels),
            spec=guardrails.binding_spec(teams.names),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.admission_policy]),
        )

        self.register_outputs({
            "cohort": queues.COHORT,
            "localQueue": queues.LOCAL_QUEUE,
            "sparkEnabled": spark,
            "admissionPolicy": guardrails.POLICY_NAME,
        })
