"""IAM policy documents the components share: one shape for every policy and trust policy.

Every role the platform creates is trusted as narrowly as AWS lets a trust policy say:
- roles that EKS Pod Identity hands to pods name the account, the cluster (its ARN), and each
  namespace with the service accounts in it, through the session tags Pod Identity sets on every
  AssumeRole (`aws:RequestTag/eks-cluster-arn`, `kubernetes-namespace`, `kubernetes-service-account`);
  without them any association in the account, on any cluster, could hand the role to any pod;
- roles an AWS service assumes name the account the service acts for (`aws:SourceAccount`) and,
  where the service reports it, the resource it acts for (`aws:SourceArn`), so another account's
  resource cannot make the service act with this account's role (the confused deputy).
  EC2 (instance profiles) and the EKS control plane are the exceptions: they pass no source
  context, and a condition on it would lock them out.
- lake-key permissions in identity policies hold only through the AWS service that uses the key
  (`kms:ViaService`), so a leaked credential cannot decrypt lake data outside S3 or SageMaker.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws

from components.facts import StackFacts

POLICY_VERSION = "2012-10-17"
# Managed policies every EKS worker node needs, whether a managed node group or Karpenter launched it.
# Not the CNI policy: the VPC CNI's own pods get it through Pod Identity (cluster.py), so a pod that
# reaches the node's credentials cannot change the node's network interfaces.
NODE_MANAGED_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
)
POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com"
POD_IDENTITY_ACTIONS = ["sts:AssumeRole", "sts:TagSession"]
# The session tags EKS Pod Identity adds to every AssumeRole it makes for a pod.
CLUSTER_ARN_TAG = "aws:RequestTag/eks-cluster-arn"
NAMESPACE_TAG = "aws:RequestTag/kubernetes-namespace"
SERVICE_ACCOUNT_TAG = "aws:RequestTag/kubernetes-service-account"
SOURCE_ACCOUNT = "aws:SourceAccount"
SOURCE_ARN = "aws:SourceArn"
# Services that assume roles without telling the role which account or resource they act for.
SERVICES_WITHOUT_SOURCE_CONTEXT = ("ec2.amazonaws.com", "eks.amazonaws.com")
KMS_DATA_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo")


def policy_document(statements: list[dict]) -> str:
    return json.dumps({"Version": POLICY_VERSION, "Statement": statements})


def service_trust_statement(service: str, condition: Optional[dict] = None) -> dict:
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return statement


def source_condition(account_id: str, source_arn: Optional[str] = None) -> dict:
    """Only requests a service makes for this account (and, given, this resource) match."""
    condition: dict = {"StringEquals": {SOURCE_ACCOUNT: account_id}}
    if source_arn:
        condition["ArnLike"] = {SOURCE_ARN: source_arn}
    return condition


def service_trust_policy(*services: str) -> str:
    """Trust for the services that pass no source context (EC2, the EKS control plane)."""
    unscoped = [service for service in services if service not in SERVICES_WITHOUT_SOURCE_CONTEXT]
    if unscoped:
        raise ValueError(f"{', '.join(unscoped)} must be trusted with a source condition (scoped_service_trust_policy)")
    return policy_document([service_trust_statement(service) for service in services])


def scoped_service_trust_policy(service: str, account_id: str, source_arn: Optional[str] = None) -> str:
    return policy_document([service_trust_statement(service, source_condition(account_id, source_arn))])


@dataclass(frozen=True, order=True)
class PodSubject:
    """Pods that may use a role: those running as `service_account` in `namespace`."""

    namespace: str
    service_account: str


def eks_cluster_arn(region: str, account_id: str, cluster_name: str) -> str:
    return f"arn:aws:eks:{region}:{account_id}:cluster/{cluster_name}"


def pod_identity_trust_policy(account_id: str, cluster_arn: str, subjects: Sequence[PodSubject]) -> str:
    """Trust for a role EKS Pod Identity hands to exactly these pods of exactly this cluster.

    One statement per namespace: a list of namespaces and a list of service accounts in one
    statement would also let every account name be used in every namespace."""
    if not subjects:
        raise ValueError("a Pod Identity role needs at least one namespace and service account")
    by_namespace: dict[str, list[str]] = {}
    for subject in sorted(set(subjects)):
        by_namespace.setdefault(subject.namespace, []).append(subject.service_account)
    return policy_document([
        {
            "Sid": f"PodsOf{''.join(part.capitalize() for part in namespace.split('-'))}",
            "Effect": "Allow",
            "Principal": {"Service": POD_IDENTITY_SERVICE},
            "Action": list(POD_IDENTITY_ACTIONS),
            "Condition": {"StringEquals": {
                SOURCE_ACCOUNT: account_id,
                CLUSTER_ARN_TAG: cluster_arn,
                NAMESPACE_TAG: namespace,
                SERVICE_ACCOUNT_TAG: accounts if len(accounts) > 1 else accounts[0],
            }},
        }
        for namespace, accounts in by_namespace.items()
    ])


def account_id_of(parent: Optional[pulumi.Resource]) -> pulumi.Output[str]:
    """The account the stack deploys into, asked of the provider the parent uses."""
    return aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent)).account_id


def pod_identity_trust(facts: StackFacts, account_id: pulumi.Input[str], subjects: Sequence[PodSubject]) -> pulumi.Output[str]:
    """`pod_identity_trust_policy` for the stack's own cluster, once the account is known."""
    return pulumi.Output.from_input(account_id).apply(
        lambda account: pod_identity_trust_policy(account, eks_cluster_arn(facts.region, account, facts.cluster_name), subjects)
    )


def via_services(*services: str, region: str) -> dict:
    """Condition: the key is used only by these AWS services on the caller's behalf."""
    names = [f"{service}.{region}.amazonaws.com" for service in services]
    return {"StringEquals": {"kms:ViaService": names if len(names) > 1 else names[0]}}


def deny_insecure_transport(actions: str, resources: list[str]) -> dict:
    """A statement refusing every request that does not use TLS."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": actions,
        "Resource": resources,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def ec2_node_role(resource_name: str, role_name: str, tags: dict, opts: pulumi.ResourceOptions) -> tuple[aws.iam.Role, list[aws.iam.RolePolicyAttachment]]:
    """The role EKS worker nodes run as, with the managed policies every node needs."""
    role = aws.iam.Role(resource_name, name=role_name, assume_role_policy=service_trust_policy("ec2.amazonaws.com"), tags=tags, opts=opts)
    attachments = [
        aws.iam.RolePolicyAttachment(f"{resource_name}-{arn.rsplit('/', 1)[1]}", role=role.name, policy_arn=arn, opts=opts)
        for arn in NODE_MANAGED_POLICIES
    ]
    return role, attachments


def pod_identity_role(
    resource_name: str,
    *,
    role_name: str,
    facts: StackFacts,
    cluster_name: pulumi.Input[str],
    namespace: str,
    service_account: str,
    tags: dict,
    opts: pulumi.ResourceOptions,
    policy: Optional[pulumi.Input[str]] = None,
    description: Optional[str] = None,
    association_depends_on: Optional[list[pulumi.Resource]] = None,
    association_name: Optional[str] = None,
) -> tuple[aws.iam.Role, aws.eks.PodIdentityAssociation, Optional[aws.iam.RolePolicy]]:
    """An IAM role that EKS Pod Identity hands to one service account, with its inline policy."""
    trust = pod_identity_trust(facts, account_id_of(opts.parent), [PodSubject(namespace, service_account)])
    role = aws.iam.Role(resource_name, name=role_name, description=description, assume_role_policy=trust, tags=tags, opts=opts)
    inline = aws.iam.RolePolicy(resource_name, role=role.id, policy=policy, opts=opts) if policy is not None else None
    association = aws.eks.PodIdentityAssociation(
        association_name or resource_name,
        cluster_name=cluster_name,
        namespace=namespace,
        service_account=service_account,
        role_arn=role.arn,
        tags=tags,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=association_depends_on)) if association_depends_on else opts,
    )
    return role, association, inline
