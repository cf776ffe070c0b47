"""`mlp report` against a real moto_server: Cost Explorer (seeded), CloudWatch, Budgets, STS."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import boto3
import pytest
import requests

from mlp.cost import estimate
from tests.conftest import planned, run_mlp

TODAY = date.today()
START, END = TODAY - timedelta(days=3), TODAY + timedelta(days=1)  # 4 days = 96 hours


def _ce_result(key: str, groups: dict[str, str]) -> dict:
    return {"ResultsByTime": [{
        "TimePeriod": {"Start": START.isoformat(), "End": END.isoformat()},
        "Total": {}, "Estimated": False,
        "Groups": [{"Keys": [f"{key}${value}"], "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}} for value, amount in groups.items()],
    }], "DimensionValueAttributes": []}


@pytest.fixture
def seeded(moto_endpoint, aws_test_credentials, tmp_path, monkeypatch):
    """Prod's export, Cost Explorer answers in the order the report asks, GPU metrics, a budget."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    requests.post(f"{moto_endpoint}/moto-api/reset")
    results = [
        _ce_result("Environment", {"prod": "900.00", "staging": "300.00", "": "42.50"}),
        _ce_result("Team", {"ml-platform": "500.00", "vision": "250.00", "": "150.00"}),
        _ce_result("Component", {"compute": "600.00", "datalake": "300.00"}),
    ]
    requests.post(f"{moto_endpoint}/moto-api/static/ce/cost-and-usage-results", json={"results": results}).raise_for_status()

    cloudwatch = boto3.client("cloudwatch", region_name="us-west-2", endpoint_url=moto_endpoint)
    dims = [{"Name": "ClusterName", "Value": "mlplatform-prod-eks"}, {"Name": "NodePool", "Value": "gpu"},
            {"Name": "InstanceType", "Value": "g5.12xlarge"}]
    stamp = datetime.now(timezone.utc) - timedelta(hours=2)
    for minute in range(60):  # one hour of 60-second windows on a 4-GPU node, 3 GPUs idle throughout
        at = stamp + timedelta(minutes=minute)
        cloudwatch.put_metric_data(Namespace="MLPlatform/GPU", MetricData=[
            {"MetricName": "GPUs", "Dimensions": dims, "Value": 4, "Unit": "Count", "Timestamp": at},
            {"MetricName": "IdleGPUs", "Dimensions": dims, "Value": 3, "Unit": "Count", "Timestamp": at},
            {"MetricName": "PublishPeriodSeconds", "Dimensions": dims, "Value": 60, "Unit": "Seconds", "Timestamp": at},
        ])
    boto3.client("budgets", region_name="us-east-1", endpoint_url=moto_endpoint).create_budget(AccountId="123456789012", Budget={
        "BudgetName": "mlplatform-prod-environment", "BudgetLimit": {"Amount": "5000", "Unit": "USD"},
        "TimeUnit": "MONTHLY", "BudgetType": "COST",
        "CalculatedSpend": {"ActualSpend": {"Amount": "1250", "Unit": "USD"}, "ForecastedSpend": {"Amount": "4800", "Unit": "USD"}},
    })
    state = tmp_path / "prod.json"
    state.write_text(json.dumps(planned("prod").document))
    return moto_endpoint, state


def _report(endpoint, state, *extra):
    return run_mlp("report", str(state), "--start", START.isoformat(), "--end", END.isoformat(),
                   "--endpoint-url", endpoint, "--cluster", "mlplatform-prod-eks", "--format", "json", *extra)


def test_actual_spend_by_tag_beside_the_estimate(seeded):
    endpoint, state = seeded
    result = _report(endpoint, state)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["environment"] == "prod" and report["period"]["hours"] == 96
    teams = {line["value"]: line for line in report["groups"]["Team"]}
    assert teams["vision"]["actualCost"] == "250.00"
    assert teams["(untagged)"]["actualCost"] == "150.00"
    assert report["untaggedCost"] == {"Team": "150.00", "Component": "0.00"}
    assert report["costWithoutEnvironmentTag"] == "42.50"
    assert report["totalActualCost"] == "900.00"
    expected = estimate(planned("prod").resources, group_keys=("Team",)).groups()["Team"]["ml-platform"]["monthly"] * Decimal(96) / Decimal(730)
    assert teams["ml-platform"]["estimatedCost"] == str(expected.quantize(Decimal("0.01")))
    assert teams["ml-platform"]["difference"] == str((Decimal("500.00") - expected).quantize(Decimal("0.01")))


def test_idle_gpu_cost_from_the_agent_metrics(seeded):
    endpoint, state = seeded
    report = json.loads(_report(endpoint, state).stdout)
    (line,) = report["idleGpus"]
    assert (line["nodePool"], line["instanceType"]) == ("gpu", "g5.12xlarge")
    assert line["gpuHours"] == "4.00" and line["idleGpuHours"] == "3.00" and line["idleShare"] == "0.750"
    g5 = estimate(planned("prod").resources).catalogue.instance("g5.12xlarge")
    assert line["idleCost"] == str((3 * g5.hourly / g5.gpus).quantize(Decimal("0.01")))
    assert report["idleGpuCost"] == line["idleCost"]


def test_budgets_of_the_environment(seeded):
    endpoint, state = seeded
    (budget,) = json.loads(_report(endpoint, state).stdout)["budgets"]
    assert budget == {"name": "mlplatform-prod-environment", "limit": "5000.00", "actualCost": "1250.00",
                      "forecastedCost": "4800.00", "percentUsed": "25.0"}


def test_table_format_shows_each_section(seeded):
    endpoint, state = seeded
    result = _report(endpoint, state, "--format", "table")
    assert result.returncode == 0, result.stderr
    for words in ("Cost report prod", "by Team", "by Component", "idle GPUs", "mlplatform-prod-environment", "without an Environment tag: 42.50"):
        assert words in result.stdout


@pytest.mark.parametrize("args,message", [
    (["--start", "2026-13-01"], "command line: --start: expected a date like 2026-10-01, got '2026-13-01'"),
    (["--start", "2026-10-02", "--end", "2026-10-01"], "command line: --end: must be after --start (2026-10-02)"),
    (["--by", ","], "command line: --by: expected tag keys like Team,Component"),
])
def test_bad_options_exit_2_with_one_line(args, message, tmp_path):
    state = tmp_path / "prod.json"
    state.write_text(json.dumps(planned("prod").document))
    result = run_mlp("report", str(state), *args)
    assert result.returncode == 2
    assert result.stderr.strip() == f"mlp report: {message}"


def test_a_malformed_cost_explorer_answer_names_the_key(moto_endpoint, aws_test_credentials, tmp_path):
    requests.post(f"{moto_endpoint}/moto-api/reset")
    broken = {"ResultsByTime": [{"TimePeriod": {"Start": START.isoformat(), "End": END.isoformat()}, "Total": {}, "Estimated": False,
                                 "Groups": [{"Keys": ["Environment$prod"], "Metrics": {"UnblendedCost": {"Amount": "n/a", "Unit": "USD"}}}]}]}
    requests.post(f"{moto_endpoint}/moto-api/static/ce/cost-and-usage-results", json={"results": [broken]}).raise_for_status()
    state = tmp_path / "prod.json"
    state.write_text(json.dumps(planned("prod").document))
    result = _report(moto_endpoint, state)
    assert result.returncode == 2
    assert result.stderr.strip() == "mlp report: Cost Explorer response: ResultsByTime[0].Groups[0]: expected Metrics.UnblendedCost.Amount as a number"
