"""One violating and one passing fixture per rule of the pack.

A resource case is (rule, type, bad props, good props, context): context holds the other
`Resource` fields a rule reads (the environment). A stack case is (rule, bad stack, good stack),
each a list of `Resource`s, the settings naming their bucket by id as the engine would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from components.tagging import CostTagging
from policy.model import Resource

TAGGING = CostTagging("CC-1", "dev", "mlplatform", "ml-platform")
FULL_TAGS = TAGGING.all_tags("compute")
LABELS = TAGGING.k8s_labels("compute", app="thing")
ACCOUNT = "123456789012"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234"


@dataclass(frozen=True)
class Case:
    rule: str
    type: str
    bad: dict
    good: dict
    context: dict = field(default_factory=dict)


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions: Any, resource: Any = "*", **extra: Any) -> dict:
    return {"Sid": "S", "Effect": "Allow", "Action": actions, "Resource": resource, **extra}


def service(name: str, condition: dict | None = None, actions: Any = "sts:AssumeRole") -> dict:
    statement = {"Sid": "S", "Effect": "Allow", "Principal": {"Service": name}, "Action": actions}
    return {**statement, "Condition": condition} if condition else statement


POD_TRUST_CONDITION = {"StringEquals": {
    "aws:SourceAccount": ACCOUNT, "aws:RequestTag/eks-cluster-arn": f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/c",
    "aws:RequestTag/kubernetes-namespace": "team", "aws:RequestTag/kubernetes-service-account": "app"}}
NODE_METADATA = {"httpTokens": "required", "httpPutResponseHopLimit": 1.0}
ENCRYPTED_ROOT = {"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "deleteOnTermination": "true"}}
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
EKS = "aws:eks/cluster:Cluster"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
RELEASE = "kubernetes:helm.sh/v3:Release"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
REPOSITORY = "aws:ecr/repository:Repository"
HARDENED = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
CONTAINER = {"name": "app", "image": "repo/app:1.0", "securityContext": HARDENED,
             "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}}


def deployment(**pod: Any) -> dict:
    spec = {"automountServiceAccountToken": False, "containers": [CONTAINER], **pod}
    return {"metadata": {"labels": LABELS}, "spec": {"template": {"spec": spec}}}


def ingress(**annotations: str) -> dict:
    base = {
        "alb.ingress.kubernetes.io/listen-ports": '[{"HTTPS": 443}]',
        "alb.ingress.kubernetes.io/certificate-arn": f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/x",
        "alb.ingress.kubernetes.io/ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "alb.ingress.kubernetes.io/inbound-cidrs": "10.0.0.0/8",
        "alb.ingress.kubernetes.io/load-balancer-attributes": "access_logs.s3.enabled=true,access_logs.s3.bucket=logs,deletion_protection.enabled=true",
    }
    return {"metadata": {"annotations": {**base, **annotations}}, "spec": {"ingressClassName": "alb"}}


def gpu_pool(taints: list, limits: dict) -> dict:
    requirement = {"key": "karpenter.k8s.aws/instance-gpu-manufacturer", "operator": "In", "values": ["nvidia"]}
    return {"spec": {"template": {"spec": {"requirements": [requirement], "taints": taints}}, "limits": limits}}


GPU_TAINT = [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]

RESOURCE_CASES = [
    Case("cost-tags-on-aws-resources", "aws:s3/bucket:Bucket", {"bucket": "b"}, {"tags": {"Team": "t", "Component": "datalake"}}),
    Case("aws-provider-default-tags", "pulumi:providers:aws", {"defaultTags": json.dumps({"tags": {"Environment": "qa"}})},
         {"defaultTags": json.dumps({"tags": TAGGING.default_tags()})}),
    Case("launch-templates-tag-what-they-launch", LAUNCH_TEMPLATE, {"tagSpecifications": [{"resourceType": "instance", "tags": FULL_TAGS}]},
         {"tagSpecifications": [{"resourceType": kind, "tags": FULL_TAGS} for kind in ("instance", "volume", "network-interface")]}),
    Case("karpenter-node-classes-tagged", NODE_CLASS, {"spec": {"tags": {"Team": "t"}}}, {"spec": {"tags": FULL_TAGS}}),
    Case("ebs-storage-classes-tagged", "kubernetes:storage.k8s.io/v1:StorageClass", {"provisioner": "ebs.csi.aws.com", "parameters": {}},
         {"provisioner": "ebs.csi.aws.com", "parameters": TAGGING.ebs_csi_storage_class_parameters("compute")}),
    Case("kubernetes-cost-labels", "kubernetes:core/v1:ServiceAccount", {"metadata": {"labels": {"team": "vision", "component": "x"}}},
         {"metadata": {"labels": LABELS}}),
    Case("instance-metadata-imdsv2", NODE_CLASS, {"spec": {"metadataOptions": {"httpTokens": "optional"}}}, {"spec": {"metadataOptions": NODE_METADATA}}),
    Case("instance-metadata-hop-limit-1", LAUNCH_TEMPLATE, {"metadataOptions": {**NODE_METADATA, "httpPutResponseHopLimit": 2.0}},
         {"metadataOptions": NODE_METADATA}),
    Case("encrypted-volumes", LAUNCH_TEMPLATE, {"blockDeviceMappings": [{"ebs": {"encrypted": "false"}}]}, {"blockDeviceMappings": [ENCRYPTED_ROOT]}),
    Case("volumes-deleted-with-instances", NODE_CLASS, {"spec": {"blockDeviceMappings": [{"ebs": {"deleteOnTermination": False}}]}},
         {"spec": {"blockDeviceMappings": [{"ebs": {"encrypted": True, "deleteOnTermination": True}}]}}),
    Case("no-public-ip-on-launch", "aws:ec2/subnet:Subnet", {"mapPublicIpOnLaunch": True}, {"mapPublicIpOnLaunch": False}),
    Case("node-pools-capped", NODE_POOL, {"spec": {"limits": {"cpu": "10"}}}, {"spec": {"limits": {"cpu": "10", "memory": "40Gi"}}}),
    Case("gpu-node-pools-tainted-and-capped", NODE_POOL, gpu_pool([], {"cpu": "8", "memory": "8Gi"}),
         gpu_pool(GPU_TAINT, {"cpu": "8", "memory": "8Gi", "nvidia.com/gpu": "4"})),
    Case("eks-endpoint-private-in-prod", EKS, {"vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["10.0.0.0/8"]}},
         {"vpcConfig": {"endpointPublicAccess": False}}, {"environment": "prod"}),
    Case("eks-secrets-encrypted", EKS, {"encryptionConfig": {"resources": ["configmaps"]}},
         {"encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": KEY_ARN}}}),
    Case("eks-control-plane-logging", EKS, {"enabledClusterLogTypes": ["api"]},
         {"enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"]}),
    Case("eks-access-entries-only", EKS, {"accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"}},
         {"accessConfig": {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}}),
    Case("efs-encrypted", "aws:efs/fileSystem:FileSystem", {"encrypted": True}, {"encrypted": True, "kmsKeyId": KEY_ARN}),
    Case("sns-topics-encrypted", "aws:sns/topic:Topic", {"name": "alerts"}, {"kmsMasterKeyId": KEY_ARN}),
    Case("sqs-queues-encrypted", "aws:sqs/queue:Queue", {"sqsManagedSseEnabled": False}, {"sqsManagedSseEnabled": True}),
    Case("log-groups-encrypted", LOG_GROUP, {"retentionInDays": 30.0}, {"kmsKeyId": KEY_ARN}),
    Case("log-retention-bounds", LOG_GROUP, {"retentionInDays": 30.0}, {"retentionInDays": 365.0}, {"environment": "prod"}),
    Case("ecr-repositories-kms-encrypted", REPOSITORY, {"encryptionConfigurations": [{"encryptionType": "AES256"}]},
         {"encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": KEY_ARN}]}),
    Case("ecr-scan-on-push", REPOSITORY, {"imageScanningConfiguration": {"scanOnPush": False}}, {"imageScanningConfiguration": {"scanOnPush": True}}),
    Case("ecr-tags-immutable-outside-dev", REPOSITORY, {"imageTagMutability": "MUTABLE"}, {"imageTagMutability": "IMMUTABLE"}, {"environment": "staging"}),
    Case("sagemaker-endpoints-encrypted", "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
         {"productionVariants": [{"instanceType": "ml.m5.large"}], "dataCaptureConfig": {"enableCapture": True}},
         {"productionVariants": [{"instanceType": "ml.m5.large"}], "kmsKeyArn": KEY_ARN, "dataCaptureConfig": {"kmsKeyId": KEY_ARN}}),
    Case("kms-key-rotation", "aws:kms/key:Key", {"enableKeyRotation": False}, {"enableKeyRotation": True}),
    Case("iam-no-wildcard-actions", ROLE_POLICY, {"policy": doc(allow("s3:*"))}, {"policy": doc(allow(["s3:GetObject"]))}),
    Case("resource-policies-not-public", "aws:s3/bucketPolicy:BucketPolicy", {"policy": doc(allow("s3:GetObject", Principal="*"))},
         {"policy": doc(allow("s3:GetObject", Principal="*", Condition={"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}))}),
    Case("service-principals-scoped-to-source", ROLE, {"assumeRolePolicy": doc(service("vpc-flow-logs.amazonaws.com"))},
         {"assumeRolePolicy": doc(service("vpc-flow-logs.amazonaws.com", {"StringEquals": {"aws:SourceAccount": ACCOUNT}}))}),
    Case("pod-identity-trust-scoped", ROLE, {"assumeRolePolicy": doc(service("pods.eks.amazonaws.com", actions=["sts:AssumeRole", "sts:TagSession"]))},
         {"assumeRolePolicy": doc(service("pods.eks.amazonaws.com", POD_TRUST_CONDITION, ["sts:AssumeRole", "sts:TagSession"]))}),
    Case("kms-grants-via-service", ROLE_POLICY, {"policy": doc(allow(["kms:Decrypt"], KEY_ARN))},
         {"policy": doc(allow(["kms:Decrypt"], KEY_ARN, Condition={"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}))}),
    Case("ecr-cross-account-pull-only", "aws:ecr/repositoryPolicy:RepositoryPolicy",
         {"policy": doc(allow(["ecr:BatchGetImage", "ecr:PutImage"], Principal={"AWS": "arn:aws:iam::210987654321:root"}))},
         {"policy": doc(allow(["ecr:BatchGetImage"], Principal={"AWS": "arn:aws:iam::210987654321:root"}))}),
    Case("namespaces-pod-security", "kubernetes:core/v1:Namespace", {"metadata": {"labels": LABELS}},
         {"metadata": {"labels": {**LABELS, "pod-security.kubernetes.io/enforce": "baseline"}}}),
    Case("pods-no-host-namespaces", "kubernetes:apps/v1:DaemonSet", deployment(hostNetwork=True), deployment(hostNetwork=False)),
    Case("pods-restricted-security-context", DEPLOYMENT, deployment(containers=[{**CONTAINER, "securityContext": {}}]), deployment()),
    Case("pods-no-service-account-token", "kubernetes:batch/v1:CronJob",
         {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [CONTAINER]}}}}}},
         {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"automountServiceAccountToken": False, "containers": [CONTAINER]}}}}}}),
    Case("containers-resources-bounded", DEPLOYMENT, deployment(containers=[{**CONTAINER, "resources": {}}]), deployment()),
    Case("images-pinned", DEPLOYMENT, deployment(containers=[{**CONTAINER, "image": "repo/app:latest"}]), deployment()),
    Case("ingress-https-only", INGRESS, ingress(**{"alb.ingress.kubernetes.io/listen-ports": '[{"HTTP": 80}]'}), ingress()),
    Case("ingress-allow-list", INGRESS, ingress(**{"alb.ingress.kubernetes.io/inbound-cidrs": "0.0.0.0/0"}), ingress()),
    Case("ingress-access-logs", INGRESS, ingress(**{"alb.ingress.kubernetes.io/load-balancer-attributes": "deletion_protection.enabled=true"}), ingress()),
    Case("ingress-deletion-protection-in-prod", INGRESS,
         ingress(**{"alb.ingress.kubernetes.io/load-balancer-attributes": "access_logs.s3.enabled=true,access_logs.s3.bucket=logs"}),
         ingress(), {"environment": "prod"}),
    Case("notebook-culling-on", RELEASE, {"chart": "jupyterhub", "version": "4.4.0", "values": {"cull": {"enabled": False}}},
         {"chart": "jupyterhub", "version": "4.4.0", "values": {"cull": {"enabled": True, "timeout": 3600.0}}}),
    Case("helm-releases-pinned", RELEASE, {"chart": "karpenter", "version": "^1.8"}, {"chart": "karpenter", "version": "1.8.2"}),
    Case("security-groups-no-open-ingress", "aws:ec2/securityGroup:SecurityGroup", {"ingress": [{"cidrBlocks": ["0.0.0.0/0"]}]},
         {"ingress": [{"cidrBlocks": ["10.0.0.0/16"]}]}),
]


def resource(kind: str, name: str, **props: Any) -> Resource:
    """A resource named `name`, whose id is its name (what settings refer to it by)."""
    return Resource(kind, props, urn=f"urn:pulumi:prod::p::{kind}::{name}", outputs={"id": name})


def protected(item: Resource, retained: bool = True) -> Resource:
    return Resource(item.type, item.props, urn=item.urn, protect=True, retain_on_delete=retained, outputs=item.outputs, environment=item.environment)


BUCKET = "aws:s3/bucket:Bucket"
PROVIDER_PROD = Resource("pulumi:providers:aws", {}, urn="urn:pulumi:prod::p::pulumi:providers:aws::aws", environment="prod")


def bucket_with(*settings: tuple[str, dict]) -> list[Resource]:
    return [resource(BUCKET, "data"), *(resource(kind, f"setting-{i}", bucket="data", **props) for i, (kind, props) in enumerate(settings))]


S3 = "aws:s3/"
SSE = (f"{S3}bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
       {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": "key"}}]})
VERSIONED = (f"{S3}bucketVersioning:BucketVersioning", {"versioningConfiguration": {"status": "Enabled"}})
SUSPENDED = (f"{S3}bucketVersioning:BucketVersioning", {"versioningConfiguration": {"status": "Suspended"}})
PAB = (f"{S3}bucketPublicAccessBlock:BucketPublicAccessBlock", {flag: True for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")})
TLS = (f"{S3}bucketPolicy:BucketPolicy", {"policy": doc({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})})
LOGGED = (f"{S3}bucketLogging:BucketLogging", {"targetBucket": "logs"})
OWNED = (f"{S3}bucketOwnershipControls:BucketOwnershipControls", {"rule": {"objectOwnership": "BucketOwnerEnforced"}})
EXPIRING = (f"{S3}bucketLifecycleConfiguration:BucketLifecycleConfiguration", {"rules": [{"status": "Enabled", "noncurrentVersionExpiration": {"noncurrentDays": 7}}]})
KEY = resource("aws:kms/key:Key", "key", enableKeyRotation=True)
POD_ROLE = Resource(ROLE, {"assumeRolePolicy": doc(service("pods.eks.amazonaws.com", POD_TRUST_CONDITION))}, urn="urn:role", outputs={"arn": "role-arn"})
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
CNI_POLICY_ARN = "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"
NODE_ROLE = resource(ROLE, "node", assumeRolePolicy=doc(service("ec2.amazonaws.com")))


def association(namespace: str) -> Resource:
    return resource(ASSOCIATION, f"assoc-{namespace}", clusterName="c", namespace=namespace, serviceAccount="app", roleArn="role-arn")


STACK_CASES = [
    ("s3-buckets-encrypted", bucket_with(VERSIONED), bucket_with(SSE)),
    ("s3-buckets-versioned", bucket_with(SUSPENDED), bucket_with(VERSIONED)),
    ("s3-buckets-block-public-access", bucket_with((PAB[0], {**PAB[1], "restrictPublicBuckets": False})), bucket_with(PAB)),
    ("s3-buckets-tls-only", bucket_with((TLS[0], {"policy": doc(allow("s3:GetObject"))})), bucket_with(TLS)),
    ("s3-bucket-logging-enabled", bucket_with(), bucket_with(LOGGED) + [resource(BUCKET, "logs")]),
    ("s3-buckets-acls-disabled", bucket_with((OWNED[0], {"rule": {"objectOwnership": "ObjectWriter"}})), bucket_with(OWNED)),
    ("s3-noncurrent-versions-expire", bucket_with(VERSIONED), bucket_with(VERSIONED, EXPIRING)),
    ("ecr-lifecycle-policy", [resource(REPOSITORY, "repo")],
     [resource(REPOSITORY, "repo"), resource("aws:ecr/lifecyclePolicy:LifecyclePolicy", "lifecycle", repository="repo")]),
    ("iam-role-no-policy-management-conflicts",
     [resource(ROLE, "r", managedPolicyArns=["arn"]), resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "a", role="r")],
     [resource(ROLE, "r"), resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "a", role="r")]),
    ("pod-identity-associations-trusted", [POD_ROLE, association("other")], [POD_ROLE, association("team")]),
    ("node-roles-without-cni-policy", [NODE_ROLE, resource(ATTACHMENT, "cni", role="node", policyArn=CNI_POLICY_ARN)],
     [NODE_ROLE, resource(ATTACHMENT, "cni", role="node", policyArn="arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy")]),
    ("vpc-flow-logs-enabled", [resource("aws:ec2/vpc:Vpc", "vpc")],
     [resource("aws:ec2/vpc:Vpc", "vpc"), resource("aws:ec2/flowLog:FlowLog", "flow", vpcId="vpc")]),
    ("security-group-no-rule-management-conflicts",
     [resource("aws:ec2/securityGroup:SecurityGroup", "sg", ingress=[{"cidrBlocks": ["10.0.0.0/8"]}]),
      resource("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "rule", securityGroupId="sg")],
     [resource("aws:ec2/securityGroup:SecurityGroup", "sg"), resource("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "rule", securityGroupId="sg")]),
    ("data-protected-in-prod", [PROVIDER_PROD, resource(LOG_GROUP, "audit")], [PROVIDER_PROD, protected(resource(LOG_GROUP, "audit"))]),
    ("protection-covers-dependencies", [protected(resource(BUCKET, "data")), resource(SSE[0], "sse", bucket="data", **SSE[1]), KEY],
     [protected(resource(BUCKET, "data")), protected(resource(SSE[0], "sse", bucket="data", **SSE[1])), protected(KEY)]),
]
