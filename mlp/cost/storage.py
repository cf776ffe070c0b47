"""Storage on the bill: EBS volumes (declared, or claimed by pods), S3 buckets by storage class,
and ECR image storage; and the EBS arithmetic that node disks and notebook volumes share."""

from __future__ import annotations

from decimal import Decimal

from mlp.cost.core import GIB, HOURS, HOURS_PER_MONTH, NUMBER, ZERO, CostComponent, PricingContext, kubernetes_quantity, object_schema, pricer, to_decimal


def ebs_components(ctx: PricingContext, label: str, volume_type: str, size_gb: Decimal, iops: Decimal = ZERO, throughput: Decimal = ZERO,
                   count: Decimal = Decimal(1), baseline: Decimal | None = None, ceiling: Decimal | None = None) -> list[CostComponent]:
    """Storage plus provisioned IOPS/throughput beyond the type's free baseline, for `count`
    volumes (baseline/ceiling counts for scaling groups). Node disks and notebook volumes are
    EBS too, so their pricers call this rather than price gigabytes themselves."""
    catalogue = ctx.catalogue
    volume_type = (volume_type or "gp2").lower()

    def scaled(name: str, unit: str, price: Decimal | None, per_volume: Decimal) -> CostComponent:
        return CostComponent(name, unit, price, per_volume * count,
                             None if baseline is None else per_volume * baseline,
                             None if ceiling is None else per_volume * ceiling)

    components = [scaled(f"{label}: storage ({volume_type})", "GB-months", catalogue.price("ebs", volume_type, "gbMonth"), size_gb)]
    if volume_type == "gp3":
        extra_iops = max(ZERO, iops - to_decimal(catalogue.section("ebs", "gp3", "freeIops"), Decimal(3000)))
        extra_throughput = max(ZERO, throughput - to_decimal(catalogue.section("ebs", "gp3", "freeThroughputMBps"), Decimal(125)))
        if extra_iops:
            components.append(scaled(f"{label}: provisioned IOPS above baseline (gp3)", "IOPS-months", catalogue.price("ebs", "gp3", "iopsMonth"), extra_iops))
        if extra_throughput:
            components.append(scaled(f"{label}: throughput above baseline (gp3)", "MBps-months", catalogue.price("ebs", "gp3", "throughputMBpsMonth"), extra_throughput))
    elif volume_type == "io1" and iops:
        components.append(scaled(f"{label}: provisioned IOPS (io1)", "IOPS-months", catalogue.price("ebs", "io1", "iopsMonth"), iops))
    elif volume_type == "io2" and iops:
        tiers = catalogue.section("ebs", "io2", "iopsTiers")
        if not isinstance(tiers, list) or not tiers:
            components.append(scaled(f"{label}: provisioned IOPS (io2)", "IOPS-months", None, iops))
        else:
            lower = ZERO
            for tier in tiers:
                upper = to_decimal(tier.get("upTo"), iops) if tier.get("upTo") is not None else iops
                in_tier = max(ZERO, min(iops, upper) - lower)
                if in_tier:
                    components.append(scaled(f"{label}: provisioned IOPS (io2, {lower}-{upper})", "IOPS-months", to_decimal(tier.get("iopsMonth"), None), in_tier))
                lower = upper
    return components


@pricer("aws:ebs/volume:Volume", monthly_hrs=HOURS)
def _ebs_volume(resource, usage, ctx):
    share = ctx.hours(usage) / HOURS_PER_MONTH
    return ebs_components(ctx, "Volume", str(resource.inputs.get("type") or "gp3"), to_decimal(resource.inputs.get("size")) * share,
                          to_decimal(resource.inputs.get("iops")), to_decimal(resource.inputs.get("throughput")))


@pricer("kubernetes:core/v1:PersistentVolumeClaim")
def _persistent_volume_claim(resource, usage, ctx):
    spec = resource.inputs.get("spec") or {}
    size = kubernetes_quantity(((spec.get("resources") or {}).get("requests") or {}).get("storage"))
    if size is None:
        return []
    storage_class = ctx.storage_classes.get(str(spec.get("storageClassName")))
    parameters = (storage_class.inputs.get("parameters") or {}) if storage_class else {}
    # The EBS CSI driver creates gp3 unless the class says otherwise.
    return ebs_components(ctx, "Volume", str(parameters.get("type") or "gp3"), size / GIB, to_decimal(parameters.get("iops")), to_decimal(parameters.get("throughput")))


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
    components = []
    for key, storage_class in _S3_CLASSES.items():
        class_usage = usage.get(key) or {}
        if key != "standard" and not class_usage:
            continue
        label = storage_class.replace("_", " ").title().replace("Ia", "IA").replace("Ir", "IR")
        components.append(CostComponent(f"Storage ({label})", "GB-months", ctx.catalogue.price("s3", storage_class, "gbMonth"), to_decimal(class_usage.get("storage_gb")), usage_based=True))
        if class_usage.get("monthly_tier_1_requests") is not None:
            components.append(CostComponent(f"PUT, COPY, POST, LIST requests ({label})", "1k requests", ctx.catalogue.price("s3", storage_class, "tier1Per1k"), to_decimal(class_usage["monthly_tier_1_requests"]) / 1000, usage_based=True))
        if class_usage.get("monthly_tier_2_requests") is not None:
            components.append(CostComponent(f"GET, SELECT and other requests ({label})", "1k requests", ctx.catalogue.price("s3", storage_class, "tier2Per1k"), to_decimal(class_usage["monthly_tier_2_requests"]) / 1000, usage_based=True))
    return components


@pricer("aws:ecr/repository:Repository", storage_gb=NUMBER)
def _ecr_repository(resource, usage, ctx):
    return [CostComponent("Storage", "GB-months", ctx.catalogue.price("ecr", "storageGbMonth"), to_decimal(usage.get("storage_gb")), usage_based=True)]
