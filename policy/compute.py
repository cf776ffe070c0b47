"""Nodes and the cluster: what every node launches with, how far pods are kept from the node's
credentials, how much each pool may grow, and how the EKS control plane is reached and logged."""

from __future__ import annotations

from typing import Any

from policy.model import Resource, Rule, as_list, of_types, truthy
from policy.tags import LAUNCH_TEMPLATE, STORAGE_CLASS, ebs_parameters, is_node_class

INSTANCE = "aws:ec2/instance:Instance"
SUBNET = "aws:ec2/subnet:Subnet"
VOLUME = "aws:ebs/volume:Volume"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
GPU_RESOURCE = "nvidia.com/gpu"
# Requirement keys and values that let a NodePool launch GPU instances.
GPU_REQUIREMENT_KEYS = ("karpenter.k8s.aws/instance-gpu-manufacturer", "karpenter.k8s.aws/instance-gpu-count",
                        "karpenter.k8s.aws/instance-gpu-name", "karpenter.k8s.aws/instance-accelerator-manufacturer")
GPU_FAMILY_PREFIXES = ("g", "p")


def applies_to_nodes(resource_type: str) -> bool:
    return resource_type in (LAUNCH_TEMPLATE, INSTANCE) or is_node_class(resource_type)


def metadata_options(resource: Resource) -> dict:
    source = (resource.props.get("spec") or {}) if is_node_class(resource.type) else resource.props
    return source.get("metadataOptions") or {}


def _imdsv2(resource: Resource) -> list[str]:
    if metadata_options(resource).get("httpTokens") != "required":
        return ["metadataOptions.httpTokens must be 'required' (IMDSv2)"]
    return []


def _hop_limit(resource: Resource) -> list[str]:
    limit = metadata_options(resource).get("httpPutResponseHopLimit")
    if limit is None or float(limit) != 1:
        return [f"metadataOptions.httpPutResponseHopLimit must be 1, got {limit!r}: at 2 any pod reaches the node role's credentials"]
    return []


def block_devices(resource: Resource) -> list[dict]:
    """The EBS settings of every volume a launch template, instance or node class declares."""
    props = resource.props
    if is_node_class(resource.type):
        return [mapping.get("ebs") or {} for mapping in (props.get("spec") or {}).get("blockDeviceMappings") or []]
    if resource.type == INSTANCE:
        return [props.get("rootBlockDevice") or {}] + list(props.get("ebsBlockDevices") or [])
    return [mapping.get("ebs") or {} for mapping in props.get("blockDeviceMappings") or []]


def _encrypted_volumes(resource: Resource) -> list[str]:
    if resource.type == STORAGE_CLASS:
        parameters = ebs_parameters(resource)
        return ["parameters.encrypted must be 'true'"] if parameters and not truthy(parameters.get("encrypted")) else []
    if resource.type == VOLUME:
        return [] if truthy(resource.props.get("encrypted")) else ["the volume must be encrypted"]
    devices = block_devices(resource)
    if not devices:
        return ["no block device is declared, so nothing says the root volume is encrypted"]
    return [f"block device {i} is not encrypted" for i, ebs in enumerate(devices) if not truthy(ebs.get("encrypted"))]


def _volumes_deleted(resource: Resource) -> list[str]:
    return [f"block device {i} outlives its instance (deleteOnTermination is not true): a paid volume nobody uses"
            for i, ebs in enumerate(block_devices(resource)) if not truthy(ebs.get("deleteOnTermination"))]


def _no_public_ip(resource: Resource) -> list[str]:
    props = resource.props
    if resource.type == SUBNET:
        return ["mapPublicIpOnLaunch gives every instance launched here a public IP"] if truthy(props.get("mapPublicIpOnLaunch")) else []
    if resource.type == INSTANCE:
        return ["associatePublicIpAddress must not be true"] if truthy(props.get("associatePublicIpAddress")) else []
    return [f"network interface {i} asks for a public IP" for i, interface in enumerate(props.get("networkInterfaces") or [])
            if truthy(interface.get("associatePublicIpAddress"))]


def _pool_limits(resource: Resource) -> dict:
    return (resource.props.get("spec") or {}).get("limits") or {}


def _pool_capped(resource: Resource) -> list[str]:
    limits = _pool_limits(resource)
    return [f"spec.limits.{key} is not set: the pool could grow without bound" for key in ("cpu", "memory") if not limits.get(key)]


def is_gpu_pool(resource: Resource) -> bool:
    template = ((resource.props.get("spec") or {}).get("template") or {}).get("spec") or {}
    for requirement in template.get("requirements") or []:
        key, values = requirement.get("key"), [str(value) for value in as_list(requirement.get("values"))]
        if key in GPU_REQUIREMENT_KEYS and requirement.get("operator") in ("In", "Exists", "Gt"):
            return True
        if key in ("karpenter.k8s.aws/instance-family", "node.kubernetes.io/instance-type", "karpenter.k8s.aws/instance-category") \
                and any(value.startswith(GPU_FAMILY_PREFIXES) for value in values) and requirement.get("operator") == "In":
            return True
    return False


def _gpu_pool(resource: Resource) -> list[str]:
    if not is_gpu_pool(resource):
        return []
    template = ((resource.props.get("spec") or {}).get("template") or {}).get("spec") or {}
    problems = []
    if not any(taint.get("key") == GPU_RESOURCE and taint.get("effect") == "NoSchedule" for taint in template.get("taints") or []):
        problems.append(f"a GPU pool must carry the taint {GPU_RESOURCE}=true:NoSchedule, or any pod lands on its paid GPUs")
    if not _pool_limits(resource).get(GPU_RESOURCE):
        problems.append(f"a GPU pool must cap spec.limits.{GPU_RESOURCE}")
    return problems


def _vpc_config(resource: Resource) -> dict[str, Any]:
    return resource.props.get("vpcConfig") or {}


def _eks_endpoint(resource: Resource) -> list[str]:
    vpc = _vpc_config(resource)
    if not truthy(vpc.get("endpointPublicAccess")):
        return []
    if resource.environment == "prod":
        return ["the prod API server must not have a public endpoint (vpcConfig.endpointPublicAccess)"]
    cidrs = as_list(vpc.get("publicAccessCidrs"))
    if not cidrs or any(str(cidr).endswith("/0") for cidr in cidrs):
        return ["a public API endpoint must be limited to named networks (vpcConfig.publicAccessCidrs without /0)"]
    return []


def _eks_secrets(resource: Resource) -> list[str]:
    config = resource.props.get("encryptionConfig") or {}
    if "secrets" not in as_list(config.get("resources")) or not (config.get("provider") or {}).get("keyArn"):
        return ["encryptionConfig must envelope-encrypt 'secrets' with a KMS key"]
    return []


def _eks_logging(resource: Resource) -> list[str]:
    missing = [kind for kind in CONTROL_PLANE_LOG_TYPES if kind not in as_list(resource.props.get("enabledClusterLogTypes"))]
    return [f"enabledClusterLogTypes lacks {', '.join(missing)}"] if missing else []


def _eks_access(resource: Resource) -> list[str]:
    access = resource.props.get("accessConfig") or {}
    problems = []
    if access.get("authenticationMode") != "API":
        problems.append("accessConfig.authenticationMode must be 'API' (access entries, no aws-auth ConfigMap)")
    if access.get("bootstrapClusterCreatorAdminPermissions") is not False:
        problems.append("accessConfig.bootstrapClusterCreatorAdminPermissions must be false: admins come from config")
    return problems


RULES = (
    Rule("instance-metadata-imdsv2", "Launch templates, instances and Karpenter node classes require IMDSv2.",
         applies_to_nodes, _imdsv2),
    Rule("instance-metadata-hop-limit-1", "Launch templates, instances and Karpenter node classes keep the IMDS hop limit at 1, out of pods' reach.",
         applies_to_nodes, _hop_limit),
    Rule("encrypted-volumes", "Every EBS volume nodes, StorageClasses or the stack create is encrypted.",
         lambda t: applies_to_nodes(t) or t in (STORAGE_CLASS, VOLUME), _encrypted_volumes, source="encrypted-volumes"),
    Rule("volumes-deleted-with-instances", "Volumes a node launches with are deleted with it.",
         applies_to_nodes, _volumes_deleted, source="ec2-volume-inuse"),
    Rule("no-public-ip-on-launch", "No subnet, launch template or instance hands out public IPs.",
         lambda t: t in (SUBNET, LAUNCH_TEMPLATE, INSTANCE), _no_public_ip, source="ec2-instance-no-public-ip"),
    Rule("node-pools-capped", "Every Karpenter NodePool caps its CPU and memory.", of_types(NODE_POOL), _pool_capped),
    Rule("gpu-node-pools-tainted-and-capped", "Karpenter NodePools that launch GPU instances carry the GPU taint and cap their GPUs.",
         of_types(NODE_POOL), _gpu_pool),
    Rule("eks-endpoint-private-in-prod", "The prod EKS API server has no public endpoint; elsewhere a public one is limited to named networks.",
         of_types(EKS_CLUSTER), _eks_endpoint),
    Rule("eks-secrets-encrypted", "EKS envelope-encrypts Kubernetes Secrets with a KMS key.", of_types(EKS_CLUSTER), _eks_secrets),
    Rule("eks-control-plane-logging", "EKS sends every control plane log type (audit included) to CloudWatch.", of_types(EKS_CLUSTER), _eks_logging),
    Rule("eks-access-entries-only", "EKS authenticates through access entries only, and its creator gets no implicit admin.",
         of_types(EKS_CLUSTER), _eks_access),
)
