"""The AWS Load Balancer Controller: turns the cluster's Ingresses (and the Services that ask for
it) into ALBs and NLBs, tagged with the cost tags, through a Pod Identity role of its own.

Given the cluster's name, region and VPC explicitly, it never needs instance metadata (which the
system nodes' hop limit of 1 keeps out of pods' reach).
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.config import ClusterConfig
from components.facts import StackFacts
from components.hardening import PULL_ALWAYS, Resources, container_security_context, pod_security_context
from components.iam import pod_identity_role
from components.nodepools import COMPONENT, CONTROLLER_NAMESPACE
from components.tagging import CostTagging

INGRESS_CLASS = "alb"
AWS_LOAD_BALANCER_CONTROLLER_CHART = "aws-load-balancer-controller"
AWS_LOAD_BALANCER_CONTROLLER_REPO = "https://aws.github.io/eks-charts"
AWS_LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT = "aws-load-balancer-controller"
DEFAULT_TAGS_LOW_PRIORITY = "EnableDefaultTagsLowPriority"
# One active replica reconciles every Ingress and Service; the standbys only answer webhooks.
# A few hundred ingresses fit in 128Mi; the limit leaves room for a full resync after a restart.
LOAD_BALANCER_CONTROLLER_RESOURCES = Resources(cpu_request="100m", memory_request="128Mi", cpu_limit="500m", memory_limit="512Mi")
# nobody: the controller only reads its webhook certificate (a Secret volume) and writes nothing.
LOAD_BALANCER_CONTROLLER_USER_ID = 65534
_LOAD_BALANCER_CONTROLLER_POLICY = Path(__file__).parent / "data" / "aws_load_balancer_controller_iam_policy.json"


def load_balancer_controller(
    owner: pulumi.ComponentResource,
    name: str,
    settings: ClusterConfig,
    facts: StackFacts,
    tagging: CostTagging,
    *,
    cluster_name: pulumi.Input[str],
    vpc_id: pulumi.Input[str],
    system_node_selector: dict[str, str],
    k8s_provider: pulumi.ProviderResource,
    pod_identity_agent: pulumi.Resource,
    ready: list[pulumi.Resource],
) -> k8s.helm.v3.Release:
    """The controller's role, policy and Helm release, children of `owner`; `ready` are what its
    pods need first (the system nodes and the add-ons)."""
    prefix = facts.name_prefix
    tags = tagging.resource_tags(COMPONENT)
    child = pulumi.ResourceOptions(parent=owner)
    load_balancer_role, load_balancer_identity, _ = pod_identity_role(
        f"{name}-lb-controller",
        role_name=f"{prefix}-lb-controller",
        facts=facts,
        cluster_name=cluster_name,
        namespace=CONTROLLER_NAMESPACE,
        service_account=AWS_LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT,
        tags=tags,
        opts=child,
        association_depends_on=[pod_identity_agent],
    )
    load_balancer_policy = aws.iam.Policy(
        f"{name}-lb-controller",
        name=f"{prefix}-lb-controller",
        description="AWS Load Balancer Controller: ALBs and NLBs for the cluster's ingresses and services",
        policy=_LOAD_BALANCER_CONTROLLER_POLICY.read_text(),
        tags=tags,
        opts=child,
    )
    load_balancer_permissions = aws.iam.RolePolicyAttachment(
        f"{name}-lb-controller", role=load_balancer_role.name, policy_arn=load_balancer_policy.arn, opts=child
    )
    return k8s.helm.v3.Release(
        f"{name}-lb-controller",
        name="aws-load-balancer-controller",
        chart=AWS_LOAD_BALANCER_CONTROLLER_CHART,
        version=settings.charts.aws_load_balancer_controller,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=AWS_LOAD_BALANCER_CONTROLLER_REPO),
        namespace=CONTROLLER_NAMESPACE,
        values={
            "clusterName": facts.cluster_name,
            # Given explicitly so the controller never needs instance metadata to find them.
            "region": facts.region,
            "vpcId": vpc_id,
            "replicaCount": settings.controller_replicas,
            "serviceAccount": {"create": True, "name": AWS_LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT},
            "nodeSelector": system_node_selector,
            "createIngressClassResource": True,
            "ingressClass": INGRESS_CLASS,
            "ingressClassConfig": {"default": False},
            # Load balancers the controller creates carry the cost tags too. A model server's
            # Ingress names its own team and component (`alb.ingress.kubernetes.io/tags`):
            # without the gate the controller's defaults win and bill every ALB to the platform.
            # The gate exists from controller v2.14.1 (chart 1.14.1).
            "defaultTags": tagging.all_tags(COMPONENT),
            "controllerConfig": {"featureGates": {DEFAULT_TAGS_LOW_PRIORITY: True}},
            # Only Services that ask for it get an NLB; others keep their own load balancer class.
            "enableServiceMutatorWebhook": False,
            "podLabels": tagging.cost_labels(COMPONENT),
            "image": {"pullPolicy": PULL_ALWAYS},
            "resources": LOAD_BALANCER_CONTROLLER_RESOURCES.values(),
            "podSecurityContext": pod_security_context(fs_group=LOAD_BALANCER_CONTROLLER_USER_ID),
            "securityContext": container_security_context(user=LOAD_BALANCER_CONTROLLER_USER_ID),
        },
        opts=pulumi.ResourceOptions(parent=owner, provider=k8s_provider, depends_on=[*ready, load_balancer_identity, load_balancer_permissions]),
    )
