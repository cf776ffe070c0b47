"""Data lake settings: zone buckets, their lifecycle tiers, access logs and the lake's key."""

from __future__ import annotations

from typing import Optional

from pydantic import Field, model_validator

from components.config.base import Bool, Int, Section, matching, no_duplicates, section
from components.config.errors import Invalid

# Registries keep model artifacts here and endpoints serve from it; batch scoring reads and
# writes the curated zone.
REQUIRED_ZONES = ("models", "curated")


@section
class ZoneConfig(Section):
    """One zone of the lake: its own bucket, lifecycle tiers and Glue database."""

    name: matching(r"[a-z][a-z0-9-]{0,18}", "a zone name: lowercase letters, digits, '-', at most 19 characters") = Field(
        description="Zone name; the bucket is `<bucketPrefix>-<name>`.",
    )
    infrequent_access_after_days: Optional[Int] = Field(default=None, ge=30, description="Days until objects move to S3 Standard-IA (S3 requires at least 30).")
    glacier_after_days: Optional[Int] = Field(default=None, ge=1, description="Days until objects move to Glacier Instant Retrieval.")
    expire_after_days: Optional[Int] = Field(default=None, ge=1, description="Days until objects are deleted.")
    noncurrent_version_expiry_days: Int = Field(ge=1, description="Days overwritten or deleted object versions are kept.")
    team_writable: Bool = Field(default=True, description="Whether team roles may write under their prefix (raw data usually arrives by pipelines only).")

    @model_validator(mode="after")
    def _tiers_in_order(self) -> "ZoneConfig":
        # Lifecycle transitions must run in order: IA before Glacier before expiry.
        steps = [
            ("infrequentAccessAfterDays", self.infrequent_access_after_days),
            ("glacierAfterDays", self.glacier_after_days),
            ("expireAfterDays", self.expire_after_days),
        ]
        present = [(name, days) for name, days in steps if days is not None]
        for (low_name, low), (high_name, high) in zip(present, present[1:]):
            if high <= low:
                raise Invalid(f"must be greater than {low_name} ({low}), got {high}", high_name)
        return self


@section
class DataLakeConfig(Section):
    """The lake: one bucket per zone, SSE-KMS with the lake's key, access logs."""

    # S3 bucket names are 3-63 characters; the zone suffix must still fit.
    bucket_prefix: matching(r"[a-z0-9][a-z0-9-]{1,40}[a-z0-9]", "a bucket name prefix: 3-42 lowercase letters, digits and hyphens") = Field(
        description="Prefix of every bucket name; bucket names are global, so include the organisation and environment.",
    )
    zones: tuple[ZoneConfig, ...] = Field(min_length=1, description="Zones of the lake; `models` and `curated` are required.")
    access_log_retention_days: Int = Field(ge=1, description="Days S3 access logs are kept.")
    protect: Bool = Field(description="Whether buckets and the lake's key survive `pulumi destroy` (true in prod).")
    kms_deletion_window_days: Int = Field(default=30, ge=7, le=30, description="Waiting period before a deleted lake key is gone.")

    @model_validator(mode="after")
    def _required_zones(self) -> "DataLakeConfig":
        names = [zone.name for zone in self.zones]
        no_duplicates("zone", names, "zones")
        for required in REQUIRED_ZONES:
            if required not in names:
                raise Invalid(f"expected a {required!r} zone (registries and endpoints use it), got {', '.join(names)}", "zones")
        return self

    def zone(self, name: str) -> ZoneConfig:
        return next(zone for zone in self.zones if zone.name == name)

    def bucket_name(self, zone: str) -> str:
        return f"{self.bucket_prefix}-{zone}"

    @property
    def access_log_bucket_name(self) -> str:
        return f"{self.bucket_prefix}-access-logs"
