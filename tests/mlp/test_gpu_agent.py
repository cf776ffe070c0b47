"""The GPU agent, through a fake at the NVML boundary and a real moto_server for CloudWatch."""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from mlp import gpu_agent
from mlp.cli import main
from mlp.errors import UserError
from mlp.gpu_agent import (
    AgentSettings,
    GpuSample,
    NvmlUnavailable,
    run_windows,
    summarize,
)
from tests.conftest import run_mlp

GIB = 1024 ** 3


class FakeNvml:
    """Replays per-GPU utilisation readings, one list per sample."""

    def __init__(self, readings: list[list[float]], memory_used_gib: float = 8.0):
        self.readings = list(readings)
        self.memory_used = int(memory_used_gib * GIB)
        self.closed = False

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
    ({"sample_seconds": 0.0005}, "--sample-seconds"),
    ({"sample_seconds": math.inf}, "--sample-seconds"),
    ({"sample_seconds": math.nan}, "--sample-seconds"),
    ({"publish_seconds": 0.5, "sample_seconds": 1.0}, "--publish-seconds"),
    ({"publish_seconds": 5.0, "sample_seconds": 10.0}, "--publish-seconds"),
    ({"publish_seconds": math.inf}, "--publish-seconds"),
    ({"idle_threshold": 150.0}, "--idle-threshold"),
    ({"idle_threshold": math.nan}, "--idle-threshold"),
])
def test_bad_options_name_the_option(overrides, key):
    with pytest.raises(UserError) as raised:
        gpu_agent.run(_args(**overrides), source_factory=lambda: FakeNvml([[0]]))
    assert raised.value.key == key


def test_bad_option_from_the_command_line_exits_2():
    result = run_mlp("gpu-agent", "--cluster", "c", "--node-pool", "gpu", "--instance-type", "g5.xlarge", "--sample-seconds", "-1")
    assert result.returncode == 2
    assert result.stderr == "mlp gpu-agent: command line: --sample-seconds: expected a number of seconds from 1 to 86400, got '-1'\n"


@pytest.mark.parametrize("option,value,words", [
    ("--sample-seconds", "inf", "expected a number of seconds from 1 to 86400, got 'inf'"),
    ("--sample-seconds", "nan", "expected a number of seconds from 1 to 86400, got 'nan'"),
    ("--sample-seconds", "0.0001", "expected a number of seconds from 1 to 86400, got '0.0001'"),
    ("--publish-seconds", "1e400", "expected a number of seconds from 1 to 86400, got '1e400'"),
    ("--idle-threshold", "nan", "expected a percentage from 0 to 100, got 'nan'"),
    ("--windows", "0", "expected a whole number from 1 to 1000000000, got '0'"),
    ("--region", "Teem", "expected an AWS region like us-east-1, got 'Teem'"),
])
def test_options_refuse_non_finite_and_sub_second_values(option, value, words, capsys):
    status = main(["gpu-agent", "--cluster", "c", "--node-pool", "gpu", "--instance-type", "g5.xlarge", option, value])
    assert status == 2
    assert capsys.readouterr().err == f"mlp gpu-agent: command line: {option}: {words}\n"


def test_a_reading_nvml_garbles_is_left_out_of_the_window():
    summary = summarize([[GpuSample(0, math.nan, 0, GIB)], [GpuSample(0, 40.0, 0, GIB)]], idle_threshold=5.0)
    assert summary.gpus == 1 and summary.mean_utilization == 40.0


class _FakeImds:
    """IMDSv2 on 127.0.0.1: a token for PUT /latest/api/token, the type only with that token."""

    def __enter__(self):
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_PUT(self):
                body = b"token-123" if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds") else b""
                self.send_response(200 if body else 400)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                ok = self.path == "/latest/meta-data/instance-type" and self.headers.get("X-aws-ec2-metadata-token") == "token-123"
                self.send_response(200 if ok else 401)
                self.end_headers()
                self.wfile.write(b"g6.12xlarge" if ok else b"")

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_port}"

    def __exit__(self, *exc):
        self.server.shutdown()


def test_instance_type_comes_from_imdsv2_when_not_given(monkeypatch, capsys):
    with _FakeImds() as endpoint:
        monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint)
        assert gpu_agent.run(_args(instance_type=None, dry_run=True, windows=1, publish_seconds=1.0), source_factory=lambda: FakeNvml([[0.0]])) == 0
    dimensions = json.loads(capsys.readouterr().out)["MetricData"][0]["Dimensions"]
    assert {"Name": "InstanceType", "Value": "g6.12xlarge"} in dimensions


def test_without_metadata_the_instance_type_is_required(monkeypatch):
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(UserError) as raised:
        gpu_agent.run(_args(instance_type=None), source_factory=lambda: FakeNvml([[0]]))
    assert raised.value.key == "--instance-type"


def _agent_modules(package: Path) -> set[str]:
    """The files of mlp/ the agent imports, directly or through them, at the top or when used."""
    needed, pending = {"__init__.py"}, ["gpu_agent"]
    while pending:
        name = pending.pop()
        if f"{name}.py" in needed:
            continue
        needed.add(f"{name}.py")
        source = (package / f"{name}.py").read_text()
        pending += re.findall(r"^\s*from mlp\.(\w+) import", source, re.M) + re.findall(r"^\s*from mlp import (\w+)", source, re.M)
    return needed


def test_agent_runs_with_only_its_image_files(tmp_path):
    """The image copies four files of mlp/ and installs no Pulumi: the agent must start from them."""
    import shutil
    import subprocess
    import sys

    from mlp import PROJECT_ROOT

    package = tmp_path / "mlp"
    package.mkdir()
    dockerfile = (PROJECT_ROOT / "images" / "gpu-agent" / "Dockerfile").read_text()
    copied = {Path(word).name for line in dockerfile.splitlines() if line.startswith("COPY mlp/") for word in line.split()[1:-1]}
    assert _agent_modules(PROJECT_ROOT / "mlp") <= copied, "images/gpu-agent/Dockerfile must COPY every module the agent imports"
    for name in copied:
        shutil.copy(PROJECT_ROOT / "mlp" / name, package / name)
    result = subprocess.run([sys.executable, "-m", "mlp.gpu_agent", "--help"], cwd=tmp_path, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "--idle-threshold" in result.stdout
    result = subprocess.run([sys.executable, "-m", "mlp.gpu_agent", "--cluster", "c", "--node-pool", "p", "--instance-type", "g5.xlarge",
                             "--sample-seconds", "0"], cwd=tmp_path, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)})
    assert result.returncode == 2 and "--sample-seconds: expected a number of seconds from 1" in result.stderr
