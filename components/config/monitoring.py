"""Drift-monitoring settings: a scheduled `mlp drift` job per capturing endpoint, and who hears of drift."""

from __future__ import annotations

from typing import Annotated, Optional

from pydantic import Field, field_validator

from components.config.base import (
    Cron,
    DnsLabel,
    Image,
    Int,
    Number,
    Pairs,
    S3Uri,
    Section,
    Unique,
    matching,
    one_of,
    section,
)
from components.config.budgets import EmailAddress
from components.config.endpoints import CAPTURE_ZONE, CpuQuantity, KeyPrefix, MemoryQuantity
from components.config.errors import Invalid

# Reports land in the capture zone, beside the captures they describe.
REPORT_ZONE = CAPTURE_ZONE
# A feature name as it appears in a baseline CSV header and a JSON request body.
FeatureName = matching(r"[A-Za-z_][A-Za-z0-9_.-]{0,127}", "a feature name (letters, digits, '_', '.', '-'; starting with a letter or '_')")
# CloudWatch alarm periods the drift alarms may use: one datapoint per job run must fall inside one.
ALARM_PERIODS = (300, 900, 3600, 21600, 86400)


@section
class DriftJobConfig(Section):
    """A scheduled drift job over one endpoint's captured requests."""

    endpoint: DnsLabel = Field(description="The endpoint whose captures are compared (a configured endpoint that captures).")
    schedule: Cron = Field(description="When the job runs (cron, UTC), like '0 * * * *'.")
    window_hours: Int = Field(default=24, ge=1, le=2160, description="Each run compares the captures of the last N hours.")
    baseline: S3Uri = Field(description="The baseline CSV (with a header naming the features) in the lake, like the training data.")
    features: Unique[FeatureName] = Field(min_length=1, max_length=200, description="Features compared, in the order of a CSV request's columns.")
    psi_threshold: Number = Field(default=0.2, gt=0, le=10, description="A feature whose population stability index reaches this has drifted.")
    p_value_threshold: Number = Field(default=0.001, gt=0, le=1, description="A feature whose two-sample KS p-value falls below this has drifted.")
    min_rows: Int = Field(default=100, ge=1, description="Below this many captured rows a run reports insufficient data instead of drift.")
    alarm_period_seconds: one_of(*ALARM_PERIODS) = Field(default=3600, description="Period (s) of the drift alarms: a run's datapoints breach for one period, then the alarm returns to OK.")
    cpu: CpuQuantity = Field(default="500m", description="CPU request and limit of the job.")
    memory: MemoryQuantity = Field(default="1Gi", description="Memory request and limit of the job.")
    active_deadline_seconds: Int = Field(default=3600, ge=60, le=86400, description="A run taking longer is stopped.")

    @field_validator("baseline")
    @classmethod
    def _an_object(cls, baseline):
        if baseline.is_prefix:
            raise Invalid(f"expected the baseline CSV object, got the prefix {baseline.uri}")
        return baseline


@section
class MonitoringConfig(Section):
    """Drift monitoring: `mlp drift` CronJobs on the cluster, CloudWatch alarms to the platform's
    alert topic and to the owning team."""

    image: Image = Field(description="Image with `mlp drift` (images/drift): a platform repository with a tag or digest.")
    report_prefix: KeyPrefix = Field(default="drift-reports/", description="Prefix of the artifacts zone the JSON reports go to (then <team>/<endpoint>/).")
    team_alert_emails: Pairs[DnsLabel, Annotated[Unique[EmailAddress], Field(min_length=1, max_length=10)]] = Field(
        default=(), description="By team, who is emailed when a drift alarm of the team's endpoints fires.",
    )
    capture_shipper_image: Optional[Image] = Field(
        default=None,
        description="Fluent Bit image shipping the captures of Kubernetes endpoints to the lake (required when one captures).",
    )
    drift_jobs: tuple[DriftJobConfig, ...] = Field(min_length=1, description="One drift job per endpoint that captures requests.")

    @field_validator("drift_jobs")
    @classmethod
    def _one_per_endpoint(cls, jobs: tuple[DriftJobConfig, ...]) -> tuple[DriftJobConfig, ...]:
        for i, job in enumerate(jobs):
            if job.endpoint in [other.endpoint for other in jobs[:i]]:
                raise Invalid(f"duplicate drift job for endpoint {job.endpoint!r}", i, "endpoint")
        return jobs

    def job_of(self, endpoint: str) -> Optional[DriftJobConfig]:
        return next((job for job in self.drift_jobs if job.endpoint == endpoint), None)

    def alert_emails_of(self, team: str) -> tuple[str, ...]:
        return dict(self.team_alert_emails).get(team, ())


def check_monitoring(config) -> None:
    """Rules between experiments, monitoring and the other sections (`config` is the PlatformConfig)."""
    from components.config.errors import ConfigError, config_key

    endpoints = {endpoint.name: endpoint for endpoint in config.endpoints}
    capturing = [endpoint for endpoint in config.endpoints if endpoint.capture is not None]
    real_time = [endpoint.name for endpoint in config.endpoints if endpoint.serverless is None]
    if real_time and config.experiments is None:
        raise ConfigError(config_key("experiments"), f"is required: the stack serves real-time endpoints ({', '.join(real_time)}) "
                          "whose models need a tracked experiment behind them")
    monitoring = config.monitoring
    if monitoring is None:
        if capturing:
            raise ConfigError(config_key("monitoring"), f"is required: endpoints capture requests ({', '.join(e.name for e in capturing)}) "
                              "and every capturing endpoint needs a drift job")
        return
    for endpoint in capturing:
        if monitoring.job_of(endpoint.name) is None:
            raise ConfigError(config_key("monitoring", "driftJobs"), f"endpoint {endpoint.name!r} captures requests but has no drift job")
        if endpoint.backend == "kubernetes" and monitoring.capture_shipper_image is None:
            raise ConfigError(config_key("monitoring", "captureShipperImage"),
                              f"is required: Kubernetes endpoint {endpoint.name!r} captures requests, which the shipper writes to the lake")
    lake_buckets = [config.datalake.bucket_name(zone.name) for zone in config.datalake.zones]
    for i, job in enumerate(monitoring.drift_jobs):
        here = ("monitoring", "driftJobs", i)
        endpoint = endpoints.get(job.endpoint)
        if endpoint is None:
            raise ConfigError(config_key(*here, "endpoint"), f"unknown endpoint (configured: {', '.join(endpoints) or 'none'})")
        if endpoint.capture is None:
            raise ConfigError(config_key(*here, "endpoint"), f"endpoint {job.endpoint!r} does not capture requests; give it a capture setting")
        role = f"{config.name_prefix}-drift-{job.endpoint}"
        if len(role) > 64:
            raise ConfigError(config_key(*here, "endpoint"), f"too long: the drift job's role name {role} must fit in 64 characters")
        if job.baseline.bucket not in lake_buckets:
            raise ConfigError(config_key(*here, "baseline"), f"expected a baseline in the data lake ({', '.join(lake_buckets)}), got {job.baseline.uri}")
    for team, _ in monitoring.team_alert_emails:
        if team not in config.team_names:
            raise ConfigError(config_key("monitoring", "teamAlertEmails", team), f"unknown team (teams: {', '.join(config.team_names)})")
    repositories = config.registries.repository_names
    for key, image in (("image", monitoring.image), ("captureShipperImage", monitoring.capture_shipper_image)):
        if image is not None and image.repository is not None and image.repository not in repositories:
            raise ConfigError(config_key("monitoring", key), f"repository {image.repository!r} is not one of the platform's ECR repositories "
                              f"({', '.join(repositories)}); give one of them or a full image URI")
