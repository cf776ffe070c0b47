"""Team folders per stack: one encrypted EFS file system with lifecycle and (in prod) backups, an
access point per team with its own POSIX identity and root directory, mount targets in the private
subnets behind NFS from the cluster's nodes only, the EFS CSI add-on, and per team a volume pre-bound
to one claim in its namespace and one among the notebooks; every notebook profile mounts the team's
folder beside the private home; cost tags and labels are the team's."""

from __future__ import annotations

import pytest

from components.config.team_folders import lifecycle_value
from components.notebook_profiles import NAMESPACE as NOTEBOOKS_NAMESPACE
from components.notebook_profiles import TEAM_FOLDER_VOLUME
from components.tagging import LABEL_FOR_TAG
from components.team_folders import (
    ADDON_NAME,
    CONTROLLER_SERVICE_ACCOUNT,
    CSI_DRIVER,
    NFS_PORT,
    ROOT_PERMISSIONS,
    STORAGE_CLASS,
    VOLUME_NAME,
    claim_name,
    root_directory,
)
from tests.conftest import STACKS, planned

EFS = "aws:efs/fileSystem:FileSystem"
ACCESS_POINT = "aws:efs/accessPoint:AccessPoint"
MOUNT_TARGET = "aws:efs/mountTarget:MountTarget"
PV = "kubernetes:core/v1:PersistentVolume"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"


def _settings(stack):
    return planned(stack).config.team_folders


def _one(stack, type_token, **inputs):
    found = [r for r in planned(stack).run.by_type(type_token) if all(r.inputs.get(k) == v for k, v in inputs.items())]
    assert len(found) == 1, (type_token, inputs, [r.name for r in found])
    return found[0]


def _by_id(stack, type_token):
    return {r.id: r for r in planned(stack).run.by_type(type_token)}


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_declares_team_folders_for_every_team(stack):
    assert _settings(stack) is not None
    assert set(_settings(stack).posix_ids) == set(planned(stack).config.team_names)


def test_the_file_system_is_encrypted_with_its_own_key_and_tiers_cold_files(stack):
    settings = _settings(stack)
    (fs,) = planned(stack).run.by_type(EFS)
    keys = {r.outputs["arn"]: r for r in planned(stack).run.by_type("aws:kms/key:Key")}
    assert fs.inputs["encrypted"] is True
    assert "team folders" in keys[fs.inputs["kmsKeyId"]].inputs["description"]
    assert keys[fs.inputs["kmsKeyId"]].inputs["enableKeyRotation"] is True
    assert fs.inputs["throughputMode"] == settings.throughput_mode
    policies = fs.inputs["lifecyclePolicies"]
    assert {"transitionToIa": lifecycle_value(settings.transition_to_ia_days)} in policies
    assert ({"transitionToArchive": lifecycle_value(settings.transition_to_archive_days)} in policies) == (settings.transition_to_archive_days is not None)
    assert {"transitionToPrimaryStorageClass": "AFTER_1_ACCESS"} in policies
    # One transition per policy object, as the EFS API takes them.
    assert all(len(policy) == 1 for policy in policies)


@pytest.mark.parametrize("stack,backup,protected", [("dev", "DISABLED", False), ("staging", "DISABLED", False), ("prod", "ENABLED", True)])
def test_prod_backs_up_and_keeps_the_team_folders(stack, backup, protected):
    (fs,) = planned(stack).run.by_type(EFS)
    (policy,) = planned(stack).run.by_type("aws:efs/backupPolicy:BackupPolicy")
    assert policy.inputs["fileSystemId"] == fs.id
    assert policy.inputs["backupPolicy"] == {"status": backup}
    assert fs.protect is protected and fs.retain_on_delete is protected
    key = _by_id(stack, "aws:kms/key:Key")
    (file_system_key,) = [k for k in key.values() if k.outputs["arn"] == fs.inputs["kmsKeyId"]]
    assert file_system_key.protect is protected


def test_clients_must_use_tls():
    import json

    (fs,) = planned("dev").run.by_type(EFS)
    (policy,) = planned("dev").run.by_type("aws:efs/fileSystemPolicy:FileSystemPolicy")
    (statement,) = json.loads(policy.inputs["policy"])["Statement"]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statement["Resource"] == fs.outputs["arn"]


def test_each_team_has_its_own_access_point_identity_and_root(stack):
    (fs,) = planned(stack).run.by_type(EFS)
    points = planned(stack).run.by_type(ACCESS_POINT)
    assert len(points) == len(_settings(stack).posix_ids)
    for team, posix_id in _settings(stack).posix_ids.items():
        (point,) = [p for p in points if p.inputs["rootDirectory"]["path"] == root_directory(team)]
        assert point.inputs["fileSystemId"] == fs.id
        assert point.inputs["posixUser"] == {"uid": posix_id, "gid": posix_id}
        assert point.inputs["rootDirectory"]["creationInfo"] == {"ownerUid": posix_id, "ownerGid": posix_id, "permissions": ROOT_PERMISSIONS}
        assert point.inputs["tags"]["Team"] == team and point.inputs["tags"]["Component"] == "notebooks"
    assert len({p.inputs["posixUser"]["uid"] for p in points}) == len(points)


def test_mount_targets_sit_in_the_private_subnets_and_admit_nfs_from_the_nodes_only(stack):
    run = planned(stack).run
    (fs,) = run.by_type(EFS)
    private = [s.id for s in run.by_type("aws:ec2/subnet:Subnet") if "private" in s.name]
    targets = run.by_type(MOUNT_TARGET)
    assert sorted(t.inputs["subnetId"] for t in targets) == sorted(private)
    assert all(t.inputs["fileSystemId"] == fs.id for t in targets)
    (group_id,) = {g for t in targets for g in t.inputs["securityGroups"]}
    rules = [r for r in run.by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") if r.inputs["securityGroupId"] == group_id]
    (cluster,) = run.by_type("aws:eks/cluster:Cluster")
    assert [(r.inputs["ipProtocol"], r.inputs["fromPort"], r.inputs["toPort"], r.inputs["referencedSecurityGroupId"]) for r in rules] == [
        ("tcp", NFS_PORT, NFS_PORT, cluster.outputs["vpcConfig"]["clusterSecurityGroupId"])
    ]
    assert all("cidrIpv4" not in r.inputs for r in rules)
    (group,) = [g for g in run.by_type("aws:ec2/securityGroup:SecurityGroup") if g.id == group_id]
    assert not group.inputs.get("ingress")


def test_the_csi_driver_is_an_eks_addon_with_its_own_pod_identity(stack):
    addon = _one(stack, "aws:eks/addon:Addon", addonName=ADDON_NAME)
    assert addon.inputs["addonVersion"] == _settings(stack).addon_version
    (association,) = addon.inputs["podIdentityAssociations"]
    assert association["serviceAccount"] == CONTROLLER_SERVICE_ACCOUNT
    roles = {r.outputs["arn"]: r for r in planned(stack).run.by_type("aws:iam/role:Role")}
    assert CONTROLLER_SERVICE_ACCOUNT in roles[association["roleArn"]].inputs["assumeRolePolicy"]


def test_every_team_volume_is_its_access_point_prebound_to_one_claim(stack):
    run = planned(stack).run
    (fs,) = run.by_type(EFS)
    points = {p.inputs["rootDirectory"]["path"]: p for p in run.by_type(ACCESS_POINT)}
    volumes = {v.inputs["metadata"]["name"]: v for v in run.by_type(PV)}
    claims = run.by_type(PVC)
    team_namespaces = planned(stack).config.team_names  # team namespaces are named after the team
    for team in _settings(stack).posix_ids:
        expected = {(NOTEBOOKS_NAMESPACE, claim_name(team)), (team, VOLUME_NAME)} if team in team_namespaces else {(NOTEBOOKS_NAMESPACE, claim_name(team))}
        mine = [c for c in claims if c.inputs["metadata"]["labels"][LABEL_FOR_TAG["Team"]] == team]
        assert {(c.inputs["metadata"]["namespace"], c.inputs["metadata"]["name"]) for c in mine} == expected
        for claim in mine:
            spec = claim.inputs["spec"]
            volume = volumes[spec["volumeName"]]
            assert spec["storageClassName"] == STORAGE_CLASS == volume.inputs["spec"]["storageClassName"]
            assert spec["accessModes"] == ["ReadWriteMany"] == volume.inputs["spec"]["accessModes"]
            assert volume.inputs["spec"]["claimRef"] == {"namespace": claim.inputs["metadata"]["namespace"], "name": claim.inputs["metadata"]["name"]}
            assert volume.inputs["spec"]["csi"] == {"driver": CSI_DRIVER, "volumeHandle": f"{fs.id}::{points[root_directory(team)].id}"}
            assert volume.inputs["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
            assert volume.inputs["metadata"]["labels"][LABEL_FOR_TAG["Team"]] == team
    (storage_class,) = [c for c in run.by_type("kubernetes:storage.k8s.io/v1:StorageClass") if c.inputs["metadata"]["name"] == STORAGE_CLASS]
    assert storage_class.inputs["provisioner"] == "kubernetes.io/no-provisioner"


def test_every_profile_mounts_the_chosen_teams_folder_beside_the_home(stack):
    (release,) = [r for r in planned(stack).run.by_type("kubernetes:helm.sh/v3:Release") if r.inputs.get("chart") == "jupyterhub"]
    settings = _settings(stack)
    for profile in release.inputs["values"]["singleuser"]["profileList"]:
        choices = profile["profile_options"]["team"]["choices"]
        assert set(choices) == set(settings.posix_ids)
        for team, choice in choices.items():
            override = choice["kubespawner_override"]
            assert override["volumes"] == {TEAM_FOLDER_VOLUME: {"name": TEAM_FOLDER_VOLUME, "persistentVolumeClaim": {"claimName": claim_name(team)}}}
            assert override["volume_mounts"] == {TEAM_FOLDER_VOLUME: {"name": TEAM_FOLDER_VOLUME, "mountPath": settings.mount_path}}
    # The private home stays a per-user gp3 volume of the chart's own.
    assert release.inputs["values"]["singleuser"]["storage"]["type"] == "dynamic"
