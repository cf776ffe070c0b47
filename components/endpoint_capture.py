"""Request capture for model servers on the cluster, into the same lake layout SageMaker uses.

SageMaker's data capture writes JSON Lines records (`captureData.endpointInput/endpointOutput`,
`eventMetadata`, mlp/drift/capture.py) under `captures/<team>/<endpoint>/<endpoint name>/<variant>/
yyyy/mm/dd/hh/`. A Kubernetes endpoint that captures does the same in two parts:

- the model server samples `CAPTURE_SAMPLING_PERCENT` % of its requests and appends one such record
  per sampled request to a `.jsonl` file in `CAPTURE_DIR` (a memory-backed emptyDir shared with the
  shipper); this is the serving image's contract, documented in docs/monitoring.md;
- a Fluent Bit sidecar tails those files and uploads them with its S3 output plugin to
  `captures/<team>/<endpoint>/<endpoint name>/<track>/%Y/%m/%d/%H/<uuid>.jsonl` of the artifacts
  zone (the track, stable or canary, stands where SageMaker puts the variant), encrypted by the
  bucket's default encryption with the lake key. It authenticates through the pod's EKS Pod
  Identity, which Fluent Bit's AWS credential chain reads from 4.0 on (fluent/fluent-bit#10115).

The endpoint's role may put objects under its own capture prefix and nothing else there.
"""

from __future__ import annotations

from typing import Any

from components.config import EndpointConfig

CAPTURE_DIR = "/var/run/mlplatform/captures"
SHIPPER_CONFIG_DIR = "/fluent-bit/etc/mlplatform"
SHIPPER_CONFIG_FILE = "fluent-bit.conf"
PARSERS_FILE = "parsers.conf"
# What the model server is told: where to write and how much to sample (reserved names, see config).
CAPTURE_ENV = ("CAPTURE_DIR", "CAPTURE_SAMPLING_PERCENT", "CAPTURE_ENDPOINT")
# Small files reach the lake within minutes; at most this much waits in the pod.
UPLOAD_TIMEOUT = "5m"
TOTAL_FILE_SIZE = "50M"
BUFFER_SIZE_LIMIT = "512Mi"
HEALTH_PORT = 2020
HEALTH_PATH = "/api/v1/health"


def capture_environment(endpoint: EndpointConfig, endpoint_name: str) -> dict[str, str]:
    return {
        "CAPTURE_DIR": CAPTURE_DIR,
        "CAPTURE_SAMPLING_PERCENT": str(endpoint.capture_sampling_percent),
        "CAPTURE_ENDPOINT": endpoint_name,
    }


def capture_key_format(endpoint: EndpointConfig, endpoint_name: str, track: str) -> str:
    """Fluent Bit's `s3_key_format`: SageMaker's layout, with the track as the variant."""
    return f"/{endpoint.capture_prefix}{endpoint_name}/{track}/%Y/%m/%d/%H/$UUID.jsonl"


def shipper_config(*, endpoint: EndpointConfig, endpoint_name: str, track: str, bucket: str, region: str) -> dict[str, str]:
    """The Fluent Bit configuration files (classic format) of one Deployment's shipper."""
    service = "\n".join([
        "[SERVICE]",
        "    Flush            5",
        # Finish uploads when the pod stops (within its termination grace period).
        "    Grace            20",
        "    Log_Level        info",
        f"    Parsers_File     {SHIPPER_CONFIG_DIR}/{PARSERS_FILE}",
        # The health endpoint the kubelet probes: unhealthy once output retries keep failing.
        "    HTTP_Server      On",
        "    HTTP_Listen      0.0.0.0",
        f"    HTTP_Port        {HEALTH_PORT}",
        "    Health_Check     On",
        "    HC_Errors_Count  5",
        "    HC_Retry_Failure_Count 5",
        "    HC_Period        60",
        "",
        "[INPUT]",
        "    Name             tail",
        f"    Path             {CAPTURE_DIR}/*.jsonl",
        "    Parser           capture_record",
        "    Tag              capture",
        "    DB               /tmp/fluent-bit/tail.db",
        "    Read_from_Head   On",
        "    Refresh_Interval 5",
        "    Buffer_Max_Size  1M",
        "",
        "[OUTPUT]",
        "    Name             s3",
        "    Match            capture",
        f"    bucket           {bucket}",
        f"    region           {region}",
        f"    s3_key_format    {capture_key_format(endpoint, endpoint_name, track)}",
        f"    total_file_size  {TOTAL_FILE_SIZE}",
        f"    upload_timeout   {UPLOAD_TIMEOUT}",
        "    use_put_object   On",
        # The records are written as they were read: no date key is added to them.
        "    json_date_key    false",
        "    store_dir        /tmp/fluent-bit/s3",
        "",
    ])
    parsers = "\n".join([
        "[PARSER]",
        "    Name        capture_record",
        "    Format      json",
        "",
    ])
    return {SHIPPER_CONFIG_FILE: service, PARSERS_FILE: parsers}


def capture_volumes(config_map_name: str) -> list[dict]:
    return [
        # Memory-backed: captured payloads (possibly personal data) never touch the node's disk.
        {"name": "captures", "emptyDir": {"medium": "Memory", "sizeLimit": BUFFER_SIZE_LIMIT}},
        {"name": "capture-shipper-config", "configMap": {"name": config_map_name}},
        {"name": "capture-shipper-state", "emptyDir": {"sizeLimit": "1Gi"}},
    ]


def server_capture_mount() -> dict:
    return {"name": "captures", "mountPath": CAPTURE_DIR}


def shipper_container(image: Any, security_context: dict, region: str) -> dict:
    return {
        "name": "capture-shipper",
        "image": image,
        "imagePullPolicy": "Always",
        "command": ["/fluent-bit/bin/fluent-bit"],
        "args": ["-c", f"{SHIPPER_CONFIG_DIR}/{SHIPPER_CONFIG_FILE}"],
        "env": [{"name": "AWS_REGION", "value": region}],
        # Requests equal limits, like every serving container (Guaranteed QoS).
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "100m", "memory": "128Mi"}},
        "ports": [{"name": "shipper-health", "containerPort": HEALTH_PORT, "protocol": "TCP"}],
        "livenessProbe": {"httpGet": {"path": HEALTH_PATH, "port": "shipper-health"}, "periodSeconds": 30, "failureThreshold": 3},
        "readinessProbe": {"httpGet": {"path": HEALTH_PATH, "port": "shipper-health"}, "periodSeconds": 30, "failureThreshold": 3},
        "securityContext": security_context,
        "volumeMounts": [
            {"name": "captures", "mountPath": CAPTURE_DIR, "readOnly": True},
            {"name": "capture-shipper-config", "mountPath": SHIPPER_CONFIG_DIR, "readOnly": True},
            {"name": "capture-shipper-state", "mountPath": "/tmp/fluent-bit"},
        ],
    }


def capture_write_statement(capture_bucket_arn: str, endpoint: EndpointConfig) -> dict:
    """Put objects under the endpoint's own capture prefix; nothing else in the capture zone."""
    return {"Sid": "WriteCaptures", "Effect": "Allow", "Action": ["s3:PutObject"],
            "Resource": [f"{capture_bucket_arn}/{endpoint.capture_prefix}*"]}
