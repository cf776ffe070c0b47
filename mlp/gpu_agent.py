"""`mlp gpu-agent`: sample the node's GPUs through NVML and publish utilisation to CloudWatch.

Runs on every GPU node (a DaemonSet). Every `--sample-seconds` it reads each GPU's utilisation
and memory; every `--publish-seconds` it publishes one window to CloudWatch (namespace
`MLPlatform/GPU`, dimensions ClusterName, NodePool, InstanceType):

| metric | unit | meaning |
|---|---|---|
| `GPUs` | Count | GPUs on the node |
| `IdleGPUs` | Count | GPUs whose utilisation stayed below `--idle-threshold` for the whole window |
| `GPUUtilization` | Percent | mean utilisation over the node's GPUs and the window |
| `GPUMemoryUtilization` | Percent | mean memory in use |
| `PublishPeriodSeconds` | Seconds | the window length, so readers can turn sums into GPU-hours |

Summing `IdleGPUs` over a month and multiplying by the window length gives idle GPU-seconds,
which `mlp report` prices as idle-GPU cost. Dimensions deliberately leave out the instance id:
every extra dimension value is another billed custom metric, and CloudWatch sums the nodes of a
pool for us.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import sys
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Protocol

from mlp.cli import percent, seconds, whole_number
from mlp.errors import ServiceError, UserError

NAMESPACE = "MLPlatform/GPU"


class NvmlUnavailable(Exception):
    """NVML cannot be used on this machine (no driver, no library, no permission)."""


@dataclass(frozen=True)
class GpuSample:
    index: int
    utilization_percent: float
    memory_used_bytes: int
    memory_total_bytes: int

    @property
    def memory_percent(self) -> float:
        return 100.0 * self.memory_used_bytes / self.memory_total_bytes if self.memory_total_bytes else 0.0


class GpuSource(Protocol):
    """What the agent needs from NVML; tests pass a fake with the same method."""

    def read(self) -> list[GpuSample]: ...


class NvmlSource:
    """The real NVML, through nvidia-ml-py (`pynvml`)."""

    def __init__(self):
        import pynvml

        self._nvml = pynvml
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as error:
            raise NvmlUnavailable(_explain_nvml_error(pynvml, error)) from None
        self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]

    def read(self) -> list[GpuSample]:
        samples = []
        for index, handle in enumerate(self._handles):
            rates = self._nvml.nvmlDeviceGetUtilizationRates(handle)
            memory = self._nvml.nvmlDeviceGetMemoryInfo(handle)
            samples.append(GpuSample(index, float(rates.gpu), int(memory.used), int(memory.total)))
        return samples

    def close(self) -> None:
        self._nvml.nvmlShutdown()


def _explain_nvml_error(pynvml, error) -> str:
    reasons = {
        pynvml.NVML_ERROR_LIBRARY_NOT_FOUND: "the NVIDIA driver is not installed on this machine (libnvidia-ml.so not found)",
        pynvml.NVML_ERROR_DRIVER_NOT_LOADED: "the NVIDIA driver is installed but not loaded",
        pynvml.NVML_ERROR_NO_PERMISSION: "no permission to use the GPU devices (run privileged or with /dev/nvidia* mounted)",
    }
    return f"NVML unavailable: {reasons.get(error.value, str(error))}; run the GPU agent only on GPU nodes"


@dataclass(frozen=True)
class WindowSummary:
    gpus: int
    idle_gpus: int
    mean_utilization: float
    mean_memory_utilization: float


def summarize(window: list[list[GpuSample]], idle_threshold: float) -> WindowSummary:
    """One publish window: which GPUs stayed idle throughout, and mean utilisation."""
    # A reading NVML could not make sense of (NaN) is left out: CloudWatch refuses the whole
    # window for one non-finite value.
    readings = [sample for samples in window for sample in samples
                if math.isfinite(sample.utilization_percent) and math.isfinite(sample.memory_percent)]
    if not readings:
        return WindowSummary(0, 0, 0.0, 0.0)
    busiest: dict[int, float] = {}
    for sample in readings:
        busiest[sample.index] = max(busiest.get(sample.index, 0.0), sample.utilization_percent)
    return WindowSummary(
        gpus=len(busiest),
        idle_gpus=sum(peak < idle_threshold for peak in busiest.values()),
        mean_utilization=sum(s.utilization_percent for s in readings) / len(readings),
        mean_memory_utilization=sum(s.memory_percent for s in readings) / len(readings),
    )


def metric_data(summary: WindowSummary, dimensions: dict[str, str], period_seconds: int, timestamp: float) -> list[dict]:
    dims = [{"Name": name, "Value": value} for name, value in dimensions.items()]
    values = [
        ("GPUs", summary.gpus, "Count"),
        ("IdleGPUs", summary.idle_gpus, "Count"),
        ("GPUUtilization", round(summary.mean_utilization, 2), "Percent"),
        ("GPUMemoryUtilization", round(summary.mean_memory_utilization, 2), "Percent"),
        ("PublishPeriodSeconds", period_seconds, "Seconds"),
    ]
    return [{"MetricName": name, "Dimensions": dims, "Value": float(value), "Unit": unit, "Timestamp": timestamp} for name, value, unit in values]


@dataclass
class AgentSettings:
    cluster: str
    node_pool: str
    instance_type: str
    sample_seconds: float = 10.0
    publish_seconds: int = 60
    idle_threshold: float = 5.0

    @property
    def dimensions(self) -> dict[str, str]:
        return {"ClusterName": self.cluster, "NodePool": self.node_pool, "InstanceType": self.instance_type}


def run_windows(
    source: GpuSource,
    settings: AgentSettings,
    publish: Callable[[list[dict]], None],
    windows: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> Iterator[WindowSummary]:
    """Sample and publish window after window (forever when `windows` is None)."""
    samples_per_window = max(1, round(settings.publish_seconds / settings.sample_seconds))
    done = 0
    while windows is None or done < windows:
        window = []
        for i in range(samples_per_window):
            window.append(source.read())
            if i < samples_per_window - 1:
                sleep(settings.sample_seconds)
        summary = summarize(window, settings.idle_threshold)
        publish(metric_data(summary, settings.dimensions, settings.publish_seconds, clock()))
        done += 1
        yield summary
        if windows is None or done < windows:
            sleep(settings.sample_seconds)


# A window's publish must end well before the next window's: the agent's calls get their own,
# shorter limits than a report's.
PUBLISH_TIMEOUT_SECONDS = 10.0
PUBLISH_DEADLINE_SECONDS = 30.0


def cloudwatch_publisher(region: str | None, endpoint_url: str | None) -> Callable[[list[dict]], None]:
    from mlp import aws

    settings = aws.AwsSettings(read_timeout=PUBLISH_TIMEOUT_SECONDS, deadline_seconds=PUBLISH_DEADLINE_SECONDS)

    def publish(data: list[dict]) -> None:
        try:
            # A client per window: the deadline covers one window's call and its retries.
            client = aws.client("cloudwatch", region, endpoint_url, settings=settings)
            aws.call(client, "put_metric_data", Namespace=NAMESPACE, MetricData=data)
        except (ServiceError, UserError) as error:
            # A lost window costs one data point; the agent must keep running on the node.
            print(f"mlp gpu-agent: could not publish to CloudWatch (window dropped): {error}", file=sys.stderr)

    return publish


IMDS_ENDPOINT = "http://169.254.169.254"


def instance_type_from_imds(endpoint: str | None = None, timeout: float = 2.0) -> str | None:
    """The node's instance type from the EC2 instance metadata service (IMDSv2), or None.

    The agent runs with hostNetwork, so one hop reaches IMDS even where node classes keep the
    hop limit at 1 for ordinary pods."""
    import urllib.error
    import urllib.request

    base = (endpoint or os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or IMDS_ENDPOINT).rstrip("/")
    try:
        token_request = urllib.request.Request(f"{base}/latest/api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
        with urllib.request.urlopen(token_request, timeout=timeout) as response:
            token = response.read().decode()
        type_request = urllib.request.Request(f"{base}/latest/meta-data/instance-type", headers={"X-aws-ec2-metadata-token": token})
        with urllib.request.urlopen(type_request, timeout=timeout) as response:
            return response.read().decode().strip() or None
    except (urllib.error.URLError, OSError, ValueError):
        return None


# An EC2 instance type, as the SMBIOS product name of a Nitro instance spells it (g5.xlarge, p4d.24xlarge).
_INSTANCE_TYPE = re.compile(r"[a-z][a-z0-9-]*\.[a-z0-9-]+")


def instance_type_from_file(path: str) -> str | None:
    """The instance type written in `path` (the DaemonSet names the node's SMBIOS product name,
    which a pod reads without host networking or instance metadata), or None if it holds none."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read(64).strip()
    except OSError:
        return None
    return text if _INSTANCE_TYPE.fullmatch(text) else None


MIN_SAMPLE_SECONDS = 1.0  # NVML's utilisation is an average over the last second or so
MAX_SECONDS = 86_400.0


def _seconds(name: str, value: float, minimum: float = MIN_SAMPLE_SECONDS) -> float:
    """The same check as the option's type, for settings given in code."""
    if not (isinstance(value, (int, float)) and math.isfinite(value) and minimum <= value <= MAX_SECONDS):
        raise UserError("command line", f"expected a number of seconds from {minimum:g} to {MAX_SECONDS:g}, got {value!r}", key=name)
    return float(value)


def run(args: argparse.Namespace, source_factory: Callable[[], GpuSource] = NvmlSource) -> int:
    if not args.instance_type and getattr(args, "instance_type_file", None):
        args.instance_type = instance_type_from_file(args.instance_type_file)
    if not args.instance_type:
        args.instance_type = instance_type_from_imds()
    for option in ("cluster", "node_pool", "instance_type"):
        if not getattr(args, option):
            flag = "--" + option.replace("_", "-")
            where = " or run on EC2 with instance metadata reachable" if option == "instance_type" else ""
            raise UserError("command line", f"is required (or set {ENV_DEFAULTS[option]}{where})", key=flag)
    settings = AgentSettings(
        cluster=args.cluster,
        node_pool=args.node_pool,
        instance_type=args.instance_type,
        sample_seconds=_seconds("--sample-seconds", args.sample_seconds),
        publish_seconds=int(_seconds("--publish-seconds", args.publish_seconds)),
        idle_threshold=args.idle_threshold,
    )
    if settings.publish_seconds < settings.sample_seconds:
        raise UserError("command line", f"must be at least --sample-seconds ({settings.sample_seconds:g})", key="--publish-seconds")
    if not (isinstance(settings.idle_threshold, (int, float)) and 0 <= settings.idle_threshold <= 100):  # NaN fails too
        raise UserError("command line", f"expected a percentage from 0 to 100, got {settings.idle_threshold!r}", key="--idle-threshold")

    try:
        source = source_factory()
    except NvmlUnavailable as error:
        print(f"mlp gpu-agent: {error}", file=sys.stderr)
        return 1
    if args.dry_run:
        def publish(data: list[dict]) -> None:
            print(json.dumps({"Namespace": NAMESPACE, "MetricData": data}, default=str), flush=True)
    else:
        publish = cloudwatch_publisher(args.region, args.endpoint_url)

    # Stop cleanly between windows when Kubernetes terminates the pod.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        for _ in run_windows(source, settings, publish, windows=args.windows):
            pass
    finally:
        close = getattr(source, "close", None)
        if close:
            close()
    return 0


ENV_DEFAULTS = {"cluster": "MLP_CLUSTER_NAME", "node_pool": "MLP_NODE_POOL", "instance_type": "MLP_INSTANCE_TYPE"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("gpu-agent", help="sample GPUs through NVML and publish utilisation for idle-GPU cost")
    parser.add_argument("--cluster", default=os.environ.get(ENV_DEFAULTS["cluster"]), help="EKS cluster name (env MLP_CLUSTER_NAME)")
    parser.add_argument("--node-pool", default=os.environ.get(ENV_DEFAULTS["node_pool"]), help="Karpenter NodePool of this node (env MLP_NODE_POOL)")
    parser.add_argument("--instance-type", default=os.environ.get(ENV_DEFAULTS["instance_type"]), help="EC2 instance type of this node (env MLP_INSTANCE_TYPE; default: from instance metadata)")
    parser.add_argument("--instance-type-file", default=os.environ.get("MLP_INSTANCE_TYPE_FILE"),
                        help="file holding the instance type, read when --instance-type is not given, before instance metadata "
                             "(env MLP_INSTANCE_TYPE_FILE; the DaemonSet names the node's SMBIOS product name)")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION"), help="CloudWatch region (default: the AWS SDK's)")
    parser.add_argument("--endpoint-url", default=os.environ.get("MLP_CLOUDWATCH_ENDPOINT"), help="CloudWatch endpoint override (tests, VPC endpoints)")
    parser.add_argument("--sample-seconds", type=seconds(MIN_SAMPLE_SECONDS, MAX_SECONDS), default=10.0, help="seconds between NVML samples (default 10)")
    parser.add_argument("--publish-seconds", type=seconds(MIN_SAMPLE_SECONDS, MAX_SECONDS), default=60.0, help="seconds per published window (default 60)")
    parser.add_argument("--idle-threshold", type=percent, default=5.0, help="a GPU below this utilisation %% for a whole window is idle (default 5)")
    parser.add_argument("--windows", type=whole_number(1, 10**9), default=None, help="stop after this many windows (default: run until terminated)")
    parser.add_argument("--dry-run", action="store_true", help="print the metric data as JSON lines instead of publishing")
    parser.set_defaults(handler=run)


if __name__ == "__main__":
    # The agent's container runs `python -m mlp.gpu_agent ...` with only the agent's dependencies.
    from mlp.cli import main

    sys.exit(main(["gpu-agent", *sys.argv[1:]], commands=("gpu_agent",)))
