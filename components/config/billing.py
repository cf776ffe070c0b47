"""Billing-export settings: where AWS delivers the CUR 2.0 and FOCUS exports, how long they are
kept, how much one Athena query over them may scan, and when cost anomalies alert."""

from __future__ import annotations

from typing import Annotated, Optional

from pydantic import Field, model_validator

from components.config.base import Bool, Int, Number, Pairs, Section, matching, one_of, section
from components.config.errors import Invalid

TIME_GRANULARITIES = ("HOURLY", "DAILY", "MONTHLY")
# Athena refuses a per-query data usage limit below 10 MB.
MIN_SCAN_LIMIT_GB = 0.01
BYTES_PER_GB = 1024 ** 3


@section
class AnomalyConfig(Section):
    """Cost Anomaly Detection over the cost tags: one monitor for the environment, one per team."""

    environment_threshold_usd: Number = Field(
        default=100.0, ge=1.0, description="Alert when an anomaly of the environment's spend has a total impact of at least this (USD).",
    )
    team_threshold_usd: Number = Field(default=50.0, ge=1.0, description="Alert threshold (USD) of every team without its own.")
    team_thresholds_usd: Pairs[str, Annotated[Number, Field(ge=1.0)]] = Field(default=(), description="Alert threshold (USD) by team.")

    def threshold_of(self, team: str) -> float:
        return dict(self.team_thresholds_usd).get(team, self.team_threshold_usd)


@section
class BillingConfig(Section):
    """CUR 2.0 (with split cost allocation data) and FOCUS exports into a billing bucket, their
    Athena table and workgroup, and cost anomaly alerts. The exports, bucket, table and workgroup
    cover the whole account: only the stack that owns account-wide billing resources
    (`budgets.activateCostAllocationTags`) declares them; every stack has its anomaly monitors."""

    export_bucket_name: Optional[matching(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "an S3 bucket name: 3-63 lowercase letters, digits, '.', '-'")] = Field(
        default=None, description="Bucket the exports are delivered to; required in the stack that owns account-wide billing resources.",
    )
    time_granularity: one_of(*TIME_GRANULARITIES) = Field(default="DAILY", description="Line-item granularity of the CUR 2.0 export.")
    focus_export: Bool = Field(default=True, description="Whether a FOCUS 1.0 export is delivered beside the CUR 2.0 export.")
    glacier_after_days: Int = Field(default=400, ge=1, description="Days until exported files move to Glacier Instant Retrieval.")
    expire_after_days: Int = Field(default=2557, ge=2, description="Days exported files are kept (finance keeps seven years by default).")
    noncurrent_version_expiry_days: Int = Field(default=30, ge=1, description="Days overwritten export versions are kept.")
    query_results_expiry_days: Int = Field(default=30, ge=1, description="Days Athena query results are kept.")
    query_scan_limit_gb: Number = Field(
        default=50.0, ge=MIN_SCAN_LIMIT_GB, description="Most data (GB) one Athena query of the workgroup may scan before Athena cancels it.",
    )
    anomalies: AnomalyConfig = Field(default_factory=AnomalyConfig, description="Cost anomaly alert thresholds.")

    @model_validator(mode="after")
    def _tiers_in_order(self) -> "BillingConfig":
        if self.expire_after_days <= self.glacier_after_days:
            raise Invalid(f"must be greater than glacierAfterDays ({self.glacier_after_days}), got {self.expire_after_days}", "expireAfterDays")
        return self

    @property
    def query_scan_limit_bytes(self) -> int:
        return int(self.query_scan_limit_gb * BYTES_PER_GB)


def check_billing(config) -> None:
    """Rules between billing and the other sections (`config` is the PlatformConfig)."""
    from components.config.errors import ConfigError, config_key

    billing = config.billing
    owner = config.budgets.activate_cost_allocation_tags
    if billing is None:
        if owner:
            raise ConfigError(config_key("billing"), "is required in the stack that owns account-wide billing resources "
                              "(budgets.activateCostAllocationTags): it names the bucket the billing exports go to")
        return
    if owner and billing.export_bucket_name is None:
        raise ConfigError(config_key("billing", "exportBucketName"), "is required in the stack that owns account-wide billing resources "
                          "(budgets.activateCostAllocationTags)")
    if not owner and billing.export_bucket_name is not None:
        raise ConfigError(config_key("billing", "exportBucketName"), "only the stack that owns account-wide billing resources "
                          "(budgets.activateCostAllocationTags: true) declares the exports; remove it here")
    for team, _ in billing.anomalies.team_thresholds_usd:
        if team not in config.team_names:
            raise ConfigError(config_key("billing", "anomalies", "teamThresholdsUsd", team), f"unknown team (teams: {', '.join(config.team_names)})")
