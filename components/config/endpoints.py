"""Serving settings: real-time inference endpoints (SageMaker or the cluster) and batch scoring
jobs, with their rollout, rollback alarms and request capture."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Optional, Union

from pydantic import AfterValidator, Field, PlainValidator, ValidationInfo, WithJsonSchema, model_validator

from components.config.base import (
    S3_URI_PATTERN,
    Cron,
    DnsLabel,
    Image,
    Int,
    Pairs,
    S3Location,
    S3Uri,
    Section,
    Text,
    check_order,
    matching,
    one_of,
    parse_s3_uri,
    section,
    string_schema,
)
from components.config.errors import Invalid, describe
from components.config.load_balancers import Hostname, LoadBalancerConfig, OidcSignInConfig

ENDPOINT_BACKENDS = ("sagemaker", "kubernetes")
# Data capture of SageMaker endpoints lands in this zone: its lifecycle expiry bounds what
# captured payloads (which may hold personal data) cost and how long they are kept, while the
# models zone keeps immutable model artifacts indefinitely.
CAPTURE_ZONE = "artifacts"
# Captures land under `captures/<team>/<endpoint>/`: one prefix per team, so the lake can keep every
# team's captured payloads from every other team (components/datalake.py).
CAPTURE_PREFIX = "captures/"
# Batch scoring reads its input from and writes predictions back to this zone.
SCORING_ZONE = "curated"

HOSTING_INSTANCES_FILE = "data/sagemaker_hosting_instances.json"


def sagemaker_hosting_instance_types(region: str) -> tuple[str, ...]:
    """Instance types SageMaker offers for real-time hosting in `region` (empty if unknown)."""
    return tuple(_hosting_table()["regions"].get(region, ()))


def has_instance_storage(instance_type: str) -> bool:
    """Whether a hosting instance type has NVMe instance storage (SageMaker then refuses a KMS key)."""
    return instance_type.split(".")[1] in _hosting_table()["instanceStorageFamilies"]


@lru_cache(maxsize=1)
def _hosting_table() -> dict:
    return json.loads((Path(__file__).parent.parent / HOSTING_INSTANCES_FILE).read_text())


_MODEL_PACKAGE_ARN = r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[A-Za-z0-9-]{1,63}/\d+"
_MODEL_PACKAGE_EXPECTED = "a versioned SageMaker model package ARN like arn:aws:sagemaker:us-east-1:123456789012:model-package/demand/3"


def model_package_group(package_arn: str) -> str:
    """The model package group of a versioned package ARN (`...:model-package/<group>/<version>`)."""
    return package_arn.rsplit("/", 2)[1]


def _model_source(value: Any) -> Union[S3Location, str]:
    if isinstance(value, str) and value.startswith("arn:"):
        if not re.fullmatch(_MODEL_PACKAGE_ARN, value):
            raise Invalid(f"expected {_MODEL_PACKAGE_EXPECTED}, got {describe(value)}")
        return value
    return parse_s3_uri(value)


# An S3 artifact (object or prefix) in the models zone, or a SageMaker model package ARN.
ModelSource = Annotated[
    Union[S3Location, str],
    PlainValidator(_model_source),
    WithJsonSchema(string_schema(f"{S3_URI_PATTERN}|{_MODEL_PACKAGE_ARN}", "an S3 URI like s3://bucket/path/model.tar.gz or a SageMaker model package ARN")),
]

# Kubernetes resource quantities: CPU like 500m or 2, memory like 512Mi or 4Gi.
CpuQuantity = matching(r"\d+(\.\d+)?|\d+m", "a CPU quantity like 500m or 2")
MemoryQuantity = matching(r"\d+(Ki|Mi|Gi|Ti)", "a memory quantity like 512Mi or 4Gi")
# A key prefix inside a zone bucket, like teams/forecasting/sales/.
KeyPrefix = matching(r"([A-Za-z0-9!_.*'()-]+/)+", "an S3 key prefix ending in '/' like teams/forecasting/sales/")


def team_capture_prefix(team: str) -> str:
    return f"{CAPTURE_PREFIX}{team}/"


def cpu_cores(quantity: str) -> float:
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def memory_gi(quantity: str) -> float:
    scale = {"Ki": 1 / 1024**2, "Mi": 1 / 1024, "Gi": 1, "Ti": 1024}[quantity[-2:]]
    return int(quantity[:-2]) * scale


# Names the platform sets itself; config may not override them.
_RESERVED_ENV = ("MODEL_URI", "INPUT_URI", "OUTPUT_URI", "AWS_REGION", "PORT", "CAPTURE_DIR", "CAPTURE_SAMPLING_PERCENT", "CAPTURE_ENDPOINT")


def _environment_names(pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    for name, _ in pairs:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise Invalid(f"expected an environment variable name, got {describe(name)}", name)
        if name in _RESERVED_ENV:
            raise Invalid(f"is set by the platform ({', '.join(_RESERVED_ENV)} are reserved)", name)
    return pairs


Environment = Annotated[Pairs[str, Text], AfterValidator(_environment_names)]


@section
class ServerlessConfig(Section):
    """A serverless endpoint: nothing to pay while idle, no instances to scale."""

    memory_size_mb: one_of(1024, 2048, 3072, 4096, 5120, 6144) = Field(description="Memory of each concurrent invocation (MB).")
    max_concurrency: Int = Field(ge=1, le=200, description="Concurrent invocations the endpoint scales to.")


@section
class CaptureConfig(Section):
    """Request capture into the lake's artifacts zone, what drift monitoring reads."""

    sampling_percent: Int = Field(ge=1, le=100, description="Share of requests captured (%).")


@section
class RolloutConfig(Section):
    """Blue/green update: shift `canary_percent` of capacity, bake, then the rest; without a
    canary all traffic moves at once and the old fleet stays up for the termination wait."""

    canary_percent: Optional[Int] = Field(default=None, ge=1, le=50, description="Capacity (%) the canary gets first; unset moves all traffic at once.")
    wait_seconds: Int = Field(ge=0, le=3600, description="Seconds to bake (watching the rollback alarms) before the rest of the traffic moves.")
    termination_wait_seconds: Int = Field(default=0, ge=0, le=3600, description="Seconds the old fleet stays up after the shift.")
    maximum_execution_timeout_seconds: Int = Field(default=3600, ge=600, le=14400, description="Seconds the whole update may take.")

    @model_validator(mode="after")
    def _bake_fits(self) -> "RolloutConfig":
        if self.wait_seconds >= self.maximum_execution_timeout_seconds:
            raise Invalid(f"must be shorter than maximumExecutionTimeoutSeconds ({self.maximum_execution_timeout_seconds})", "waitSeconds")
        return self


@section
class RollbackAlarmsConfig(Section):
    """Alarms that roll a deployment back: 5xx errors and model latency per period."""

    max_5xx_errors: Int = Field(ge=0, description="5xx errors per period above which the update rolls back.")
    max_model_latency_ms: Int = Field(ge=1, description="Average model latency (ms) per period above which the update rolls back.")
    # SageMaker publishes endpoint metrics once a minute: a 10 or 30 second alarm period would
    # mostly see no data and, treating missing data as fine, never roll anything back.
    period_seconds: one_of(60, 120, 300, 600) = Field(default=60, description="Alarm period (s).")
    evaluation_periods: Int = Field(default=2, ge=1, le=10, description="Periods the alarm evaluates.")


@section
class KubernetesCanaryConfig(Section):
    """A second, smaller Deployment taking a share of the traffic."""

    image: Image = Field(description="Canary image: a platform repository with a tag or digest, or a full URI.")
    model: Optional[S3Uri] = Field(default=None, description="Canary model in the models zone (default: the endpoint's).")
    weight_percent: Int = Field(ge=1, le=50, description="Share of traffic (%) the canary gets.")
    replicas: Int = Field(default=1, ge=1, description="Canary replicas.")


@section
class ServingIngressConfig(LoadBalancerConfig):
    """The model server's load balancer: HTTPS only, from the allowed networks, optionally behind sign-in."""

    auth: Optional[OidcSignInConfig] = Field(default=None, description="Sign-in at the load balancer; without it, callers are only limited by allowedCidrs.")
    hostname: Optional[Hostname] = Field(
        default=None,
        description="Host name the model server answers on (the certificate must cover it); required where the cluster shares one load balancer.",
    )


@section
class KubernetesServingConfig(Section):
    """A model server Deployment on the cluster, scaled by CPU utilisation."""

    port: Int = Field(default=8080, ge=1024, le=65535, description="Port the model server listens on.")
    health_path: matching(r"/[A-Za-z0-9/_.-]*", "an HTTP path like /ping") = Field(default="/ping", description="Readiness and liveness path.")
    cpu: CpuQuantity = Field(description="CPU request of each replica.")
    memory: MemoryQuantity = Field(description="Memory request and limit of each replica.")
    gpus: Int = Field(default=0, ge=0, le=8, description="NVIDIA GPUs of each replica (on a GPU pool).")
    target_cpu_utilization_percent: Int = Field(ge=10, le=95, description="CPU utilisation (%) the autoscaler keeps replicas at.")
    canary: Optional[KubernetesCanaryConfig] = Field(default=None, description="A canary Deployment.")
    ingress: ServingIngressConfig = Field(description="The HTTPS load balancer in front of the model server.")


_BACKEND_ONLY_KEYS = {
    "sagemaker": ("instanceType", "serverless", "targetInvocationsPerInstance", "rollout", "alarms"),
    "kubernetes": ("kubernetes",),
}
# Serverless endpoints cost nothing idle but take no instance type, instance autoscaling or data
# capture (AWS does not support capture on serverless variants), nor deployment guardrails:
# canary shifting and alarm rollback exist only for real-time endpoints.
_NOT_SERVERLESS = ("instanceType", "minCapacity", "maxCapacity", "targetInvocationsPerInstance", "capture", "rollout")


def _no_schema_default(schema: dict) -> None:
    # Capacity 0 stands for "serverless, no instances": a value to read, never one to write.
    schema.pop("default", None)


_REAL_TIME_REQUIRED = ("instanceType", "minCapacity", "maxCapacity", "targetInvocationsPerInstance", "capture", "rollout", "alarms")


@section
class EndpointConfig(Section):
    """A real-time inference endpoint."""

    name: DnsLabel = Field(description="Endpoint name.")
    team: DnsLabel = Field(description="Owning team (a configured team).")
    backend: one_of(*ENDPOINT_BACKENDS) = Field(default="sagemaker", description="sagemaker (managed endpoint) or kubernetes (model server on the cluster).")
    model_source: ModelSource = Field(alias="model", description="s3:// artifact (object or prefix) in the models zone, or (sagemaker) a model package ARN of the platform's groups.")
    image: Image = Field(description="Serving image: a platform repository with a tag or digest, or a full URI (sagemaker: ECR only).")
    environment: Environment = Field(default=(), description="Environment variables of the model server (names the platform sets are reserved).")
    min_capacity: Int = Field(default=0, ge=1, json_schema_extra=_no_schema_default, description="Instances or replicas always running; required except for serverless endpoints.")
    max_capacity: Int = Field(default=0, ge=1, json_schema_extra=_no_schema_default, description="Instances or replicas the autoscaler may reach; required except for serverless endpoints.")
    instance_type: Optional[matching(r"ml\.[a-z0-9]+\.[a-z0-9]+", "a SageMaker instance type like ml.m5.large")] = Field(
        default=None, description="SageMaker hosting instance type (sagemaker, real-time).",
    )
    serverless: Optional[ServerlessConfig] = Field(default=None, description="Serve from a serverless endpoint instead of instances (sagemaker).")
    target_invocations_per_instance: Optional[Int] = Field(default=None, ge=1, description="Invocations per instance per minute the autoscaler aims at (sagemaker, real-time).")
    capture: Optional[CaptureConfig] = Field(default=None, description="Request capture into the lake (sagemaker real-time; kubernetes through the capture shipper, docs/monitoring.md).")
    rollout: Optional[RolloutConfig] = Field(default=None, description="Blue/green update policy (sagemaker, real-time).")
    alarms: Optional[RollbackAlarmsConfig] = Field(default=None, description="Rollback alarms (sagemaker).")
    kubernetes: Optional[KubernetesServingConfig] = Field(default=None, description="The model server on the cluster (kubernetes).")

    @classmethod
    def _prepare(cls, data: dict, info: ValidationInfo) -> dict:
        backend = data.get("backend", "sagemaker")
        for other, keys in _BACKEND_ONLY_KEYS.items():
            for name in keys:
                # An unknown backend is reported by the backend field itself.
                if other != backend and backend in ENDPOINT_BACKENDS and name in data:
                    raise Invalid(f"applies only to backend {other}, this endpoint's backend is {backend}", name)
        if "serverless" in data:
            for name in _NOT_SERVERLESS:
                if name in data:
                    raise Invalid(
                        "does not apply to a serverless endpoint (it scales by serverless.maxConcurrency, cannot capture data, "
                        "and SageMaker's canary rollout and rollback exist only for real-time endpoints)",
                        name,
                    )
        return data

    @model_validator(mode="after")
    def _backend_settings(self) -> "EndpointConfig":
        if self.model_package is not None and self.backend != "sagemaker":
            raise Invalid("model package ARNs are served by backend sagemaker only; use an s3:// model URI", "model")
        if self.backend == "sagemaker":
            required = ("alarms",) if self.serverless else _REAL_TIME_REQUIRED
        else:
            required = ("minCapacity", "maxCapacity", "kubernetes")
        self._require(*required)
        if self.serverless is None:
            check_order("minCapacity", self.min_capacity, "maxCapacity", self.max_capacity)
        canary = self.rollout.canary_percent if self.rollout else None
        # SageMaker's canary is at most half the fleet, and at least one whole instance.
        if canary is not None and -(-self.min_capacity * canary // 100) > self.min_capacity / 2:
            raise Invalid(
                f"a canary of {canary}% is more than half of a {self.min_capacity}-instance fleet; raise minCapacity to 2 or more, "
                "or leave canaryPercent out for an all-at-once blue/green update",
                "rollout",
                "canaryPercent",
            )
        return self

    @property
    def model(self) -> Optional[S3Location]:
        return self.model_source if isinstance(self.model_source, S3Location) else None

    @property
    def model_package(self) -> Optional[str]:
        return self.model_source if isinstance(self.model_source, str) else None

    @property
    def capture_sampling_percent(self) -> Optional[int]:
        return self.capture.sampling_percent if self.capture else None

    @property
    def capture_prefix(self) -> str:
        return f"{team_capture_prefix(self.team)}{self.name}/"


@section
class BatchJobConfig(Section):
    """A scheduled batch scoring job (a Kubernetes CronJob) over the curated zone."""

    name: DnsLabel = Field(description="Job name.")
    team: DnsLabel = Field(description="Owning team (a configured team).")
    schedule: Cron = Field(description="When the job runs (cron, in UTC).")
    image: Image = Field(description="Scoring image: a platform repository with a tag or digest, or a full URI.")
    model: S3Uri = Field(description="Model artifact in the models zone.")
    input_prefix: KeyPrefix = Field(description="Input prefix in the curated zone.")
    output_prefix: KeyPrefix = Field(description="Prediction prefix in the curated zone, under teams/<team>/.")
    cpu: CpuQuantity = Field(description="CPU request of the job's pod.")
    memory: MemoryQuantity = Field(description="Memory request and limit of the job's pod.")
    gpus: Int = Field(default=0, ge=0, le=8, description="NVIDIA GPUs of the job's pod (on a GPU pool).")
    active_deadline_seconds: Int = Field(default=3600, ge=60, le=86400, description="Seconds after which a run is stopped.")
    environment: Environment = Field(default=(), description="Environment variables of the job (names the platform sets are reserved).")

    @model_validator(mode="after")
    def _writes_under_its_team(self) -> "BatchJobConfig":
        if not self.output_prefix.startswith(f"teams/{self.team}/"):
            raise Invalid(f"predictions are written under the team's own prefix teams/{self.team}/, got {self.output_prefix!r}", "outputPrefix")
        return self
