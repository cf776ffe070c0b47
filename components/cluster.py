"""Compute: the EKS cluster every workload of the platform runs on.

The control plane authenticates through EKS access entries only (no aws-auth ConfigMap), keeps
its API endpoint private unless the stack allows named networks in, sends every log type to
CloudWatch and envelope-encrypts Secrets with a KMS key of its own. A small on-demand managed
node group runs cluster add-ons and controllers; everything else (CPU and GPU work) runs on
Karpenter capacity declared in `components/nodepools.py`, which scales to zero when idle.

Pods reach AWS through EKS Pod Identity (the agent is an add-on here; other components create
`aws.eks.PodIdentityAssociation`s against `cluster_name`). The IAM OIDC provider is registered
as well, for third-party charts that only speak IRSA.
"""

from __future__ import annotations

import json
from typing import Optional

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.config import SYSTEM_POOL_NAME, ClusterConfig
from components.facts import StackFacts
from components.iam import (
    PodSubject,
    account_id_of,
    ec2_node_role,
    pod_identity_trust,
    service_trust_policy,
)
from components.interfaces import ClusterAccess, NetworkPlacement
from components.keys import encrypted_log_group, service_key
from components.load_balancer_controller import INGRESS_CLASS, load_balancer_controller
from components.namespaces import team_namespaces
from components.nodepools import (
    COMPONENT,
    CONTROLLER_NAMESPACE,
    POOL_LABEL,
    ROOT_DEVICE_NAME,
    ControlPlane,
    NodePools,
    launch_template_metadata_options,
)
from components.storage import ebs_storage_class
from components.tagging import CostTagging

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
CLUSTER_ADMIN_POLICY_ARN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
DEFAULT_STORAGE_CLASS = "gp3-encrypted"
# The EKS-optimized AL2023 AMI of the system node group, by its instances' architecture (EKS AMITypes).
SYSTEM_AMI_TYPES = {"amd64": "AL2023_x86_64_STANDARD", "arm64": "AL2023_ARM_64_STANDARD"}
EBS_CSI_CONTROLLER_SERVICE_ACCOUNT = "ebs-csi-controller-sa"
# The VPC CNI's node agent runs as this service account; it alone manages network interfaces.
VPC_CNI_SERVICE_ACCOUNT = "aws-node"
VPC_CNI_POLICY_ARN = "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"
# What the control plane may do with the Secrets key (the EKS user guide's cluster-role KMS policy).
SECRETS_KEY_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"]

# Add-ons the nodes need to become Ready are installed before the node group; the rest after,
# because their pods need somewhere to run and `pulumi up` waits for them to be healthy.
POD_IDENTITY_AGENT = "eks-pod-identity-agent"
ADDONS_BEFORE_NODES = (POD_IDENTITY_AGENT, "vpc-cni", "kube-proxy")


def kubeconfig(cluster_name: str, endpoint: str, certificate_authority: str, region: str, role_arn: str, profile: Optional[str]) -> str:
    """A kubeconfig that authenticates through `aws eks get-token` as the deploy role."""
    env = [{"name": "AWS_PROFILE", "value": profile}] if profile else None
    user_exec = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": "aws",
        "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--role-arn", role_arn, "--output", "json"],
        "interactiveMode": "Never",
    }
    if env:
        user_exec["env"] = env
    return json.dumps({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": certificate_authority}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "users": [{"name": cluster_name, "user": {"exec": user_exec}}],
    })


def root_volume(size_gi: int) -> aws.ec2.LaunchTemplateBlockDeviceMappingArgs:
    return aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
        device_name=ROOT_DEVICE_NAME,
        ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
            volume_size=size_gi,
            volume_type="gp3",
            encrypted="true",
            delete_on_termination="true",
        ),
    )


def secrets_key_statements(account_id: str, cluster_role_arn: str) -> list[dict]:
    """The control plane itself calls KMS for Secrets, so the key policy names its role."""
    return [{"Sid": "ControlPlaneEncryptsSecrets", "Effect": "Allow", "Principal": {"AWS": cluster_role_arn},
             "Action": list(SECRETS_KEY_ACTIONS), "Resource": "*"}]


class Cluster(pulumi.ComponentResource):
    """EKS control plane, system nodes, add-ons, storage, team namespaces and ingress."""

    def __init__(
        self,
        name: str,
        settings: ClusterConfig,
        facts: StackFacts,
        tagging: CostTagging,
        network: NetworkPlacement,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("mlplatform:compute:Cluster", name, None, opts)
        prefix = facts.name_prefix
        child = pulumi.ResourceOptions(parent=self)
        tags = tagging.resource_tags(COMPONENT)

        def named(name_tag: str) -> dict[str, str]:
            return {**tags, "Name": name_tag}

        # --- control plane ------------------------------------------------------------------
        cluster_role = aws.iam.Role(
            f"{name}-control-plane",
            name=f"{prefix}-eks-cluster",
            assume_role_policy=service_trust_policy("eks.amazonaws.com"),
            tags=tags,
            opts=child,
        )
        cluster_policy = aws.iam.RolePolicyAttachment(
            f"{name}-control-plane",
            role=cluster_role.name,
            policy_arn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
            opts=child,
        )
        self.secrets_key = service_key(
            f"{name}-secrets",
            description=f"Envelope encryption of Kubernetes Secrets in {facts.cluster_name}",
            alias=f"{prefix}-eks-secrets",
            statements=secrets_key_statements,
            statement_inputs=[cluster_role.arn],
            deletion_window_days=settings.kms_deletion_window_days,
            tags=named(f"{prefix}-eks-secrets"),
            opts=child,
        )
        # EKS would create this group itself, unencrypted and kept forever; owning it bounds the
        # cost, encrypts it, and keeps the audit log with the data where data is protected.
        control_plane_logs = encrypted_log_group(
            f"{name}-control-plane-logs",
            name=f"/aws/eks/{facts.cluster_name}/cluster",
            region=facts.region,
            retention_days=settings.control_plane_log_retention_days,
            alias=f"{prefix}-eks-control-plane-logs",
            deletion_window_days=settings.kms_deletion_window_days,
            tags=tags,
            opts=facts.keep(self),
        )

        self.eks_cluster = aws.eks.Cluster(
            f"{name}-eks",
            name=facts.cluster_name,
            version=settings.kubernetes_version,
            role_arn=cluster_role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=network.private_subnet_ids,
                endpoint_private_access=True,
                endpoint_public_access=settings.endpoint.public_access,
                public_access_cidrs=list(settings.endpoint.public_access_cidrs) if settings.endpoint.public_access else None,
            ),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API",
                # Admins come from config as access entries; nobody is admin by having created it.
                bootstrap_cluster_creator_admin_permissions=False,
            ),
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=self.secrets_key.arn),
                resources=["secrets"],
            ),
            # Add-ons are managed below with pinned versions instead of EKS's unmanaged defaults.
            bootstrap_self_managed_addons=False,
            # Extended support costs six times the standard control-plane rate; config decides.
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type=settings.support_type),
            deletion_protection=settings.deletion_protection,
            tags=named(facts.cluster_name),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[cluster_policy, self.secrets_key, control_plane_logs]),
        )
        self.cluster_name: pulumi.Output[str] = self.eks_cluster.name
        self.cluster_security_group_id: pulumi.Output[str] = self.eks_cluster.vpc_config.cluster_security_group_id
        # Karpenter's EC2NodeClass finds the node security group by the same discovery tag as subnets.
        aws.ec2.Tag(
            f"{name}-karpenter-discovery",
            resource_id=self.cluster_security_group_id,
            key="karpenter.sh/discovery",
            value=facts.cluster_name,
            opts=child,
        )

        self.oidc_issuer: pulumi.Output[str] = self.eks_cluster.identities.apply(lambda identities: identities[0].oidcs[0].issuer)
        self.oidc_provider = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=self.oidc_issuer,
            client_id_lists=["sts.amazonaws.com"],
            tags=tags,
            opts=child,
        )

        # --- who may administer the cluster ---------------------------------------------------
        admin_access = []
        # Named by role, not list position, so reordering the admins in config replaces nothing.
        for label, role_arn in [("deployer", settings.deploy_role_arn)] + [(f"admin-{arn.rsplit('/', 1)[1]}", arn) for arn in settings.admin_role_arns]:
            entry = aws.eks.AccessEntry(
                f"{name}-{label}",
                cluster_name=self.cluster_name,
                principal_arn=role_arn,
                type="STANDARD",
                tags=tags,
                opts=child,
            )
            admin_access.append(aws.eks.AccessPolicyAssociation(
                f"{name}-{label}",
                cluster_name=self.cluster_name,
                principal_arn=role_arn,
                policy_arn=CLUSTER_ADMIN_POLICY_ARN,
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[entry]),
            ))

        # --- add-ons ---------------------------------------------------------------------------
        # The add-ons that call AWS get their own roles through Pod Identity, never the node role.
        account_id = account_id_of(self)

        def addon_role(addon_name: str, service_account: str, policy_arn: str) -> aws.iam.Role:
            role = aws.iam.Role(
                f"{name}-{addon_name}",
                name=f"{prefix}-{addon_name}",
                assume_role_policy=pod_identity_trust(facts, account_id, [PodSubject(CONTROLLER_NAMESPACE, service_account)]),
                tags=tags,
                opts=child,
            )
            self.addon_role_policies.append(aws.iam.RolePolicyAttachment(f"{name}-{addon_name}", role=role.name, policy_arn=policy_arn, opts=child))
            return role

        self.addon_role_policies: list[aws.iam.RolePolicyAttachment] = []
        ebs_csi_role = addon_role("ebs-csi", EBS_CSI_CONTROLLER_SERVICE_ACCOUNT, "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy")
        vpc_cni_role = addon_role("vpc-cni", VPC_CNI_SERVICE_ACCOUNT, VPC_CNI_POLICY_ARN)
        self.system_node_selector: dict[str, str] = {POOL_LABEL: SYSTEM_POOL_NAME}
        addon_settings = {
            # Without this the CNI's node agent enforces no NetworkPolicy: notebook egress limits
            # and the model servers' policies would be accepted and do nothing. The add-on's
            # configuration schema takes the flag as a string.
            "vpc-cni": {
                "configuration_values": json.dumps({"enableNetworkPolicy": "true"}),
                "pod_identity_associations": [aws.eks.AddonPodIdentityAssociationArgs(role_arn=vpc_cni_role.arn, service_account=VPC_CNI_SERVICE_ACCOUNT)],
            },
            "coredns": {"configuration_values": json.dumps({"nodeSelector": self.system_node_selector})},
            "aws-ebs-csi-driver": {
                # The node plugin must also run on tainted GPU nodes or their PVCs never attach.
                # The region is given, so the controller never needs instance metadata (hop limit 1).
                "configuration_values": json.dumps({
                    "controller": {"nodeSelector": self.system_node_selector, "region": facts.region},
                    "node": {"tolerateAllTaints": True},
                }),
                "pod_identity_associations": [aws.eks.AddonPodIdentityAssociationArgs(role_arn=ebs_csi_role.arn, service_account=EBS_CSI_CONTROLLER_SERVICE_ACCOUNT)],
            },
        }
        self.addons: dict[str, aws.eks.Addon] = {}

        def addon(addon_name: str, version: str, depends_on: list) -> aws.eks.Addon:
            return aws.eks.Addon(
                f"{name}-{addon_name}",
                cluster_name=self.cluster_name,
                addon_name=addon_name,
                addon_version=version,
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE",
                tags=tags,
                **addon_settings.get(addon_name, {}),
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
            )

        versions = settings.addons.by_addon_name()
        for addon_name in ADDONS_BEFORE_NODES:
            # The CNI takes its credentials from the Pod Identity agent, so the agent comes first.
            waits_for = [self.addons[POD_IDENTITY_AGENT], *self.addon_role_policies] if addon_name == "vpc-cni" else []
            self.addons[addon_name] = addon(addon_name, versions[addon_name], [self.eks_cluster, *waits_for])

        # --- system node group -----------------------------------------------------------------
        self.system_node_role, node_policies = ec2_node_role(f"{name}-system-nodes", f"{prefix}-system-nodes", tags, child)
        group = settings.system_node_group
        self.system_launch_template = aws.ec2.LaunchTemplate(
            f"{name}-system-nodes",
            name=f"{prefix}-system-nodes",
            description="EKS system node group: IMDSv2 only with hop limit 1, encrypted gp3 root volume, cost tags on launch",
            block_device_mappings=[root_volume(group.disk_size_gi)],
            # Controllers here are given their region and VPC, so none needs instance metadata.
            metadata_options=launch_template_metadata_options(),
            tag_specifications=tagging.launch_template_tag_specifications(COMPONENT, name=f"{prefix}-system-node"),
            update_default_version=True,
            tags=tags,
            opts=child,
        )
        self.system_node_group = aws.eks.NodeGroup(
            f"{name}-system",
            cluster_name=self.cluster_name,
            node_group_name=f"{prefix}-system",
            node_role_arn=self.system_node_role.arn,
            subnet_ids=network.private_subnet_ids,
            ami_type=SYSTEM_AMI_TYPES[group.architecture],
            capacity_type=group.capacity_type,
            instance_types=list(group.instance_types),
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=group.min_size,
                desired_size=group.desired_size,
                max_size=group.max_size,
            ),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=self.system_launch_template.id,
                version=self.system_launch_template.latest_version.apply(str),
            ),
            labels=self.system_node_selector,
            tags=named(f"{prefix}-system"),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[*node_policies, *self.addons.values()],
            ),
        )
        for addon_name, version in versions.items():
            if addon_name not in ADDONS_BEFORE_NODES:
                self.addons[addon_name] = addon(addon_name, version, [self.system_node_group])

        # --- Kubernetes provider ---------------------------------------------------------------
        self.kubeconfig: pulumi.Output[str] = pulumi.Output.secret(pulumi.Output.all(
            self.eks_cluster.name, self.eks_cluster.endpoint, self.eks_cluster.certificate_authority.data,
        ).apply(lambda args: kubeconfig(args[0], args[1], args[2], facts.region, settings.deploy_role_arn, facts.aws_profile)))
        self.k8s_provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self, depends_on=admin_access),
        )
        with_k8s = pulumi.ResourceOptions(parent=self, provider=self.k8s_provider)

        # --- storage ---------------------------------------------------------------------------
        self.storage_class_name = DEFAULT_STORAGE_CLASS
        self.storage_class = ebs_storage_class(
            f"{name}-{DEFAULT_STORAGE_CLASS}",
            DEFAULT_STORAGE_CLASS,
            labels=tagging.k8s_labels(COMPONENT, app="ebs-storage"),
            tag_parameters=tagging.ebs_csi_storage_class_parameters(COMPONENT),
            opts=with_k8s,
            default=True,
        )

        # --- team namespaces -------------------------------------------------------------------
        self.namespace_resources: dict[str, k8s.core.v1.Namespace] = team_namespaces(name, settings, tagging, with_k8s)
        self.team_namespaces: dict[str, str] = {team: team for team in self.namespace_resources}

        # --- AWS Load Balancer Controller ------------------------------------------------------
        self.ingress_class_name = INGRESS_CLASS
        self.load_balancer_controller = load_balancer_controller(
            self, name, settings, facts, tagging,
            cluster_name=self.cluster_name,
            vpc_id=network.vpc_id,
            system_node_selector=self.system_node_selector,
            k8s_provider=self.k8s_provider,
            pod_identity_agent=self.addons[POD_IDENTITY_AGENT],
            ready=[self.system_node_group, *self.addons.values()],
        )

        # --- Karpenter node pools and the GPU device plugin ------------------------------------
        control_plane = ControlPlane(
            cluster_name=self.cluster_name,
            endpoint=self.eks_cluster.endpoint,
            k8s_provider=self.k8s_provider,
            system_node_selector=self.system_node_selector,
            pod_identity_agent=self.addons[POD_IDENTITY_AGENT],
            system_nodes_ready=[self.system_node_group, *self.addons.values()],
        )
        self.node_pools = NodePools(f"{name}-nodepools", settings, facts, tagging, control_plane, opts=pulumi.ResourceOptions(parent=self))
        self.gpu_node_selector: dict[str, str] = self.node_pools.gpu_node_selector
        self.gpu_toleration: Optional[dict[str, str]] = self.node_pools.gpu_toleration

        self.endpoint: pulumi.Output[str] = self.eks_cluster.endpoint
        self.access = ClusterAccess(
            cluster_name=self.cluster_name,
            k8s_provider=self.k8s_provider,
            system_node_selector=self.system_node_selector,
            gpu_node_selector=self.gpu_node_selector,
            gpu_toleration=self.gpu_toleration,
            gpu_pool_names=settings.gpu_pool_names,
            storage_class_name=self.storage_class_name,
            storage_class=self.storage_class,
            ingress_class_name=self.ingress_class_name,
            load_balancer_controller=self.load_balancer_controller,
            team_namespaces=self.team_namespaces,
            namespace_resources=self.namespace_resources,
            vpc_cidr=network.vpc_cidr,
            ingress_group=facts.name_prefix if settings.shared_load_balancer else None,
        )
        self.register_outputs({
            "clusterName": self.cluster_name,
            "endpoint": self.endpoint,
            "oidcIssuer": self.oidc_issuer,
            "kubeconfig": self.kubeconfig,
            "storageClassName": self.storage_class_name,
            "teamNamespaces": self.team_namespaces,
            "ingressClassName": self.ingress_class_name,
        })
