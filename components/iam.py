"""IAM policy documents the components share: one shape for every policy and trust policy."""

from __future__ import annotations

import json
from typing import Optional

import pulumi
import pulumi_aws as aws

POLICY_VERSION = "2012-10-17"
# Managed policies every EKS worker node needs, whether a managed node group or Karpenter launched it.
NODE_MANAGED_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
)


def policy_document(statements: list[dict]) -> str:
    return json.dumps({"Version": POLICY_VERSION, "Statement": statements})


def service_trust_statement(service: str, condition: Optional[dict] = None) -> dict:
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return statement


# EKS Pod Identity hands roles to pods; it tags the session with the pod's cluster and namespace.
POD_IDENTITY_TRUST_STATEMENT = {"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}


def service_trust_policy(*services: str) -> str:
    return policy_document([service_trust_statement(service) for service in services])


def pod_identity_trust_policy() -> str:
    """Trust policy for roles that EKS Pod Identity hands to pods."""
    return policy_document([POD_IDENTITY_TRUST_STATEMENT])


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
    role = aws.iam.Role(resource_name, name=role_name, description=description, assume_role_policy=pod_identity_trust_policy(), tags=tags, opts=opts)
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
