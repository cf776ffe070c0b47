"""Storage on the bill: EBS volumes (declared, claimed by pods, or made by charts), S3 buckets by
storage class, and ECR image storage; and the EBS arithmetic that node disks and notebook
volumes share. Defaults are AWS's: CreateVolume makes gp2 when no type is given, the EBS CSI
driver makes gp3 when its StorageClass names none."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mlp.cost.context import PricingContext
from mlp.cost.core import GIB, HOURS, HOURS_PER_MONTH, NUMBER, ZERO, CostComponent, Price, ResourceCost, kubernetes_quantity, object_schema, pricer, to_decimal
from mlp.cost.tiers import first_tier_price

CREATE_VOLUME_DEFAULT = "gp2"  # EC2 CreateVolume: "VolumeType ... Default: gp2"
CSI_DEFAULT = "gp3"  # aws-ebs-csi-driver StorageClass parameter "type": default gp3
EBS_PROVISIONERS = ("ebs.csi.aws.com", "kubernetes.io/aws-ebs")


def ebs_components(ctx: PricingContext, label: str, volume_type: str, size_gb: Decimal, iops: Decimal = ZERO, throughput: Decimal = ZERO,
                   count: Decimal = Decimal(1), floor: Decimal | None = None, ceiling: Decimal | None = None,
                   usage_key: str | None = None) -> list[CostComponent]:
    """Storage plus provisioned IOPS/throughput beyond the type's free baseline, for `count`
    volumes (floor/ceiling counts for scaling groups). Node disks and notebook volumes are
    EBS too, so their pricers call this rather than price gigabytes themselves."""
    catalogue = ctx.catalogue
    volume_type = (volume_type or CREATE_VOLUME_DEFAULT).lower()

    def scaled(name: str, unit: str, price: Decimal | None, per_volume: Decimal) -> CostComponent:
        return CostComponent(name, unit, price, per_volume * count,
                             None if floor is None else per_volume * floor,
                             None if ceiling is None else per_volume * ceiling, usage_key)

    components = [scaled(f"{label}: storage ({volume_type})", "GB-months", ctx.price("ebs", volume_type, "gbMonth"), size_gb)]
    if volume_type == "gp3":
        extra_iops = max(ZERO, iops - to_decimal(catalogue.section("ebs", "gp3", "freeIops"), Decimal(3000)))
        extra_throughput = max(ZERO, throughput - to_decimal(catalogue.section("ebs", "gp3", "freeThroughputMBps"), Decimal(125)))
        if extra_iops:
            components.append(scaled(f"{label}: provisioned IOPS above baseline (gp3)", "IOPS-months", ctx.price("ebs", "gp3", "iopsMonth"), extra_iops))
        if extra_throughput:
            components.append(scaled(f"{label}: throughput above baseline (gp3)", "MBps-months", ctx.price("ebs", "gp3", "throughputMBpsMonth"), extra_throughput))
    elif volume_type == "io1" and iops:
        components.append(scaled(f"{label}: provisioned IOPS (io1)", "IOPS-months", ctx.price("ebs", "io1", "iopsMonth"), iops))
    elif volume_type == "io2" and iops:
        # io2 IOPS tiers apply to each volume's own IOPS, not to the account's total.
        tiers = catalogue.section("ebs", "io2", "iopsTiers")
        if not isinstance(tiers, list) or not tiers:
            components.append(scaled(f"{label}: provisioned IOPS (io2)", "IOPS-months", None, iops))
        else:
            lower = ZERO
            for index, tier in enumerate(tiers):
                upper = to_decimal(tier.get("upTo"), iops) if tier.get("upTo") is not None else iops
                in_tier = max(ZERO, min(iops, upper) - lower)
                price = to_decimal(tier.get("iopsMonth"), None)
                if in_tier:
                    components.append(scaled(f"{label}: provisioned IOPS (io2, {lower}-{upper})", "IOPS-months",
                                             None if price is None else Price(price, (f"ebs.io2.iopsTiers.{index}",)), in_tier))
                lower = upper
    return components


def claim_components(ctx: PricingContext, label: str, size_gib: Decimal, class_name: Any, count: Decimal = Decimal(1),
                     usage_key: str | None = None, volume_type: str | None = None) -> tuple[list[CostComponent], list[str]]:
    """The EBS volume(s) a PersistentVolumeClaim gets: its StorageClass's type and IOPS (the
    class it names, else the cluster's default class), or the EBS CSI driver's own default."""
    storage_class = ctx.storage_class_of(class_name)
    parameters = (storage_class.inputs.get("parameters") or {}) if storage_class else {}
    notes = []
    if storage_class is None and not volume_type:
        notes.append(f"{label}: StorageClass {class_name or '(cluster default)'} is not in the document: the EBS CSI driver's default {CSI_DEFAULT} assumed")
    kind = volume_type or str(parameters.get("type") or CSI_DEFAULT)
    return ebs_components(ctx, label, kind, size_gib, to_decimal(parameters.get("iops")), to_decimal(parameters.get("throughput")),
                          count=count, usage_key=usage_key), notes


@pricer("aws:ebs/volume:Volume", monthly_hrs=HOURS)
def _ebs_volume(resource, usage, ctx):
    share = ctx.hours(usage) / HOURS_PER_MONTH
    return ebs_components(ctx, "Volume", str(resource.inputs.get("type") or CREATE_VOLUME_DEFAULT), to_decimal(resource.inputs.get("size")) * share,
                          to_decimal(resource.inputs.get("iops")), to_decimal(resource.inputs.get("throughput")))


@pricer("kubernetes:core/v1:PersistentVolumeClaim")
def _persistent_volume_claim(resource, usage, ctx):
    spec = resource.inputs.get("spec") or {}
    size = kubernetes_quantity(((spec.get("resources") or {}).get("requests") or {}).get("storage"))
    if size is None:
        return []
    storage_class = ctx.storage_class_of(spec.get("storageClassName"))
    if storage_class is not None and storage_class.inputs.get("provisioner") not in (None, *EBS_PROVISIONERS):
        # A claim of a non-EBS class (the team folders' static EFS volumes) is billed on what backs it.
        return ResourceCost(resource, [], notes=[f"class {spec.get('storageClassName')} is not EBS: priced on the volume's own resource"])
    components, notes = claim_components(ctx, "Volume", size / GIB, spec.get("storageClassName"))
    return ResourceCost(resource, components, notes=notes)


_S3_CLASSES = {
    "standard": "STANDARD",
    "intelligent_tiering": "INTELLIGENT_TIERING",
    "standard_infrequent_access": "STANDARD_IA",
    "one_zone_infrequent_access": "ONEZONE_IA",
    "glacier_instant_retrieval": "GLACIER_IR",
    "glacier_flexible_retrieval": "GLACIER",
    "glacier_deep_archive": "DEEP_ARCHIVE",
}
_S3_CLASS_USAGE = object_schema(storage_gb=NUMBER, monthly_tier_1_requests=NUMBER, monthly_tier_2_requests=NUMBER)


@pricer("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", **{key: _S3_CLASS_USAGE for key in _S3_CLASSES})
def _s3_bucket(resource, usage, ctx):
    """Storage by class (Standard's volume tiers over the stack's total, as AWS counts them
    across the account's buckets) and requests."""
    components = []
    for key, storage_class in _S3_CLASSES.items():
        class_usage = usage.get(key) or {}
        if key != "standard" and not class_usage:
            continue
        label = storage_class.replace("_", " ").title().replace("Ia", "IA").replace("Ir", "IR")
        tiers = ("s3", storage_class, "gbMonthTiers")
        tiered = ctx.catalogue.section(*tiers) is not None
        components.append(CostComponent(f"Storage ({label})", "GB-months", first_tier_price(ctx.catalogue, tiers) if tiered else ctx.price("s3", storage_class, "gbMonth"),
                                        to_decimal(class_usage.get("storage_gb")), usage_key=f"{key}.storage_gb", tier=tiers if tiered else None))
        if class_usage.get("monthly_tier_1_requests") is not None:
            components.append(CostComponent(f"PUT, COPY, POST, LIST requests ({label})", "1k requests", ctx.price("s3", storage_class, "tier1Per1k"),
                                            to_decimal(class_usage["monthly_tier_1_requests"]) / 1000, usage_key=f"{key}.monthly_tier_1_requests"))
        if class_usage.get("monthly_tier_2_requests") is not None:
            components.append(CostComponent(f"GET, SELECT and other requests ({label})", "1k requests", ctx.price("s3", storage_class, "tier2Per1k"),
                                            to_decimal(class_usage["monthly_tier_2_requests"]) / 1000, usage_key=f"{key}.monthly_tier_2_requests"))
    return components


@pricer("aws:ecr/repository:Repository", storage_gb=NUMBER)
def _ecr_repository(resource, usage, ctx):
    return [CostComponent("Storage", "GB-months", ctx.price("ecr", "storageGbMonth"), to_decimal(usage.get("storage_gb")), usage_key="storage_gb")]
