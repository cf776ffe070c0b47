"""Property-based tests (Hypothesis) of Cost Explorer answers, served by a faulty AWS on
127.0.0.1 (tests/mlp/fakeaws.py). The contract: the exact sum of a well-formed answer, or one
ServiceError (exit 1) naming the API and the first malformed field; never a number from a
malformed answer, never a hang or a traceback."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlp import aws
from mlp.errors import ServiceError
from mlp.spend import spend_by_tag
from tests.mlp.fakeaws import FakeAws
from tests.mlp.inprocess import run_main
from tests.mlp.test_report import SMALL_EXPORT

FAST = aws.AwsSettings(connect_timeout=1.0, read_timeout=1.0, max_attempts=1, deadline_seconds=10.0, max_pages=20)
API = "Cost Explorer GetCostAndUsage"
MISSING = object()

GOOD_AMOUNT = st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False, allow_infinity=False).map(str)
BAD_AMOUNT = st.one_of(st.sampled_from(["NaN", "nan", "Infinity", "-Infinity", "sNaN", "", "1..2", "1,000.00", "USD 5", "1e400"]),
                       st.none(), st.booleans(), st.lists(st.integers(), max_size=1), st.just(MISSING))
DEFECTS = ["keys-missing", "keys-two", "keys-other-tag", "metrics-missing", "metric-missing", "unit-eur", "amount"]


@st.composite
def groups(draw) -> tuple[dict, str | None]:
    """A group of the answer, and what is wrong with it (None: nothing)."""
    value = draw(st.sampled_from(["vision", "forecasting", "", "ml-platform", "a$b"]))
    amount = draw(GOOD_AMOUNT)
    group: dict[str, Any] = {"Keys": [f"Team${value}"], "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}
    defect = draw(st.none() | st.sampled_from(DEFECTS))
    if defect == "keys-missing":
        del group["Keys"]
    elif defect == "keys-two":
        group["Keys"].append("Component$x")
    elif defect == "keys-other-tag":
        group["Keys"] = [f"Teem${value}"]
    elif defect == "metrics-missing":
        del group["Metrics"]
    elif defect == "metric-missing":
        group["Metrics"] = {"BlendedCost": group["Metrics"]["UnblendedCost"]}
    elif defect == "unit-eur":
        group["Metrics"]["UnblendedCost"]["Unit"] = "EUR"
    elif defect == "amount":
        bad = draw(BAD_AMOUNT)
        if bad is MISSING:
            del group["Metrics"]["UnblendedCost"]["Amount"]
        else:
            group["Metrics"]["UnblendedCost"]["Amount"] = bad
    return group, defect


ANSWERS = st.lists(st.lists(groups(), max_size=4), min_size=0, max_size=3)  # periods of groups
FIELD_OF = {"keys-missing": "Keys", "keys-two": "Keys", "keys-other-tag": "Keys", "metrics-missing": "Metrics",
            "metric-missing": "Metrics.UnblendedCost", "unit-eur": "Metrics.UnblendedCost.Unit", "amount": "Metrics.UnblendedCost.Amount"}


def expected(periods: list) -> tuple[dict[str, Decimal] | None, str | None]:
    """The oracle: the totals of a well-formed answer, or the field of its first defect."""
    if not periods:
        return None, "ResultsByTime"
    totals: dict[str, Decimal] = {}
    for i, period in enumerate(periods):
        for j, (group, defect) in enumerate(period):
            if defect:
                return None, f"ResultsByTime[{i}].Groups[{j}].{FIELD_OF[defect]}"
            value = group["Keys"][0].split("$", 1)[1]
            totals[value] = totals.get(value, Decimal(0)) + Decimal(group["Metrics"]["UnblendedCost"]["Amount"])
    return totals, None


def answer_of(periods: list) -> dict:
    return {"ResultsByTime": [{"TimePeriod": {"Start": "2026-01-01", "End": "2026-02-01"}, "Groups": [g for g, _ in period]}
                              for period in periods]}


@pytest.fixture(scope="module")
def fake_ce():
    """One faulty AWS for the module; each example sets what it answers."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        current: dict[str, Any] = {}
        fake = FakeAws(lambda operation, request: current["answer"](operation, request), max_requests=10**6)
        with fake as url:
            yield current, url


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(periods=ANSWERS)
def test_cost_explorer_answers_sum_exactly_or_name_the_field(fake_ce, periods):
    current, url = fake_ce
    current["answer"] = lambda operation, request: answer_of(periods)
    totals, field = expected(periods)
    client = aws.client("ce", "us-east-1", url, settings=FAST)
    if field is None:
        assert spend_by_tag(client, date(2026, 1, 1), date(2026, 2, 1), "Team", None) == totals
    else:
        with pytest.raises(ServiceError) as raised:
            spend_by_tag(client, date(2026, 1, 1), date(2026, 2, 1), "Team", None)
        assert str(raised.value).startswith(f"{API}: {field}: ") and "\n" not in str(raised.value)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.binary(max_size=40), st.text(max_size=40).map(str.encode),
                      st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                                   lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
                                       ["ResultsByTime", "Groups", "Keys", "Metrics", "UnblendedCost", "Amount", "NextPageToken", "x"]),
                                       inner, max_size=3), max_leaves=10).map(lambda value: json.dumps(value).encode())))
def test_any_body_is_a_number_from_a_good_answer_or_one_line_naming_the_api(fake_ce, body):
    from tests.mlp.fakeaws import Reply

    current, url = fake_ce
    current["answer"] = lambda operation, request: Reply(200, body)
    client = aws.client("ce", "us-east-1", url, settings=FAST)
    try:
        totals = spend_by_tag(client, date(2026, 1, 1), date(2026, 2, 1), "Team", None)
    except ServiceError as error:
        assert str(error).startswith(f"{API}: ") and "\n" not in str(error)
        return
    assert all(amount.is_finite() for amount in totals.values())
    document = json.loads(body)  # only well-formed JSON with at least one result can give totals
    assert isinstance(document, dict) and document.get("ResultsByTime")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(periods=ANSWERS)
def test_report_is_right_or_exit_1_with_one_line(fake_ce, tmp_path_factory, periods):
    current, url = fake_ce

    def answer(operation, request):
        if operation == "GetCostAndUsage":
            key = request["GroupBy"][0]["Key"]
            if key == "Environment":
                return answer_of([[({"Keys": ["Environment$prod"], "Metrics": {"UnblendedCost": {"Amount": "1", "Unit": "USD"}}}, None)]])
            return answer_of(periods) if key == "Team" else answer_of([[]])
        return {"Budgets": []}

    current["answer"] = answer
    state = tmp_path_factory.mktemp("report") / "small.json"
    state.write_text(json.dumps(SMALL_EXPORT))
    status, out, err = run_main("report", str(state), "--start", "2026-01-01", "--end", "2026-02-01", "--endpoint-url", url,
                                "--by", "Team", "--format", "json")
    totals, field = expected(periods)
    if field is None:
        assert (status, err) == (0, "")
        actual = {line["value"]: Decimal(line["actualCost"]) for line in json.loads(out)["groups"]["Team"]}
        for value, amount in totals.items():
            assert actual[value or "(untagged)"] == amount.quantize(Decimal("0.01"))
    else:
        assert (status, out) == (1, "")
        assert err.startswith(f"mlp report: {API}: {field}: ") and err.count("\n") == 1
