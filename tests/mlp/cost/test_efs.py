"""EFS figures computed by hand from the catalogue: storage by class, what each throughput mode
bills, reads from the cold classes, automatic backups; what costs nothing; and the team folders'
claims, which are EFS and never priced as EBS volumes."""

from __future__ import annotations

from tests.mlp.cost.documents import cost_of, export, priced, resource, usd

STORAGE = {"standard_storage_gb": 100, "infrequent_access_storage_gb": 500, "archive_storage_gb": 1000}


def test_storage_is_priced_per_class_and_elastic_throughput_per_gb_moved(tmp_path):
    fs = resource("aws:efs/fileSystem:FileSystem", "folders", {"throughputMode": "elastic", "encrypted": True})
    usage = {"resource_usage": {"folders": {**STORAGE, "monthly_read_gb": 200, "monthly_write_gb": 50, "monthly_infrequent_access_read_gb": 30}}}
    cost = cost_of(export(fs), "folders", usage, tmp_path)
    storage = 100 * usd("0.30") + 500 * usd("0.016") + 1000 * usd("0.008")
    assert cost.monthly_cost == storage + 30 * usd("0.01") + 200 * usd("0.03") + 50 * usd("0.06")
    assert {c.usage_key for c in cost.components} == {*STORAGE, "monthly_read_gb", "monthly_write_gb", "monthly_infrequent_access_read_gb"}
    assert cost.fixed_cost == 0  # nothing stored, nothing moved: nothing billed


def test_provisioned_throughput_is_billed_from_the_resource(tmp_path):
    fs = resource("aws:efs/fileSystem:FileSystem", "folders", {"throughputMode": "provisioned", "provisionedThroughputInMibps": 64})
    cost = cost_of(export(fs), "folders", {"resource_usage": {"folders": {"standard_storage_gb": 10}}}, tmp_path)
    assert cost.monthly_cost == 10 * usd("0.30") + 64 * usd("6.00")
    assert cost.fixed_cost == 64 * usd("6.00")


def test_bursting_throughput_bills_storage_only_and_says_why_reads_are_ignored(tmp_path):
    fs = resource("aws:efs/fileSystem:FileSystem", "folders", {})  # CreateFileSystem's default mode: bursting
    cost = cost_of(export(fs), "folders", {"resource_usage": {"folders": {"standard_storage_gb": 10, "monthly_read_gb": 500}}}, tmp_path)
    assert cost.monthly_cost == 10 * usd("0.30")
    assert any("bursting throughput bills no reads or writes" in note for note in cost.notes)


def test_automatic_backups_cost_only_when_enabled(tmp_path):
    usage = {"resource_usage": {"backup": {"backup_storage_gb": 300}}}
    enabled = resource("aws:efs/backupPolicy:BackupPolicy", "backup", {"fileSystemId": "fs-1", "backupPolicy": {"status": "ENABLED"}})
    assert cost_of(export(enabled), "backup", usage, tmp_path).monthly_cost == 300 * usd("0.05")
    disabled = resource("aws:efs/backupPolicy:BackupPolicy", "backup", {"fileSystemId": "fs-1", "backupPolicy": {"status": "DISABLED"}})
    result = priced(export(disabled), usage, tmp_path)
    assert [c for c in result.costs if c.monthly_cost or c.price_not_found] == []


def test_access_points_mount_targets_and_policies_are_free_and_team_claims_are_not_ebs():
    free = [
        resource("aws:efs/accessPoint:AccessPoint", "ap", {"fileSystemId": "fs-1"}),
        resource("aws:efs/mountTarget:MountTarget", "mt", {"fileSystemId": "fs-1", "subnetId": "subnet-1"}),
        resource("aws:efs/fileSystemPolicy:FileSystemPolicy", "policy", {"fileSystemId": "fs-1", "policy": "{}"}),
        resource("kubernetes:storage.k8s.io/v1:StorageClass", "team-folders", {
            "metadata": {"name": "team-folders"}, "provisioner": "kubernetes.io/no-provisioner"}),
        resource("kubernetes:core/v1:PersistentVolumeClaim", "claim", {
            "metadata": {"name": "team-folder"}, "spec": {"storageClassName": "team-folders", "resources": {"requests": {"storage": "100Gi"}}}}),
    ]
    result = priced(export(*free))
    assert [(c.resource.name, c.monthly_cost) for c in result.costs if c.monthly_cost or c.price_not_found] == []
    # The same claim of an EBS class is a 100 GiB gp3 volume: the check above would see it.
    ebs = [resource("kubernetes:storage.k8s.io/v1:StorageClass", "gp3", {"metadata": {"name": "gp3"}, "provisioner": "ebs.csi.aws.com",
                                                                          "parameters": {"type": "gp3"}}),
           resource("kubernetes:core/v1:PersistentVolumeClaim", "claim", {
               "metadata": {"name": "home"}, "spec": {"storageClassName": "gp3", "resources": {"requests": {"storage": "100Gi"}}}})]
    (claim,) = [c for c in priced(export(*ebs)).costs if c.resource.name == "claim"]
    assert claim.monthly_cost == 100 * usd("0.08")


def test_automatic_backups_are_billed_with_their_file_systems_tags(tmp_path):
    """A backup policy cannot be tagged; its recovery points are the file system's, and so is the bill."""
    fs = resource("aws:efs/fileSystem:FileSystem", "folders", {}, tags={"Team": "ml-platform", "Component": "notebooks"}, id="fs-0123")
    policy = resource("aws:efs/backupPolicy:BackupPolicy", "folders-backup", {"fileSystemId": "fs-0123", "backupPolicy": {"status": "ENABLED"}})
    result = priced(export(fs, policy), {"resource_usage": {"folders-backup": {"backup_storage_gb": 100}}}, tmp_path)
    teams = {value: entry["monthly"] for value, entry in result.groups()["Team"].items()}
    assert teams == {"ml-platform": 100 * usd("0.05")}
    assert result.tags_of(next(c for c in result.costs if c.resource.name == "folders-backup"))["Component"] == "notebooks"
