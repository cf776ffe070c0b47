"""Team folders: a shared folder per team, on one EFS file system per environment, in every notebook.

Private homes stay on gp3 (one volume per user, billed to the team): EFS has no per-user quota, so a
shared file system is only for what a team shares on purpose.

- One EFS file system per environment, encrypted with a key of its own, lifecycle to Infrequent
  Access (and Archive where the stack says) and back on access, AWS Backup's daily backups where the
  stack says, protected and retained where the stack protects its data. TLS is required of every
  client by the file system policy.
- One access point per team: every operation through it runs as the team's own POSIX uid/gid, inside
  the team's root directory `/teams/<team>`, which EFS creates owned by that identity (0770). A team
  can reach no other team's files: its volumes name only its own access point.
- Mount targets in the private subnets, behind a security group that admits NFS (2049/tcp) from the
  cluster's nodes only (the cluster security group every node carries).
- The EFS CSI driver as an EKS add-on, its controller on the system nodes with its own Pod Identity
  role. Volumes are provisioned statically: per team one PersistentVolume (`volumeHandle:
  <fs-id>::<fsap-id>`) claimed by the team's namespace (its Ray and Spark work) and one claimed in
  the notebooks namespace (its notebook servers). Each volume is pre-bound to exactly its claim, so
  no other claim can take it; the StorageClass provisions nothing by itself.
- The access points carry their team's cost tags and the claims and volumes their team's labels.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.config import TeamFoldersConfig
from components.config.team_folders import lifecycle_value
from components.facts import StackFacts
from components.iam import PodSubject, account_id_of, pod_identity_trust, policy_document
from components.interfaces import ClusterAccess, NetworkPlacement
from components.keys import service_key
from components.notebook_profiles import NAMESPACE as NOTEBOOKS_NAMESPACE
from components.notebook_profiles import TeamFolderMounts
from components.tagging import CostTagging

# Team folders are part of the notebook environments teams share; their cost is the notebooks'.
COMPONENT = "notebooks"
ADDON_NAME = "aws-efs-csi-driver"
CSI_DRIVER = "efs.csi.aws.com"
CONTROLLER_NAMESPACE = "kube-system"
CONTROLLER_SERVICE_ACCOUNT = "efs-csi-controller-sa"
CSI_DRIVER_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AmazonEFSCSIDriverPolicy"
STORAGE_CLASS = "team-folders"
NFS_PORT = 2049
ROOT_PERMISSIONS = "0770"
VOLUME_NAME = "team-folder"


def root_directory(team: str) -> str:
    return f"/teams/{team}"


def claim_name(team: str) -> str:
    """The team's claim: `team-folder` in its own namespace, `team-folder-<team>` among the notebooks."""
    return f"team-folder-{team}"


def volume_handle(file_system_id: str, access_point_id: str) -> str:
    # The EFS CSI driver's static form for a volume through an access point: `<fs>::<fsap>`.
    return f"{file_system_id}::{access_point_id}"


def file_system_policy(file_system_arn: str) -> str:
    """Clients must mount with TLS; nobody may bypass it (the EFS user guide's in-transit policy)."""
    return policy_document([{
        "Sid": "RequireTls",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "*",
        "Resource": file_system_arn,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }])


def lifecycle_policies(settings: TeamFoldersConfig) -> list[aws.efs.FileSystemLifecyclePolicyArgs]:
    # EFS takes each transition as a policy object of its own.
    policies = [aws.efs.FileSystemLifecyclePolicyArgs(transition_to_ia=lifecycle_value(settings.transition_to_ia_days))]
    if settings.transition_to_archive_days is not None:
        policies.append(aws.efs.FileSystemLifecyclePolicyArgs(transition_to_archive=lifecycle_value(settings.transition_to_archive_days)))
    if settings.back_to_standard_on_access:
        policies.append(aws.efs.FileSystemLifecyclePolicyArgs(transition_to_primary_storage_class="AFTER_1_ACCESS"))
    return policies


def notebook_mounts(settings: TeamFoldersConfig) -> TeamFolderMounts:
    """What notebook servers mount: known from config, so the hub's values need no resource of this component."""
    return TeamFolderMounts(claims={team: claim_name(team) for team, _ in settings.teams}, mount_path=settings.mount_path)


class TeamFolders(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        settings: TeamFoldersConfig,
        facts: StackFacts,
        tagging: CostTagging,
        network: NetworkPlacement,
        cluster: ClusterAccess,
        node_security_group_id: pulumi.Input[str],
        notebooks_namespace: pulumi.Resource,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("mlplatform:notebooks:TeamFolders", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        kept = facts.keep(self)
        tags = tagging.resource_tags(COMPONENT)
        prefix = facts.name_prefix

        # --- the file system -------------------------------------------------------------------
        self.key = service_key(
            f"{name}-key",
            description=f"Encryption of the {prefix} team folders (EFS)",
            alias=f"{prefix}-team-folders",
            # EFS uses the key through grants on behalf of the caller, so IAM decides; no service statement.
            statements=lambda account_id: [],
            deletion_window_days=settings.kms_deletion_window_days,
            tags=tags,
            opts=kept,
        )
        self.file_system = aws.efs.FileSystem(
            f"{name}-efs",
            creation_token=f"{prefix}-team-folders",
            encrypted=True,
            kms_key_id=self.key.arn,
            performance_mode="generalPurpose",
            throughput_mode=settings.throughput_mode,
            provisioned_throughput_in_mibps=settings.provisioned_throughput_mibps,
            lifecycle_policies=lifecycle_policies(settings),
            tags={**tags, "Name": f"{prefix}-team-folders"},
            # The teams' files: refused by `pulumi destroy` and kept in AWS where the stack protects its data.
            opts=kept,
        )
        aws.efs.BackupPolicy(
            f"{name}-backup",
            file_system_id=self.file_system.id,
            backup_policy=aws.efs.BackupPolicyBackupPolicyArgs(status="ENABLED" if settings.backup else "DISABLED"),
            opts=child,
        )
        aws.efs.FileSystemPolicy(
            f"{name}-policy",
            file_system_id=self.file_system.id,
            policy=self.file_system.arn.apply(file_system_policy),
            opts=child,
        )

        # --- reachable from the cluster's nodes only -------------------------------------------
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-nfs",
            name=f"{prefix}-team-folders",
            description="NFS to the team folders from the EKS nodes only",
            vpc_id=network.vpc_id,
            tags={**tags, "Name": f"{prefix}-team-folders"},
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-nfs-from-nodes",
            security_group_id=self.security_group.id,
            description="NFS from the cluster's nodes",
            ip_protocol="tcp",
            from_port=NFS_PORT,
            to_port=NFS_PORT,
            referenced_security_group_id=node_security_group_id,
            tags=tags,
            opts=child,
        )
        self.mount_targets = [
            aws.efs.MountTarget(
                f"{name}-mount-{i}",
                file_system_id=self.file_system.id,
                subnet_id=subnet_id,
                security_groups=[self.security_group.id],
                opts=child,
            )
            for i, subnet_id in enumerate(network.private_subnet_ids)
        ]

        # --- one access point per team -----------------------------------------------------------
        self.access_points: dict[str, aws.efs.AccessPoint] = {}
        for team, posix_id in settings.posix_ids.items():
            self.access_points[team] = aws.efs.AccessPoint(
                f"{name}-{team}",
                file_system_id=self.file_system.id,
                posix_user=aws.efs.AccessPointPosixUserArgs(uid=posix_id, gid=posix_id),
                root_directory=aws.efs.AccessPointRootDirectoryArgs(
                    path=root_directory(team),
                    creation_info=aws.efs.AccessPointRootDirectoryCreationInfoArgs(
                        owner_uid=posix_id, owner_gid=posix_id, permissions=ROOT_PERMISSIONS,
                    ),
                ),
                tags={**tagging.resource_tags(COMPONENT, team), "Name": f"{prefix}-team-folder-{team}"},
                opts=child,
            )

        # --- the CSI driver ----------------------------------------------------------------------
        account_id = account_id_of(self)
        driver_role = aws.iam.Role(
            f"{name}-csi-driver",
            name=f"{prefix}-efs-csi",
            assume_role_policy=pod_identity_trust(facts, account_id, [PodSubject(CONTROLLER_NAMESPACE, CONTROLLER_SERVICE_ACCOUNT)]),
            tags=tags,
            opts=child,
        )
        driver_policy = aws.iam.RolePolicyAttachment(f"{name}-csi-driver", role=driver_role.name, policy_arn=CSI_DRIVER_POLICY_ARN, opts=child)
        self.addon = aws.eks.Addon(
            f"{name}-csi-driver",
            cluster_name=cluster.cluster_name,
            addon_name=ADDON_NAME,
            addon_version=settings.addon_version,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            # The node DaemonSet already tolerates every taint (the driver's values at v2.1.12: node.tolerations
            # `operator: Exists`), so GPU notebooks mount too; only the controller is placed.
            configuration_values=pulumi.Output.json_dumps({"controller": {"nodeSelector": dict(cluster.system_node_selector)}}),
            pod_identity_associations=[aws.eks.AddonPodIdentityAssociationArgs(role_arn=driver_role.arn, service_account=CONTROLLER_SERVICE_ACCOUNT)],
            tags=tags,
            # Its pods need nodes: the storage class's cluster has them once its controllers run.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[driver_policy, cluster.load_balancer_controller]),
        )

        # --- volumes and claims ------------------------------------------------------------------
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=cluster.k8s_provider)
        self.storage_class = k8s.storage.v1.StorageClass(
            f"{name}-class",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=STORAGE_CLASS, labels=tagging.k8s_labels(COMPONENT, app=STORAGE_CLASS)),
            # Static volumes only: a claim of this class binds to its pre-made volume or to nothing.
            provisioner="kubernetes.io/no-provisioner",
            volume_binding_mode="Immediate",
            reclaim_policy="Retain",
            opts=k8s_opts,
        )
        ready = [self.addon, self.storage_class, *self.mount_targets]
        self.claims: dict[tuple[str, str], k8s.core.v1.PersistentVolumeClaim] = {}
        for team, access_point in self.access_points.items():
            places = [(NOTEBOOKS_NAMESPACE, claim_name(team), notebooks_namespace)]
            if team in cluster.team_namespaces:
                places.append((cluster.team_namespaces[team], VOLUME_NAME, cluster.namespace_resources.get(team)))
            for namespace, claim, namespace_resource in places:
                volume_name = f"{prefix}-team-folder-{team}-{'notebooks' if namespace == NOTEBOOKS_NAMESPACE else 'team'}"
                labels = tagging.k8s_labels(COMPONENT, team, app=VOLUME_NAME)
                volume = k8s.core.v1.PersistentVolume(
                    f"{name}-{team}-{namespace}",
                    metadata=k8s.meta.v1.ObjectMetaArgs(name=volume_name, labels=labels),
                    spec=k8s.core.v1.PersistentVolumeSpecArgs(
                        capacity={"storage": f"{settings.claim_gi}Gi"},
                        access_modes=["ReadWriteMany"],
                        persistent_volume_reclaim_policy="Retain",
                        storage_class_name=STORAGE_CLASS,
                        volume_mode="Filesystem",
                        claim_ref=k8s.core.v1.ObjectReferenceArgs(namespace=namespace, name=claim),
                        csi=k8s.core.v1.CSIPersistentVolumeSourceArgs(
                            driver=CSI_DRIVER,
                            volume_handle=pulumi.Output.all(self.file_system.id, access_point.id).apply(lambda ids: volume_handle(*ids)),
                        ),
                        # The file system policy refuses clients without TLS.
                        mount_options=["tls"],
                    ),
                    opts=pulumi.ResourceOptions(parent=self, provider=cluster.k8s_provider, depends_on=ready),
                )
                self.claims[(team, namespace)] = k8s.core.v1.PersistentVolumeClaim(
                    f"{name}-{team}-{namespace}",
                    metadata=k8s.meta.v1.ObjectMetaArgs(name=claim, namespace=namespace, labels=labels),
                    spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                        access_modes=["ReadWriteMany"],
                        storage_class_name=STORAGE_CLASS,
                        volume_name=volume_name,
                        resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": f"{settings.claim_gi}Gi"}),
                    ),
                    opts=pulumi.ResourceOptions(parent=self, provider=cluster.k8s_provider,
                                                depends_on=[volume, *([namespace_resource] if namespace_resource is not None else [])]),
                )

        self.file_system_id = self.file_system.id
        self.access_point_ids = {team: access_point.id for team, access_point in self.access_points.items()}
        self.mounts = notebook_mounts(settings)
        self.register_outputs({
            "fileSystemId": self.file_system_id,
            "accessPointIds": self.access_point_ids,
            "storageClass": STORAGE_CLASS,
            "mountPath": settings.mount_path,
        })
