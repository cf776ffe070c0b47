"""Experiment-tracking settings: the stack's SageMaker managed MLflow tracking server."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from components.config.base import Bool, Section, matching, one_of, section
from components.config.endpoints import KeyPrefix

# CreateMlflowTrackingServer's TrackingServerSize enum (botocore's SageMaker model).
TRACKING_SERVER_SIZES = ("Small", "Medium", "Large")
# The artifact store lives in this zone: its lifecycle and the lake key apply to run artifacts.
ARTIFACT_ZONE = "artifacts"
# CreateMlflowTrackingServer's WeeklyMaintenanceWindowStart pattern.
MAINTENANCE_WINDOW = r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun):([01]\d|2[0-3]):([0-5]\d)"
# CreateMlflowTrackingServer's MlflowVersion (at most 16 characters).
MLFLOW_VERSION = r"\d{1,4}\.\d{1,4}(\.\d{1,4})?"


@section
class ExperimentsConfig(Section):
    """A SageMaker managed MLflow tracking server whose artifacts live in the lake's artifacts zone
    and whose registered models land in the stack's model package groups."""

    tracking_server_size: one_of(*TRACKING_SERVER_SIZES) = Field(
        default="Small", description="Tracking server size: Small (up to about 25 users), Medium or Large; billed by the hour.",
    )
    weekly_maintenance_window_start: matching(MAINTENANCE_WINDOW, "a day and UTC time like Tue:03:30") = Field(
        description="When SageMaker may update the server each week (UTC), like Tue:03:30.",
    )
    mlflow_version: Optional[matching(MLFLOW_VERSION, "an MLflow version like 2.16")] = Field(
        default=None, description="MLflow version of the server (default: the newest SageMaker offers).",
    )
    artifact_prefix: KeyPrefix = Field(
        default="mlflow/", description="Prefix of the artifacts zone holding run artifacts (models, plots, files).",
    )
    automatic_model_registration: Bool = Field(
        default=True, description="Register models registered in MLflow as versions in the SageMaker model registry.",
    )
