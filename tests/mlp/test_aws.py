"""One client configuration, call and paginator for every AWS API mlp uses, against a faulty AWS
on 127.0.0.1 (tests/mlp/fakeaws.py): every failure is one line naming the API, bounded in time."""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal

import pytest

from mlp import aws
from mlp.errors import ServiceError, UserError
from mlp.spend import account_id, budgets, spend_by_tag
from tests.mlp.fakeaws import FakeAws, Reply, throttled, without_credentials

FAST = aws.AwsSettings(connect_timeout=1.0, read_timeout=0.5, max_attempts=3, deadline_seconds=10.0, max_pages=20)
CE = "Cost Explorer GetCostAndUsage"
JAN, FEB = date(2026, 1, 1), date(2026, 2, 1)


def group(value: str, amount, key: str = "Team", unit: str = "USD") -> dict:
    return {"Keys": [f"{key}${value}"], "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": unit}}}


def ce_answer(*groups: dict, token: str | None = None) -> dict:
    answer = {"ResultsByTime": [{"TimePeriod": {"Start": "2026-01-01", "End": "2026-02-01"}, "Groups": list(groups)}]}
    if token:
        answer["NextPageToken"] = token
    return answer


def spend(answer, settings: aws.AwsSettings = FAST) -> dict:
    with FakeAws(answer if callable(answer) else (lambda operation, request: answer)) as url:
        result = spend_by_tag(aws.client("ce", "us-east-1", url, settings=settings), JAN, FEB, "Team", None)
    return result


@pytest.fixture(autouse=True)
def credentials(aws_test_credentials):
    """Fake credentials: the fake server does not check signatures."""


def test_a_good_answer_is_summed_per_tag_value():
    answer = ce_answer(group("vision", "10.25"), group("", "1.75"), group("vision", "2"))
    assert spend(answer) == {"vision": Decimal("12.25"), "": Decimal("1.75")}


def test_pages_are_followed_until_the_last():
    def answer(operation, request):
        page = int(request.get("NextPageToken") or 0)
        return ce_answer(group(f"team{page}", "1"), token=str(page + 1) if page < 2 else None)

    assert spend(answer) == {"team0": 1, "team1": 1, "team2": 1}


@pytest.mark.parametrize("tokens", [["A", "A"], ["A", "B", "A"]])
def test_a_page_token_that_comes_back_is_an_error_not_a_loop(tokens):
    pages = iter(tokens)
    with pytest.raises(ServiceError, match=f"^{CE}: NextPageToken: the same page token came back twice"):
        spend(lambda operation, request: ce_answer(group("x", "1"), token=next(pages)))


def test_pages_are_bounded():
    counter = iter(range(1000))
    with pytest.raises(ServiceError, match=f"^{CE}: NextPageToken: more than 20 pages"):
        spend(lambda operation, request: ce_answer(token=f"t{next(counter)}"))


@pytest.mark.parametrize("answer,field,words", [
    (Reply(200, b""), "ResultsByTime", "missing (expected a list)"),
    (Reply(200, b"<html>Service Unavailable</html>"), "ResultsByTime", "missing (expected a list)"),
    ({"ResultsByTime": []}, "ResultsByTime", "expected one result per month of the period, got none"),
    (ce_answer(group("x", "NaN")), "ResultsByTime[0].Groups[0].Metrics.UnblendedCost.Amount", "expected a decimal amount, got 'NaN'"),
    (ce_answer(group("x", "Infinity")), "ResultsByTime[0].Groups[0].Metrics.UnblendedCost.Amount", "got 'Infinity'"),
    (ce_answer(group("x", "1e400")), "ResultsByTime[0].Groups[0].Metrics.UnblendedCost.Amount", "got '1e400'"),
    (ce_answer(group("x", "")), "ResultsByTime[0].Groups[0].Metrics.UnblendedCost.Amount", "got ''"),
    (ce_answer(group("x", None)), "ResultsByTime[0].Groups[0].Metrics.UnblendedCost.Amount", "got 'None'"),
    (ce_answer(group("x", "3", unit="EUR")), "ResultsByTime[0].Groups[0].Metrics.UnblendedCost.Unit", "expected USD, got 'EUR'"),
    (ce_answer({"Keys": ["Team$x"]}), "ResultsByTime[0].Groups[0].Metrics", "missing (expected an object)"),
    (ce_answer({"Keys": ["Team$x"], "Metrics": {}}), "ResultsByTime[0].Groups[0].Metrics.UnblendedCost", "missing"),
    (ce_answer(group("x", "1", key="Teem")), "ResultsByTime[0].Groups[0].Keys", "expected ['Team$<value>']"),
    ({"ResultsByTime": [{}]}, "ResultsByTime[0].TimePeriod", "missing (expected an object)"),
    ({"ResultsByTime": [{"TimePeriod": {"Start": "2026-10-01", "End": "2026-11-01"}}]}, "ResultsByTime[0].Groups", "missing (expected a list)"),
])
def test_a_malformed_answer_names_the_api_and_the_field(answer, field, words):
    with pytest.raises(ServiceError) as raised:
        spend(answer)
    assert str(raised.value).startswith(f"{CE}: {field}: ")
    assert words in str(raised.value)


def test_a_server_that_never_answers_times_out():
    started = time.monotonic()
    with pytest.raises(ServiceError, match=f"^{CE}: .*[Rr]ead timeout"):
        spend(Reply(delay=30))
    assert time.monotonic() - started < 10  # 3 attempts of 0.5 s and the backoff between them


def test_the_deadline_bounds_all_attempts():
    patient = aws.AwsSettings(connect_timeout=1.0, read_timeout=0.4, max_attempts=50, deadline_seconds=1.0)
    started = time.monotonic()
    with pytest.raises(ServiceError, match=f"^{CE}: no complete answer within the 1 s mlp allows its AWS calls"):
        spend(Reply(delay=30), settings=patient)
    assert time.monotonic() - started < 10


def test_throttling_is_retried_then_given_up_on_a_bounded_budget():
    fake = FakeAws(lambda operation, request: throttled())
    started = time.monotonic()
    with fake as url, pytest.raises(ServiceError, match=f"^{CE}: ThrottlingException: Rate exceeded \\(after 3 attempts\\)"):
        spend_by_tag(aws.client("ce", "us-east-1", url, settings=FAST), JAN, FEB, "Team", None)
    assert fake.count("GetCostAndUsage") == 3
    assert time.monotonic() - started < 10  # backoff of at most 1 s, then 2 s


def test_throttling_then_an_answer_succeeds():
    replies = iter([throttled(), ce_answer(group("x", "5"))])
    assert spend(lambda operation, request: next(replies)) == {"x": 5}


def test_server_errors_are_retried_then_reported():
    fake = FakeAws(lambda operation, request: Reply(503, {"__type": "ServiceUnavailableException", "message": "down"}))
    with fake as url, pytest.raises(ServiceError, match=f"^{CE}: ServiceUnavailableException: down"):
        spend_by_tag(aws.client("ce", "us-east-1", url, settings=FAST), JAN, FEB, "Team", None)
    assert fake.count("GetCostAndUsage") == FAST.max_attempts


def test_no_credentials_is_bad_input(monkeypatch, tmp_path):
    without_credentials(monkeypatch)
    with FakeAws(lambda operation, request: ce_answer()) as url, pytest.raises(UserError, match="AWS credentials: none found"):
        spend_by_tag(aws.client("ce", "us-east-1", url, settings=FAST), JAN, FEB, "Team", None)


@pytest.mark.parametrize("budget,field,words", [
    ({"BudgetName": "p-"}, "Budgets[0].BudgetLimit", "missing (expected an object)"),
    ({"BudgetName": "p-", "BudgetLimit": {"Amount": "NaN", "Unit": "USD"}}, "Budgets[0].BudgetLimit.Amount", "got 'NaN'"),
    ({"BudgetName": "p-", "BudgetLimit": {"Amount": "-5", "Unit": "USD"}}, "Budgets[0].BudgetLimit.Amount", "amount >= 0"),
    ({"BudgetName": "p-", "BudgetLimit": {"Amount": "5"}, "CalculatedSpend": {"ActualSpend": {"Amount": "lots"}}},
     "Budgets[0].CalculatedSpend.ActualSpend.Amount", "got 'lots'"),
    ({"BudgetLimit": {"Amount": "5"}}, "Budgets[0].BudgetName", "missing (expected a string)"),
])
def test_budgets_are_checked(budget, field, words):
    with FakeAws(lambda operation, request: {"Budgets": [budget]}) as url, pytest.raises(ServiceError) as raised:
        budgets(aws.client("budgets", "us-east-1", url, settings=FAST), "123456789012", "p-")
    assert str(raised.value).startswith(f"Budgets DescribeBudgets: {field}: ") and words in str(raised.value)


def test_a_budget_aws_has_not_calculated_yet_has_no_actual_spend_rather_than_zero():
    answer = {"Budgets": [{"BudgetName": "p-env", "BudgetLimit": {"Amount": "100", "Unit": "USD"}}]}
    with FakeAws(lambda operation, request: answer) as url:
        (line,) = budgets(aws.client("budgets", "us-east-1", url, settings=FAST), "123456789012", "p-")
    assert line.limit == 100 and line.actual is None and line.percent_used is None


def test_the_account_id_is_checked():
    with FakeAws(lambda operation, request: {}) as url:
        assert account_id(aws.client("sts", "us-east-1", url, settings=FAST)) == "123456789012"


@pytest.mark.parametrize("value,ok", [("12.5", True), (3, True), ("0", True), ("NaN", False), ("sNaN", False), ("-Infinity", False),
                                      ("1e16", False), (True, False), ([], False), ("1..2", False), (" 7 ", True)])
def test_amounts_are_finite_decimals(value, ok):
    if ok:
        assert aws.amount(value, "API", "field") == Decimal(str(value).strip())
    else:
        with pytest.raises(ServiceError, match="^API: field: expected a decimal amount"):
            aws.amount(value, "API", "field")


def test_every_client_has_timeouts_and_a_bounded_retry_budget():
    client = aws.client("cloudwatch", "eu-west-1")
    config = client.meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": aws.SETTINGS.max_attempts}
    assert (config.connect_timeout, config.read_timeout) == (aws.SETTINGS.connect_timeout, aws.SETTINGS.read_timeout)


def test_a_client_without_a_region_is_bad_input(monkeypatch):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(UserError, match="AWS region: none configured"):
        aws.client("cloudwatch")


@pytest.mark.parametrize("body", [b"null", b"[]", b"\x80\x81", b'"text"'])
def test_a_body_the_sdk_cannot_parse_is_one_line_naming_the_api(body):
    with pytest.raises(ServiceError, match=f"^{CE}: an answer mlp cannot read"):
        spend(Reply(200, body))
