"""The GPU agent, through a fake at the NVML boundary and a real moto_server for CloudWatch."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from mlp import gpu_agent
from mlp.errors import UserError
from mlp.gpu_agent import AgentSettings, GpuSample, NvmlUnavailable, run_windows, summarize
from tests.conftest import run_mlp

GIB = 1024 ** 3


class FakeNvml:
    """Replays per-GPU utilisation readings, one list per sample."""

    def __init__(self, readings: list[list[float]], memory_used_gib: float = 8.0):
        self.readings = list(readings)
        self.memory_used = int(memory_used_gib * GIB)
        self.closed = False

    def device_count(self) -> int:
        return len(self.readings[0])

    def read(self) -> list[GpuSample]:
        utilizations = self.readings.pop(0)
        return [GpuSample(i, u, self.memory_used, 24 * GIB) for i, u in enumerate(utilizations)]

    def close(self) -> None:
        self.closed = True


def test_a_gpu_is_idle_only_if_it_stayed_idle_all_window():
    window = [
        [GpuSample(0, 0.0, 0, GIB), GpuSample(1, 90.0, GIB // 2, GIB)],
        [GpuSample(0, 3.0, 0, GIB), GpuSample(1, 2.0, GIB // 2, GIB)],
    ]
    summary = summarize(window, idle_threshold=5.0)
    assert summary.gpus == 2
    assert summary.idle_gpus == 1  # GPU 1 dipped to 2% but was busy earlier in the window
    assert summary.mean_utilization == pytest.approx(23.75)
    assert summary.mean_memory_utilization == pytest.approx(25.0)


def test_windows_sample_then_publish_with_the_pool_dimensions():
    source = FakeNvml([[0, 50], [0, 70], [0, 60], [1, 0], [2, 0], [0, 0]])
    settings = AgentSettings("mlplatform-prod-eks", "gpu", "g5.12xlarge", sample_seconds=20, publish_seconds=60)
    published, sleeps = [], []
    summaries = list(run_windows(source, settings, published.append, windows=2, sleep=sleeps.append, clock=lambda: 1_700_000_000.0))
    assert [s.idle_gpus for s in summaries] == [1, 2]
    assert sleeps == [20, 20, 20, 20, 20]  # 3 samples per 60 s window, no sleep after the last window
    metrics = {m["MetricName"]: m for m in published[0]}
    assert set(metrics) == {"GPUs", "IdleGPUs", "GPUUtilization", "GPUMemoryUtilization", "PublishPeriodSeconds"}
    assert metrics["IdleGPUs"]["Value"] == 1.0 and metrics["GPUs"]["Value"] == 2.0
    assert metrics["GPUUtilization"]["Value"] == 30.0 and metrics["GPUUtilization"]["Unit"] == "Percent"
    assert metrics["PublishPeriodSeconds"]["Value"] == 60.0
    assert metrics["GPUs"]["Dimensions"] == [
        {"Name": "ClusterName", "Value": "mlplatform-prod-eks"},
        {"Name": "NodePool", "Value": "gpu"},
        {"Name": "InstanceType", "Value": "g5.12xlarge"},
    ]


def _args(**overrides) -> argparse.Namespace:
    values = dict(cluster="mlplatform-dev-eks", node_pool="gpu", instance_type="g5.xlarge", region="us-east-1",
                  endpoint_url=None, sample_seconds=1.0, publish_seconds=2.0, idle_threshold=5.0, windows=2, dry_run=False)
    values.update(overrides)
    return argparse.Namespace(**values)


def test_published_windows_land_in_cloudwatch(moto_endpoint, aws_test_credentials, monkeypatch):
    monkeypatch.setattr(gpu_agent.time, "sleep", lambda seconds: None)
    source = FakeNvml([[0, 0], [0, 0], [100, 0], [100, 0]])
    status = gpu_agent.run(_args(endpoint_url=moto_endpoint), source_factory=lambda: source)
    assert status == 0 and source.closed
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1", endpoint_url=moto_endpoint)
    now = datetime.now(timezone.utc)
    stats = cloudwatch.get_metric_statistics(
        Namespace="MLPlatform/GPU", MetricName="IdleGPUs",
        Dimensions=[{"Name": "ClusterName", "Value": "mlplatform-dev-eks"}, {"Name": "NodePool", "Value": "gpu"},
                    {"Name": "InstanceType", "Value": "g5.xlarge"}],
        StartTime=now - timedelta(hours=1), EndTime=now + timedelta(minutes=5), Period=3600, Statistics=["Sum", "SampleCount"],
    )
    (point,) = stats["Datapoints"]
    assert point["SampleCount"] == 2.0
    assert point["Sum"] == 3.0  # window 1: both GPUs idle; window 2: GPU 1 idle


def test_cloudwatch_failures_drop_the_window_but_keep_the_agent_running(aws_test_credentials, monkeypatch, capsys):
    monkeypatch.setattr(gpu_agent.time, "sleep", lambda seconds: None)
    source = FakeNvml([[0], [0], [0], [0]])
    # Nothing listens on port 9: every publish fails after boto3's retries.
    status = gpu_agent.run(_args(endpoint_url="http://127.0.0.1:9"), source_factory=lambda: source)
    assert status == 0
    assert capsys.readouterr().err.count("could not publish to CloudWatch (window dropped)") == 2


def test_dry_run_prints_metric_data(capsys):
    status = gpu_agent.run(_args(dry_run=True, windows=1, publish_seconds=1.0), source_factory=lambda: FakeNvml([[12.0]]))
    assert status == 0
    (line,) = capsys.readouterr().out.strip().splitlines()
    document = json.loads(line)
    assert document["Namespace"] == "MLPlatform/GPU"
    assert {m["MetricName"]: m["Value"] for m in document["MetricData"]}["GPUUtilization"] == 12.0


def test_no_driver_is_one_clear_line(capsys):
    def no_driver():
        raise NvmlUnavailable("NVML unavailable: the NVIDIA driver is not installed on this machine")

    assert gpu_agent.run(_args(), source_factory=no_driver) == 1
    assert capsys.readouterr().err.strip() == "mlp gpu-agent: NVML unavailable: the NVIDIA driver is not installed on this machine"


def test_nvml_errors_are_explained():
    import pynvml

    message = gpu_agent._explain_nvml_error(pynvml, pynvml.NVMLError(pynvml.NVML_ERROR_DRIVER_NOT_LOADED))
    assert "driver is installed but not loaded" in message


def _nvml_present() -> bool:
    try:
        gpu_agent.NvmlSource().close()
        return True
    except NvmlUnavailable:
        return False


@pytest.mark.skipif(_nvml_present(), reason="this machine has an NVIDIA driver")
def test_command_without_a_driver_exits_1_with_a_message():
    result = run_mlp("gpu-agent", "--cluster", "c", "--node-pool", "gpu", "--instance-type", "g5.xlarge", "--windows", "1")
    assert result.returncode == 1
    assert result.stderr.startswith("mlp gpu-agent: NVML unavailable:") and "Traceback" not in result.stderr


@pytest.mark.parametrize("overrides,key", [
    ({"cluster": None}, "--cluster"),
    ({"sample_seconds": 0.0}, "--sample-seconds"),
    ({"publish_seconds": 0.5, "sample_seconds": 1.0}, "--publish-seconds"),
    ({"idle_threshold": 150.0}, "--idle-threshold"),
])
def test_bad_options_name_the_option(overrides, key):
    with pytest.raises(UserError) as raised:
        gpu_agent.run(_args(**overrides), source_factory=lambda: FakeNvml([[0]]))
    assert raised.value.key == key


def test_bad_option_from_the_command_line_exits_2():
    result = run_mlp("gpu-agent", "--cluster", "c", "--node-pool", "gpu", "--instance-type", "g5.xlarge", "--sample-seconds", "-1")
    assert result.returncode == 2
    assert result.stderr.strip() == "mlp gpu-agent: command line: --sample-seconds: must be greater than 0, got -1.0"
