"""The parts of distributed compute, one component each: the Ray operator, Kueue with the teams'
queues, and the Spark operator. `DistributedCompute` (the package) composes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.config import DistributedConfig, NodePoolConfig
from components.distributed import operators, queues
from components.distributed.crds import declare_crds
from components.tagging import CostTagging

RELEASE_TIMEOUT_SECONDS = 600
# Pod Security admission: operators run as non-root with the runtime's seccomp profile; the
# restricted profile is reported, baseline enforced, as in the team namespaces.
POD_SECURITY = {"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/warn": "restricted"}


@dataclass(frozen=True)
class Teams:
    """The teams' namespaces on the cluster, and the resources that create them."""

    namespaces: dict[str, str]
    namespace_resources: dict[str, pulumi.Resource]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.namespaces)

    @property
    def watched(self) -> tuple[str, ...]:
        return tuple(self.namespaces.values())


def operator_namespace(owner: pulumi.ComponentResource, name: str, namespace: str, tagging: CostTagging) -> k8s.core.v1.Namespace:
    return k8s.core.v1.Namespace(
        f"{name}-namespace",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=namespace, labels={**tagging.k8s_labels(operators.COMPONENT, app=namespace), **POD_SECURITY}),
        opts=pulumi.ResourceOptions(parent=owner),
    )


def release(owner: pulumi.ComponentResource, name: str, *, chart: str, version: str, namespace: str, values: Any,
            repository: Optional[str] = None, skip_crds: bool = False, depends_on: Sequence[pulumi.Resource] = ()) -> k8s.helm.v3.Release:
    return k8s.helm.v3.Release(
        name,
        name=chart.rsplit("/", 1)[-1],
        chart=chart,
        version=version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=repository) if repository else None,
        namespace=namespace,
        create_namespace=False,
        skip_crds=skip_crds,
        values=values,
        atomic=True,
        cleanup_on_fail=True,
        timeout=RELEASE_TIMEOUT_SECONDS,
        opts=pulumi.ResourceOptions(parent=owner, depends_on=list(depends_on)),
    )


def team_data_access(owner: pulumi.ComponentResource, name: str, tagging: CostTagging, team: str, namespace: str, service_account: str,
                     cluster_name: pulumi.Input[str], role_arn: pulumi.Input[str]) -> aws.eks.PodIdentityAssociation:
    """EKS Pod Identity: pods of `service_account` in the team's namespace run as the team's data-lake role."""
    return aws.eks.PodIdentityAssociation(
        name,
        cluster_name=cluster_name,
        namespace=namespace,
        service_account=service_account,
        role_arn=role_arn,
        tags=tagging.resource_tags(operators.COMPONENT, team),
        opts=pulumi.ResourceOptions(parent=owner),
    )


class RayOperator(pulumi.ComponentResource):
    """KubeRay: its CRDs (declared, so upgrades update them) and the operator, watching the team namespaces."""

    def __init__(self, name: str, settings: DistributedConfig, tagging: CostTagging, teams: Teams, system_node_selector: dict[str, str],
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("mlplatform:distributed:RayOperator", name, None, opts)
        version = settings.charts.kuberay_operator
        namespace = operator_namespace(self, name, operators.KUBERAY_NAMESPACE, tagging)
        self.crds = declare_crds(f"{name}-crd", operators.KUBERAY_CHART, version, tagging.k8s_labels(operators.COMPONENT, app="kuberay"),
                                 pulumi.ResourceOptions(parent=self))
        self.release = release(
            self, f"{name}-release", chart=operators.KUBERAY_CHART, version=version, repository=operators.KUBERAY_REPOSITORY,
            namespace=operators.KUBERAY_NAMESPACE, skip_crds=True,
            values=operators.kuberay_values(teams.watched, system_node_selector, tagging.cost_labels(operators.COMPONENT)),
            # It creates its Roles in the team namespaces.
            depends_on=[namespace, *self.crds, *teams.namespace_resources.values()],
        )
        self.register_outputs({"namespace": operators.KUBERAY_NAMESPACE, "chartVersion": version, "crds": [crd.metadata.name for crd in self.crds]})


class TeamQueues(pulumi.ComponentResource):
    """Kueue, a flavor per Karpenter pool, a ClusterQueue per team in one cohort, a LocalQueue per
    team namespace, and the priority classes."""

    def __init__(self, name: str, settings: DistributedConfig, tagging: CostTagging, teams: Teams, node_pools: Sequence[NodePoolConfig],
                 system_node_selector: dict[str, str], opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("mlplatform:distributed:TeamQueues", name, None, opts)
        component = operators.COMPONENT
        namespace = operator_namespace(self, name, operators.KUEUE_NAMESPACE, tagging)
        # Kueue's CRDs are templates of its chart, so Helm upgrades them with it.
        self.release = release(
            self, f"{name}-release", chart=operators.KUEUE_CHART, version=settings.charts.kueue, namespace=operators.KUEUE_NAMESPACE,
            values=operators.kueue_values(teams.watched, settings.spark.enabled, settings.controller_replicas, system_node_selector),
            depends_on=[namespace],
        )
        after_kueue = pulumi.ResourceOptions(parent=self, depends_on=[self.release])

        def kueue_object(resource_name: str, kind: str, labels: dict[str, str], object_name: str, spec: dict, namespace: Optional[str] = None,
                         depends_on: Sequence[pulumi.Resource] = ()) -> k8s.apiextensions.CustomResource:
            return k8s.apiextensions.CustomResource(
                resource_name, api_version=queues.KUEUE_API_VERSION, kind=kind,
                metadata=k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=namespace, labels=labels), spec=spec,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.release, *depends_on]),
            )

        self.flavors = {
            pool.name: kueue_object(f"{name}-flavor-{pool.name}", "ResourceFlavor", tagging.k8s_labels(component, app=f"flavor-{pool.name}"),
                                    pool.name, queues.resource_flavor_spec(pool))
            for pool in node_pools
        }
        self.priority_classes = [
            WorkloadPriorityClass(f"{name}-priority-{priority.name}", priority.name, priority.value, priority.description,
                                  tagging.k8s_labels(component, app="workload-priority"), after_kueue)
            for priority in queues.PRIORITIES
        ]
        self.cluster_queues: dict[str, k8s.apiextensions.CustomResource] = {}
        self.local_queues: dict[str, k8s.apiextensions.CustomResource] = {}
        for team, team_namespace in teams.namespaces.items():
            labels = tagging.k8s_labels(component, team, app="team-queue")
            self.cluster_queues[team] = kueue_object(
                f"{name}-{team}", "ClusterQueue", labels, team, queues.cluster_queue_spec(team, settings.team_queue(team), node_pools),
                depends_on=list(self.flavors.values()),
            )
            self.local_queues[team] = kueue_object(
                f"{name}-{team}-local", "LocalQueue", labels, queues.LOCAL_QUEUE, queues.local_queue_spec(team), namespace=team_namespace,
                depends_on=[self.cluster_queues[team], teams.namespace_resources[team]],
            )
        self.register_outputs({"namespace": operators.KUEUE_NAMESPACE, "chartVersion": settings.charts.kueue, "cohort": queues.COHORT,
                               "clusterQueues": list(self.cluster_queues), "localQueue": queues.LOCAL_QUEUE})


class WorkloadPriorityClass(pulumi.CustomResource):
    """Kueue's WorkloadPriorityClass. Its fields sit beside `metadata`, where the SDK's
    CustomResource only takes a `spec`."""

    def __init__(self, resource_name: str, name: str, value: int, description: str, labels: dict[str, str], opts: pulumi.ResourceOptions):
        kind = "WorkloadPriorityClass"
        super().__init__(f"kubernetes:{queues.KUEUE_API_VERSION}:{kind}", resource_name, {
            "apiVersion": queues.KUEUE_API_VERSION, "kind": kind,
            "metadata": {"name": name, "labels": labels}, "value": value, "description": description,
        }, opts)


class SparkOperator(pulumi.ComponentResource):
    """The Spark operator (CRDs declared), its job service account in every team namespace mapped
    by EKS Pod Identity to the team's data-lake role."""

    def __init__(self, name: str, settings: DistributedConfig, tagging: CostTagging, teams: Teams, system_node_selector: dict[str, str],
                 cluster_name: pulumi.Input[str], team_role_arns: dict[str, pulumi.Input[str]], opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("mlplatform:distributed:SparkOperator", name, None, opts)
        component = operators.COMPONENT
        version = settings.charts.spark_operator
        namespace = operator_namespace(self, name, operators.SPARK_NAMESPACE, tagging)
        self.crds = declare_crds(f"{name}-crd", operators.SPARK_CHART, version, tagging.k8s_labels(component, app="spark-operator"),
                                 pulumi.ResourceOptions(parent=self))
        self.release = release(
            self, f"{name}-release", chart=operators.SPARK_CHART, version=version, repository=operators.SPARK_REPOSITORY,
            namespace=operators.SPARK_NAMESPACE, skip_crds=True,
            values=operators.spark_values(teams.watched, settings.controller_replicas, system_node_selector, tagging.cost_labels(component)),
            # It creates the job service account and its Role in each team namespace.
            depends_on=[namespace, *self.crds, *teams.namespace_resources.values()],
        )
        self.pod_identity_associations = {
            team: team_data_access(self, f"{name}-{team}", tagging, team, team_namespace, operators.SPARK_JOB_SERVICE_ACCOUNT, cluster_name,
                                   team_role_arns[team])
            for team, team_namespace in teams.namespaces.items()
        }
        self.register_outputs({"namespace": operators.SPARK_NAMESPACE, "chartVersion": version,
                               "jobServiceAccount": operators.SPARK_JOB_SERVICE_ACCOUNT})
