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
from tests.mlp.fakeaws import FakeAws, Reply, without_credentials
from tests.mlp.inprocess import run_main

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


def test_a_malformed_cost_explorer_answer_is_exit_1_naming_the_api_and_field(moto_endpoint, aws_test_credentials, tmp_path):
    requests.post(f"{moto_endpoint}/moto-api/reset")
    broken = {"ResultsByTime": [{"TimePeriod": {"Start": START.isoformat(), "End": END.isoformat()}, "Total": {}, "Estimated": False,
                                 "Groups": [{"Keys": ["Environment$prod"], "Metrics": {"UnblendedCost": {"Amount": "n/a", "Unit": "USD"}}}]}]}
    requests.post(f"{moto_endpoint}/moto-api/static/ce/cost-and-usage-results", json={"results": [broken]}).raise_for_status()
    state = tmp_path / "prod.json"
    state.write_text(json.dumps(planned("prod").document))
    result = _report(moto_endpoint, state)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == ("mlp report: Cost Explorer GetCostAndUsage: ResultsByTime[0].Groups[0].Metrics.UnblendedCost.Amount: "
                             "expected a decimal amount, got 'n/a'\n")


# --- against a faulty AWS (tests/mlp/fakeaws.py), in-process ---------------------------------------

SMALL_EXPORT = {"version": 3, "deployment": {"resources": [
    {"urn": "urn:pulumi:prod::mlplatform::pulumi:providers:aws::default", "type": "pulumi:providers:aws", "custom": True, "id": "p1",
     "inputs": {"region": "us-west-2", "defaultTags": json.dumps({"tags": {"Environment": "prod", "Team": "ml-platform", "Project": "mlplatform"}})}},
    {"urn": "urn:pulumi:prod::mlplatform::aws:ec2/natGateway:NatGateway::nat", "type": "aws:ec2/natGateway:NatGateway", "custom": True,
     "id": "nat-1", "inputs": {"tags": {"Component": "network"}}, "provider": "urn:pulumi:prod::mlplatform::pulumi:providers:aws::default::p1"},
]}}


def good_answers(operation: str, request: dict):
    if operation == "GetCostAndUsage":
        key = request["GroupBy"][0]["Key"]
        return _ce_result(key, {"prod": "10.00"} if key == "Environment" else {"x": "4.00", "": "6.00"})
    return {"Budgets": [{"BudgetName": "mlplatform-prod-env", "BudgetLimit": {"Amount": "100", "Unit": "USD"}}]}


def report_in_process(tmp_path, answer, *extra) -> tuple[int, str, str]:
    state = tmp_path / "small.json"
    state.write_text(json.dumps(SMALL_EXPORT))
    with FakeAws(answer) as url:
        return run_main("report", str(state), "--start", START.isoformat(), "--end", END.isoformat(), "--endpoint-url", url,
                        "--format", "json", *extra)


def test_report_against_a_good_fake(tmp_path, aws_test_credentials):
    status, out, err = report_in_process(tmp_path, good_answers)
    assert (status, err) == (0, "")
    report = json.loads(out)
    assert report["totalActualCost"] == "10.00"
    assert report["budgets"][0]["actualCost"] is None and report["budgets"][0]["percentUsed"] is None


@pytest.mark.parametrize("answer,words", [
    (lambda operation, request: Reply(200, b""), "Cost Explorer GetCostAndUsage: ResultsByTime: missing (expected a list)"),
    (lambda operation, request: Reply(200, b"{garbled"), "Cost Explorer GetCostAndUsage: ResultsByTime: missing (expected a list)"),
    (lambda operation, request: good_answers(operation, request) if operation == "GetCostAndUsage" else {"Budgets": [{"BudgetName": "mlplatform-prod-x"}]},
     "Budgets DescribeBudgets: Budgets[0].BudgetLimit: missing (expected an object)"),
    (lambda operation, request: good_answers(operation, request) if operation == "GetCostAndUsage" else
     {"Budgets": [{"BudgetName": "mlplatform-prod-x", "BudgetLimit": {"Amount": "NaN"}}]},
     "Budgets DescribeBudgets: Budgets[0].BudgetLimit.Amount: expected a decimal amount >= 0, got 'NaN'"),
    (lambda operation, request: {**good_answers(operation, request), "NextPageToken": "again"} if operation == "GetCostAndUsage" else good_answers(operation, request),
     "Cost Explorer GetCostAndUsage: NextPageToken: the same page token came back twice"),
])
def test_a_broken_answer_is_exit_1_with_one_line_and_no_report(tmp_path, aws_test_credentials, answer, words):
    status, out, err = report_in_process(tmp_path, answer)
    assert (status, out) == (1, "")
    assert err.startswith(f"mlp report: {words}") and err.count("\n") == 1


def test_report_options_are_checked_before_anything_is_read(tmp_path):
    for args, message in (
        (["--start", ""], "command line: --start: expected a date like 2026-10-01, got ''"),
        (["--end", "tomorrow"], "command line: --end: expected a date like 2026-10-01, got 'tomorrow'"),
    ):
        status, out, err = run_main("report", str(tmp_path / "absent.json"), *args)
        assert (status, out, err) == (2, "", f"mlp report: {message}\n")


def test_group_keys_no_resource_carries_are_an_error(tmp_path):
    state = tmp_path / "small.json"
    state.write_text(json.dumps(SMALL_EXPORT))
    status, out, err = run_main("report", str(state), "--by", "Teem")
    assert status == 2 and out == ""
    assert err.startswith("mlp report: command line: --by: no resource carries the tag 'Teem'")


def test_no_credentials_is_exit_2(tmp_path, monkeypatch):
    without_credentials(monkeypatch)
    status, out, err = report_in_process(tmp_path, good_answers)
    assert (status, out) == (2, "")
    assert err == "mlp report: AWS credentials: none found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n"


# --- months, Cost Explorer's Estimated flag, and the files finance opens ------------------------------


def test_each_month_with_cost_explorers_estimated_flag(seeded):
    endpoint, state = seeded
    report = json.loads(_report(endpoint, state).stdout)
    assert report["estimated"] is False
    (month,) = report["months"]
    assert (month["billingPeriodStart"], month["billingPeriodEnd"], month["status"]) == (START.isoformat(), END.isoformat(), "final")
    # Teams without spend are there too, beside their estimate.
    assert {t["team"]: t["actualCost"] for t in month["teams"] if t["actualCost"] != "0.00"} == {"ml-platform": "500.00", "vision": "250.00",
                                                                                            "(untagged)": "150.00"}
    assert all(t["estimatedCost"] is not None for t in month["teams"] if t["team"] in ("forecasting", "recommendations"))
    assert month["actualCost"] == report["totalActualCost"] == "900.00"
    assert month["costWithoutEnvironmentTag"] == "42.50"


def test_a_month_cost_explorer_calls_estimated_says_so(moto_endpoint, aws_test_credentials, tmp_path):
    requests.post(f"{moto_endpoint}/moto-api/reset")
    results = [_ce_result("Environment", {"prod": "10.00"}), _ce_result("Team", {"vision": "10.00"}), _ce_result("Component", {"compute": "10.00"})]
    for result in results:
        result["ResultsByTime"][0]["Estimated"] = True
    requests.post(f"{moto_endpoint}/moto-api/static/ce/cost-and-usage-results", json={"results": results}).raise_for_status()
    state = tmp_path / "prod.json"
    state.write_text(json.dumps(planned("prod").document))
    report = json.loads(_report(moto_endpoint, state).stdout)
    assert report["estimated"] is True and report["months"][0]["status"] == "estimated"


def test_the_csv_sums_to_the_actual_spend_once(seeded, tmp_path):
    """The old CSV put team, component and idle-GPU rows in one column: it summed to twice the spend."""
    import csv

    endpoint, state = seeded
    out = tmp_path / "report.csv"
    result = _report(endpoint, state, "--format", "csv", "--out", str(out))
    assert (result.returncode, result.stdout) == (0, ""), result.stderr
    with open(out, newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert sum(Decimal(row["BilledCost"]) for row in rows) == Decimal("900.00")
    assert {row["x_Team"]: row["BilledCost"] for row in rows if row["BilledCost"] != "0.00"} == {"ml-platform": "500.00", "vision": "250.00",
                                                                                               "(untagged)": "150.00"}
    assert {row["x_Source"] for row in rows} == {"cost-explorer"} and {row["x_MonthStatus"] for row in rows} == {"final"}


def test_html_from_cost_explorer_is_one_self_contained_page(seeded, tmp_path):
    endpoint, state = seeded
    out = tmp_path / "report.html"
    result = _report(endpoint, state, "--format", "html", "--out", str(out))
    assert result.returncode == 0, result.stderr
    html = out.read_text(encoding="utf-8")
    assert "AWS Cost Explorer" in html and '<svg role="img"' in html and 'data-figure="months[0].teams[0].actualCost">500.00<' in html


def test_a_failed_report_leaves_no_out_file(moto_endpoint, aws_test_credentials, tmp_path):
    requests.post(f"{moto_endpoint}/moto-api/reset")
    broken = {"ResultsByTime": [{"TimePeriod": {"Start": START.isoformat(), "End": END.isoformat()}, "Total": {}, "Estimated": "maybe",
                                 "Groups": []}]}
    requests.post(f"{moto_endpoint}/moto-api/static/ce/cost-and-usage-results", json={"results": [broken]}).raise_for_status()
    state = tmp_path / "prod.json"
    state.write_text(json.dumps(planned("prod").document))
    out = tmp_path / "report.html"
    result = _report(moto_endpoint, state, "--format", "html", "--out", str(out))
    assert result.returncode == 1 and result.stderr == "mlp report: Cost Explorer GetCostAndUsage: ResultsByTime[0].Estimated: expected true or false, got 'maybe'\n"
    assert list(tmp_path.iterdir()) == [state]


@pytest.mark.parametrize("args,message", [
    (["--format", "csv", "--by", "Component"], "command line: --format: the CSV report is by team: include Team in --by"),
    (["--out", "x.txt"], "command line: --out: the table is for the terminal; give --format json, csv or html with --out"),
    (["--source", "athena", "--by", "Team"],
     "command line: --by: the report from the export is by Team and Component at once; leave --by out or give Team,Component"),
])
def test_file_formats_need_what_they_show(args, message, tmp_path):
    state = tmp_path / "prod.json"
    state.write_text(json.dumps(SMALL_EXPORT))
    status, out, err = run_main("report", str(state), *args)
    assert (status, out, err) == (2, "", f"mlp report: {message}\n")
