"""EFS on the bill: the team folders' file system (components/team_folders.py).

A file system costs what it stores in each storage class, plus what its throughput mode bills:
Elastic by the GB read and written, Provisioned by the MiB/s provisioned (from the resource),
Bursting nothing beyond storage. Files read from Infrequent Access or Archive add a per-GB access
charge. Automatic backups (the file system's backup policy ENABLED) are AWS Backup warm storage.
How much lands in each class depends on the lifecycle policy and on how teams use their folders,
so the amounts are usage keys; access points, mount targets and the file system policy cost nothing.
"""

from __future__ import annotations

from mlp.cost.core import NUMBER, ZERO, CostComponent, ResourceCost, pricer, to_decimal

STORAGE_CLASSES = (
    ("standard_storage_gb", "Standard", "standardGbMonth"),
    ("infrequent_access_storage_gb", "Infrequent Access", "infrequentAccessGbMonth"),
    ("archive_storage_gb", "Archive", "archiveGbMonth"),
)
ACCESS_CHARGES = (
    ("monthly_infrequent_access_read_gb", "Reads from Infrequent Access", "infrequentAccessReadGb"),
    ("monthly_archive_read_gb", "Reads from Archive", "archiveReadGb"),
)
ELASTIC_CHARGES = (
    ("monthly_read_gb", "Elastic throughput: reads", "elasticReadGb"),
    ("monthly_write_gb", "Elastic throughput: writes", "elasticWriteGb"),
)
# CreateFileSystem: "ThroughputMode ... Default is bursting."
DEFAULT_THROUGHPUT_MODE = "bursting"


@pricer("aws:efs/fileSystem:FileSystem",
        **{key: NUMBER for key, _, _ in (*STORAGE_CLASSES, *ACCESS_CHARGES, *ELASTIC_CHARGES)})
def _file_system(resource, usage, ctx):
    components = [
        CostComponent(f"Storage ({label})", "GB-months", ctx.price("efs", price), to_decimal(usage.get(key)), usage_key=key)
        for key, label, price in STORAGE_CLASSES
    ]
    components += [
        CostComponent(label, "GB", ctx.price("efs", price), to_decimal(usage.get(key)), usage_key=key)
        for key, label, price in ACCESS_CHARGES if usage.get(key) is not None
    ]
    mode = str(resource.inputs.get("throughputMode") or DEFAULT_THROUGHPUT_MODE)
    notes = []
    if mode == "elastic":
        components += [CostComponent(label, "GB", ctx.price("efs", price), to_decimal(usage.get(key)), usage_key=key)
                       for key, label, price in ELASTIC_CHARGES]
    elif mode == "provisioned":
        components.append(CostComponent("Provisioned throughput", "MiBps-months", ctx.price("efs", "provisionedMibpsMonth"),
                                        to_decimal(resource.inputs.get("provisionedThroughputInMibps"))))
    else:
        ignored = [key for key, _, _ in ELASTIC_CHARGES if usage.get(key) is not None]
        if ignored:
            notes.append(f"{', '.join(ignored)}: bursting throughput bills no reads or writes")
    return ResourceCost(resource, components, notes=notes) if notes else components


@pricer("aws:efs/backupPolicy:BackupPolicy", backup_storage_gb=NUMBER)
def _backup_policy(resource, usage, ctx):
    """Automatic backups are AWS Backup warm storage; a disabled policy keeps none."""
    if str((resource.inputs.get("backupPolicy") or {}).get("status", "")).upper() != "ENABLED":
        return []
    return [CostComponent("Automatic backups (warm storage)", "GB-months", ctx.price("efs", "backupWarmGbMonth"),
                          to_decimal(usage.get("backup_storage_gb"), ZERO), usage_key="backup_storage_gb")]


@pricer("aws:efs/accessPoint:AccessPoint", "aws:efs/mountTarget:MountTarget", "aws:efs/fileSystemPolicy:FileSystemPolicy")
def _no_charge(resource, usage, ctx):
    # Access points, mount targets and file system policies have no line on the EFS bill.
    return []
