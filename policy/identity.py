"""Least privilege in every IAM document: no wildcard actions, nothing public, every service and
every pod that may assume a role or use a resource named as narrowly as AWS lets a policy say."""

from __future__ import annotations

import re
from typing import Iterator

from policy.model import Resource, Rule, Stack, StackRule, actions, as_list, condition_keys, document, service_principals, statements

ROLE = "aws:iam/role:Role"
IDENTITY_POLICY_TYPES = ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy", "aws:iam/userPolicy:UserPolicy", "aws:iam/groupPolicy:GroupPolicy")
KEY = "aws:kms/key:Key"
RESOURCE_POLICY_TYPES = ("aws:s3/bucketPolicy:BucketPolicy", "aws:sqs/queuePolicy:QueuePolicy", "aws:sns/topicPolicy:TopicPolicy",
                         "aws:ecr/repositoryPolicy:RepositoryPolicy", KEY, "aws:sqs/queue:Queue", "aws:sns/topic:Topic")
POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com"
POD_IDENTITY_ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
ADDON = "aws:eks/addon:Addon"
# Add-ons run their pods in kube-system; their Pod Identity associations name no namespace.
ADDON_NAMESPACE = "kube-system"
# Services that assume roles without saying which account or resource they act for.
SERVICES_WITHOUT_SOURCE_CONTEXT = ("ec2.amazonaws.com", "eks.amazonaws.com")
SOURCE_KEYS = ("aws:sourceaccount", "aws:sourcearn", "aws:sourceowner", "aws:sourceorgid")
PUBLIC_SCOPING_KEYS = SOURCE_KEYS + ("aws:principalaccount", "aws:principalorgid", "aws:sourcevpce", "aws:sourcevpc", "aws:principalarn")
POD_TRUST_KEYS = ("aws:sourceaccount", "aws:requesttag/kubernetes-namespace", "aws:requesttag/kubernetes-service-account")
CLUSTER_TAG_KEYS = ("aws:requesttag/eks-cluster-arn", "aws:requesttag/eks-cluster-name")
KMS_DATA_ACTION = re.compile(r"kms:(\*|Decrypt|Encrypt|GenerateDataKey.*|ReEncrypt.*)$", re.IGNORECASE)
ECR_PULL_ACTIONS = {"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}
CNI_POLICY = "/AmazonEKS_CNI_Policy"
ROOT_PRINCIPAL = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):root$")


def identity_documents(resource: Resource) -> Iterator[object]:
    if resource.type == ROLE:
        yield from (policy.get("policy") for policy in as_list(resource.props.get("inlinePolicies")) if isinstance(policy, dict))
    else:
        yield resource.props.get("policy")


def documents(resource: Resource) -> Iterator[object]:
    """Every policy document a resource holds: identity, resource and trust policies."""
    if resource.type in IDENTITY_POLICY_TYPES or resource.type == ROLE:
        yield from identity_documents(resource)
    if resource.type in RESOURCE_POLICY_TYPES:
        yield resource.props.get("policy")
    if resource.type == ROLE:
        yield resource.props.get("assumeRolePolicy")


def aws_principals(statement: dict) -> list[str]:
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    return [str(value) for value in as_list(principal.get("AWS"))] if isinstance(principal, dict) else []


def _is_wildcard(action: str) -> bool:
    return action == "*" or action.endswith(":*")


def _no_wildcard_actions(resource: Resource) -> list[str]:
    problems = []
    for policy in documents(resource):
        for statement in statements(policy):
            if statement.get("Effect") != "Allow":
                continue  # a Deny of s3:* refuses everything, which is the point
            wildcards = [action for action in actions(statement) if _is_wildcard(action)]
            # The default key policy: the key's account delegates the key to its own IAM policies.
            if resource.type == KEY and wildcards == ["kms:*"] and all(ROOT_PRINCIPAL.match(p) for p in aws_principals(statement)):
                continue
            problems += [f"statement {statement.get('Sid', '?')} allows the wildcard action {action!r}" for action in wildcards]
    return problems


def _no_public_principals(resource: Resource) -> list[str]:
    problems = []
    for statement in statements(resource.props.get("policy")):
        if statement.get("Effect") == "Allow" and "*" in aws_principals(statement) and not set(condition_keys(statement)) & set(PUBLIC_SCOPING_KEYS):
            problems.append(f"statement {statement.get('Sid', '?')} allows anyone (Principal *) with no account, organisation or network condition")
    if resource.type == KEY:
        accounts = {match.group(1) for statement in statements(resource.props.get("policy")) for principal in aws_principals(statement)
                    if (match := re.match(r"arn:aws[a-z-]*:iam::(\d{12}):", principal))}
        if len(accounts) > 1:
            problems.append(f"the key policy grants principals of several accounts ({', '.join(sorted(accounts))})")
    return problems


def _service_source_conditions(resource: Resource) -> list[str]:
    problems = []
    for policy in ([resource.props.get("assumeRolePolicy")] if resource.type == ROLE else [resource.props.get("policy")]):
        for statement in statements(policy):
            services = [s for s in service_principals(statement) if s not in SERVICES_WITHOUT_SOURCE_CONTEXT and s != POD_IDENTITY_SERVICE]
            keys = set(condition_keys(statement))
            scoped = keys & set(SOURCE_KEYS) or any(key.startswith("kms:encryptioncontext:") for key in keys)
            if statement.get("Effect") == "Allow" and services and not scoped:
                problems.append(f"statement {statement.get('Sid', '?')} lets {', '.join(services)} act for any account: "
                                "add aws:SourceAccount or aws:SourceArn (the confused deputy)")
    return problems


def _pod_identity_trust(resource: Resource) -> list[str]:
    problems = []
    for statement in statements(resource.props.get("assumeRolePolicy")):
        if POD_IDENTITY_SERVICE not in service_principals(statement) or statement.get("Effect") != "Allow":
            continue
        keys = condition_keys(statement)
        missing = [key for key in POD_TRUST_KEYS if not keys.get(key)]
        if not any(keys.get(key) for key in CLUSTER_TAG_KEYS):
            missing.append("aws:RequestTag/eks-cluster-arn")
        wildcard = [key for key in (*POD_TRUST_KEYS, *CLUSTER_TAG_KEYS) if any("*" in str(value) for value in as_list(keys.get(key)))]
        if missing or wildcard:
            problems.append(f"statement {statement.get('Sid', '?')} trusts Pod Identity without naming "
                            f"{', '.join(missing + [f'{key} (wildcard)' for key in wildcard])}: any pod of any cluster in the account could get the role")
    return problems


def _kms_via_service(resource: Resource) -> list[str]:
    problems = []
    for policy in identity_documents(resource):
        for statement in statements(policy):
            data_actions = [action for action in actions(statement) if KMS_DATA_ACTION.match(action)]
            if statement.get("Effect") == "Allow" and data_actions and "kms:viaservice" not in condition_keys(statement):
                problems.append(f"statement {statement.get('Sid', '?')} allows {', '.join(data_actions)} outside any AWS service (add kms:ViaService)")
    return problems


def _ecr_pull_only(resource: Resource) -> list[str]:
    problems = []
    for statement in statements(resource.props.get("policy")):
        if statement.get("Effect") == "Allow" and aws_principals(statement):
            extra = sorted(set(actions(statement)) - ECR_PULL_ACTIONS)
            if extra:
                problems.append(f"statement {statement.get('Sid', '?')} lets other accounts do more than pull: {', '.join(extra)}")
    return problems


def _policy_conflicts(stack: Stack) -> list[tuple[str, str]]:
    found = []
    for attachment, prop in [(r, "role") for r in stack.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/rolePolicy:RolePolicy")] \
            + [(r, "roles") for r in stack.of_type("aws:iam/policyAttachment:PolicyAttachment")]:
        for role in stack.referenced(attachment, prop, ROLE):
            for exclusive in ("managedPolicyArns", "inlinePolicies"):
                if as_list(role.props.get(exclusive)):
                    found.append((attachment.urn, f"{attachment.type.rsplit(':', 1)[1]} should not be used with a role {role.urn} that defines {exclusive}"))
    return found


def _node_roles_without_cni(stack: Stack) -> list[tuple[str, str]]:
    """The VPC CNI's permissions belong to its own pods' role: on a node role, any pod that reaches
    the node's credentials could rewire the node's network interfaces."""
    found = []
    for role in stack.of_type(ROLE):
        if "ec2.amazonaws.com" not in [name for statement in statements(role.props.get("assumeRolePolicy")) for name in service_principals(statement)]:
            continue
        attached = [(r.urn, r.props.get("policyArn")) for r in stack.referencing(role, "role", "aws:iam/rolePolicyAttachment:RolePolicyAttachment")]
        attached += [(role.urn, arn) for arn in as_list(role.props.get("managedPolicyArns"))]
        found += [(urn, f"the node role {role.urn} carries {arn}: give it to the aws-node service account through Pod Identity")
                  for urn, arn in attached if str(arn).endswith(CNI_POLICY)]
    return found


def associations(stack: Stack) -> Iterator[tuple[Resource, str, str, str, str]]:
    """(resource, cluster name, namespace, service account, role ARN) of every Pod Identity association."""
    for association in stack.of_type(POD_IDENTITY_ASSOCIATION):
        props = association.props
        yield association, props.get("clusterName"), props.get("namespace"), props.get("serviceAccount"), props.get("roleArn")
    for addon in stack.of_type(ADDON):
        for item in as_list(addon.props.get("podIdentityAssociations")):
            yield addon, addon.props.get("clusterName"), ADDON_NAMESPACE, item.get("serviceAccount"), item.get("roleArn")


def trust_admits(trust: object, cluster: object, namespace: str, service_account: str) -> bool:
    for statement in statements(trust):
        if statement.get("Effect") != "Allow" or POD_IDENTITY_SERVICE not in service_principals(statement):
            continue
        keys = condition_keys(statement)
        cluster_arns = [str(arn) for arn in as_list(keys.get("aws:requesttag/eks-cluster-arn"))]
        cluster_names = [str(name) for name in as_list(keys.get("aws:requesttag/eks-cluster-name"))]
        cluster_ok = not isinstance(cluster, str) or any(arn.endswith(f":cluster/{cluster}") for arn in cluster_arns) or cluster in cluster_names
        if cluster_ok and namespace in as_list(keys.get("aws:requesttag/kubernetes-namespace")) \
                and service_account in as_list(keys.get("aws:requesttag/kubernetes-service-account")):
            return True
    return False


def _associations_trusted(stack: Stack) -> list[tuple[str, str]]:
    roles = stack.of_type(ROLE)
    found = []
    for resource, cluster, namespace, service_account, role_arn in associations(stack):
        role = next((r for r in roles if role_arn in r.names()), None)
        if role is None and resource.type == POD_IDENTITY_ASSOCIATION:
            role = next(iter(stack.referenced(resource, "roleArn", ROLE)), None)
        if role is None or not document(role.props.get("assumeRolePolicy")):
            continue  # a role outside the stack, or one whose trust is not known yet
        if not trust_admits(role.props.get("assumeRolePolicy"), cluster, namespace, service_account):
            found.append((resource.urn, f"the trust policy of {role.urn} does not admit {namespace}/{service_account} of cluster {cluster}: "
                                        "the pods would get no credentials"))
    return found


def _applies_to_documents(resource_type: str) -> bool:
    return resource_type in IDENTITY_POLICY_TYPES or resource_type in RESOURCE_POLICY_TYPES or resource_type == ROLE


RULES = (
    Rule("iam-no-wildcard-actions", "No IAM, bucket, queue, topic, repository or key policy allows `*` or `service:*` actions.",
         _applies_to_documents, _no_wildcard_actions),
    Rule("resource-policies-not-public", "No resource policy allows anyone without an account, organisation or network condition; key policies stay in one account.",
         lambda t: t in RESOURCE_POLICY_TYPES, _no_public_principals),
    Rule("service-principals-scoped-to-source", "Trust and resource policies let AWS services act only for this account or resource (aws:SourceAccount/aws:SourceArn).",
         lambda t: t == ROLE or t in RESOURCE_POLICY_TYPES, _service_source_conditions),
    Rule("pod-identity-trust-scoped", "Roles for EKS Pod Identity name the account, the cluster, the namespace and the service account.",
         lambda t: t == ROLE, _pod_identity_trust),
    Rule("kms-grants-via-service", "Identity policies use KMS keys for data only through an AWS service (kms:ViaService).",
         lambda t: t in IDENTITY_POLICY_TYPES or t == ROLE, _kms_via_service),
    Rule("ecr-cross-account-pull-only", "ECR repository policies let other accounts pull, and nothing more.",
         lambda t: t == "aws:ecr/repositoryPolicy:RepositoryPolicy", _ecr_pull_only),
)

STACK_RULES = (
    StackRule("iam-role-no-policy-management-conflicts",
              "Roles that manage their policies exclusively (managedPolicyArns, inlinePolicies) get no policies attached separately.",
              _policy_conflicts, source="iam-role-no-policy-management-conflicts"),
    StackRule("node-roles-without-cni-policy", "Node roles carry no VPC CNI policy; the CNI's own pods get it through Pod Identity.",
              _node_roles_without_cni),
    StackRule("pod-identity-associations-trusted", "Every Pod Identity association's role trusts exactly that cluster, namespace and service account.",
              _associations_trusted),
)
