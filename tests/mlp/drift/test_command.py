"""`mlp drift` end to end: synthetic captures in S3 (moto), metrics in CloudWatch, a report in the lake."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import boto3
import numpy as np
import pytest
import requests

from mlp.cli import main
from mlp.drift.publish import NAMESPACE
from tests.conftest import run_mlp
from tests.mlp.drift.synthetic import FEATURES, baseline_csv, capture_jsonl, sample

REGION = "us-east-1"
ARTIFACTS = "acme-mlplatform-test-artifacts"
FEATURES_BUCKET = "acme-mlplatform-test-features"
CAPTURES = f"s3://{ARTIFACTS}/captures/forecasting/demand-forecast/"
BASELINE = f"s3://{FEATURES_BUCKET}/teams/forecasting/baselines/demand.csv"
REPORTS = f"s3://{ARTIFACTS}/drift-reports/forecasting/demand-forecast/"


@pytest.fixture
def lake(moto_endpoint, aws_test_credentials, monkeypatch):
    requests.post(f"{moto_endpoint}/moto-api/reset").raise_for_status()
    monkeypatch.setenv("MLP_S3_ENDPOINT", moto_endpoint)
    monkeypatch.setenv("MLP_CLOUDWATCH_ENDPOINT", moto_endpoint)
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_endpoint)
    for bucket in (ARTIFACTS, FEATURES_BUCKET):
        s3.create_bucket(Bucket=bucket)
    rng = np.random.default_rng(2026)
    s3.put_object(Bucket=FEATURES_BUCKET, Key="teams/forecasting/baselines/demand.csv", Body=baseline_csv(sample(rng, 5000)).encode())
    return s3, boto3.client("cloudwatch", region_name=REGION, endpoint_url=moto_endpoint), rng


def put_captures(s3, values: np.ndarray, parts: int = 3) -> None:
    # SageMaker's layout: <destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl
    hour = datetime.now(timezone.utc).strftime("%Y/%m/%d/%H")
    for i, chunk in enumerate(np.array_split(values, parts)):
        key = f"captures/forecasting/demand-forecast/mlplatform-test-demand-forecast/primary/{hour}/part-{i}.jsonl"
        s3.put_object(Bucket=ARTIFACTS, Key=key, Body=capture_jsonl(chunk).encode())


def drift(*extra: str) -> list[str]:
    return ["drift", "--endpoint", "demand-forecast", "--captures", CAPTURES, "--baseline", BASELINE,
            "--features", ",".join(FEATURES), "--report", REPORTS, "--region", REGION, *extra]


def metrics(cloudwatch, name: str, dimensions: list[dict]) -> list[float]:
    answer = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE, MetricName=name, Dimensions=dimensions, Statistics=["Maximum"], Period=60,
        StartTime=datetime.now(timezone.utc) - timedelta(hours=1), EndTime=datetime.now(timezone.utc) + timedelta(minutes=5),
    )
    return [point["Maximum"] for point in answer["Datapoints"]]


def reports(s3) -> list[dict]:
    listed = s3.list_objects_v2(Bucket=ARTIFACTS, Prefix="drift-reports/forecasting/demand-forecast/").get("Contents", [])
    return [json.loads(s3.get_object(Bucket=ARTIFACTS, Key=item["Key"])["Body"].read()) for item in listed]


def test_shifted_features_are_found_published_and_reported(lake, capsys):
    s3, cloudwatch, rng = lake
    put_captures(s3, sample(rng, 1500, price_shift=3.0, size_scale=2.0))
    assert main(drift()) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["status"] == "drift"
    assert printed["driftedFeatures"] == ["price", "store_size"]
    assert printed["capturedRows"] == 1500 and printed["capturedRecords"] == 1500
    by_feature = {f["feature"]: f for f in printed["features"]}
    assert by_feature["price"]["populationStabilityIndex"] > 1.0
    assert not by_feature["promo"]["drifted"]

    endpoint = [{"Name": "EndpointName", "Value": "demand-forecast"}]
    assert metrics(cloudwatch, "DriftedFeatures", endpoint) == [2.0]
    assert metrics(cloudwatch, "MaxPopulationStabilityIndex", endpoint)[0] > 1.0
    price_psi = metrics(cloudwatch, "PopulationStabilityIndex", endpoint + [{"Name": "Feature", "Value": "price"}])
    assert price_psi[0] == pytest.approx(by_feature["price"]["populationStabilityIndex"], rel=1e-4)
    assert metrics(cloudwatch, "CapturedRows", endpoint) == [1500.0]
    assert reports(s3) == [printed]


def test_captures_without_drift_report_none(lake, capsys):
    s3, cloudwatch, rng = lake
    put_captures(s3, sample(rng, 1500))
    assert main(drift()) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["status"] == "no-drift"
    assert printed["driftedFeatures"] == []
    assert all(f["populationStabilityIndex"] < 0.05 for f in printed["features"])
    assert metrics(cloudwatch, "DriftedFeatures", [{"Name": "EndpointName", "Value": "demand-forecast"}]) == [0.0]


def test_too_few_rows_publish_only_the_row_count(lake, capsys):
    s3, cloudwatch, rng = lake
    put_captures(s3, sample(rng, 30, price_shift=5.0), parts=1)
    assert main(drift("--min-rows", "100")) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["status"] == "insufficient-data" and printed["features"] == []
    endpoint = [{"Name": "EndpointName", "Value": "demand-forecast"}]
    assert metrics(cloudwatch, "CapturedRows", endpoint) == [30.0]
    assert metrics(cloudwatch, "DriftedFeatures", endpoint) == []


def test_old_capture_files_are_outside_the_window(lake, capsys, tmp_path):
    _, _, rng = lake
    capture_dir = tmp_path / "captures"
    capture_dir.mkdir()
    old = capture_dir / "old.jsonl"
    old.write_text(capture_jsonl(sample(rng, 500, price_shift=5.0)))
    two_days_ago = (datetime.now(timezone.utc) - timedelta(days=2)).timestamp()
    import os
    os.utime(old, (two_days_ago, two_days_ago))
    (capture_dir / "new.jsonl").write_text(capture_jsonl(sample(rng, 500)))
    baseline = tmp_path / "baseline.csv"
    baseline.write_text(baseline_csv(sample(rng, 3000)))
    report = tmp_path / "report.json"
    code = main(["drift", "--endpoint", "local", "--captures", str(capture_dir), "--baseline", str(baseline),
                 "--features", ",".join(FEATURES), "--report", str(report), "--no-publish"])
    assert code == 0
    written = json.loads(report.read_text())
    assert written["capturedRows"] == 500 and written["status"] == "no-drift"


def test_a_bad_capture_line_is_one_line_naming_the_file(lake, capsys):
    s3, _, _ = lake
    s3.put_object(Bucket=ARTIFACTS, Key="captures/forecasting/demand-forecast/x/primary/bad.jsonl", Body=b'{"captureData": {}}\nnot json\n')
    assert main(drift()) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "bad.jsonl: line 2: not JSON" in error
    assert reports(s3) == []  # nothing half-written


def test_a_baseline_without_a_feature_is_bad_input(lake, capsys):
    s3, _, rng = lake
    put_captures(s3, sample(rng, 200), parts=1)
    assert main(drift("--features", "price,discount")) == 2
    assert "has no column 'discount'" in capsys.readouterr().err


def test_a_missing_bucket_is_a_service_error(lake, capsys):
    assert main(["drift", "--endpoint", "x", "--captures", "s3://no-such-bucket-here/c/", "--baseline", BASELINE,
                 "--features", "price", "--region", REGION]) == 1
    assert "S3 ListObjectsV2: NoSuchBucket" in capsys.readouterr().err


@pytest.mark.parametrize("args, key", [
    (["--features", "a,,b"], "--features"),
    (["--psi-threshold", "0"], "--psi-threshold"),
    (["--p-value", "nan"], "--p-value"),
    (["--captures", "s3://Bad_Bucket/x"], "--captures"),
])
def test_bad_options_name_the_option(args, key, capsys):
    base = ["drift", "--endpoint", "x", "--captures", "s3://bucket-a/c/", "--baseline", "s3://bucket-a/b.csv", "--features", "a"]
    assert main(base + args) == 2
    assert key in capsys.readouterr().err


def test_the_installed_command_runs_by_hand_on_a_local_prefix(tmp_path):
    rng = np.random.default_rng(5)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "part.jsonl").write_text(capture_jsonl(sample(rng, 400, price_shift=4.0)))
    (tmp_path / "b.csv").write_text(baseline_csv(sample(rng, 2000)))
    done = run_mlp("drift", "--endpoint", "e", "--captures", str(tmp_path / "c"), "--baseline", str(tmp_path / "b.csv"),
                   "--features", ",".join(FEATURES), "--no-publish")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["driftedFeatures"] == ["price"]
