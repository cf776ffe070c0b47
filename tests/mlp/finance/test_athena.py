"""`mlp report --source athena`: the report's SQL over a synthetic CUR 2.0 export (DuckDB), its
answer served by moto's Athena, and every dollar of the environment allocated exactly once."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import boto3
import pytest
import requests

from components.billing import athena_names
from mlp.finance.athena import RESULT_COLUMNS, allocate, build_query, cur_tag_key
from mlp.finance.build import is_gpu_instance
from tests.conftest import planned, run_mlp
from tests.mlp.fakeaws import FakeAws, Reply
from tests.mlp.finance.export import MONTHS, TAX, athena_answer, expected_actual, line_items, run_report_query
from tests.mlp.inprocess import run_main

START, END = date(2026, 9, 1), date(2026, 11, 1)
NAMES = athena_names("mlplatform")


@pytest.fixture(scope="module")
def export():
    items = line_items()
    rows = run_report_query(build_query(NAMES["database"], NAMES["table"], "prod", START, END), items)
    return items, rows


def _months(rows):
    return allocate((dict(zip(rows[0], row)) for row in rows[1:]), "prod", is_gpu_instance(None))


def test_tag_keys_are_named_as_cur_names_them():
    assert cur_tag_key("Team") == "user_team"
    assert cur_tag_key("CostCenter") == "user_cost_center"
    assert cur_tag_key("mlplatform.io/team") == "user_mlplatform_io_team"
    assert cur_tag_key("karpenter.sh/nodepool") == "user_karpenter_sh_nodepool"


def test_every_dollar_of_the_environment_lands_in_one_line(export):
    items, rows = export
    months = _months(rows)
    assert [m.start for m in months] == list(MONTHS)
    for month in months:
        truth = expected_actual(items, month.start)
        assert month.actual == truth  # allocated + idle + untagged + unallocated, nothing twice
        teams = month.teams()
        assert sum((t.actual for t in teams), Decimal(0)) == month.actual
        assert sum((t.allocated + t.idle for t in teams), Decimal(0)) + month.total("untagged") + month.total("unallocated") == truth
        assert month.without_environment == TAX  # account spend without an Environment tag, not the environment's
        assert month.split_data is True


def test_shared_nodes_are_split_by_the_pods_and_idle_gpus_billed_to_their_team(export):
    _, rows = export
    september = _months(rows)[0]
    by_team = {t.team: t for t in september.teams()}
    days = 30
    # vision's pods reserved 65% of the GPU node's 136.51 a day; the 30% no pod used is split by the pods' shares (of 70%).
    assert by_team["vision"].allocated == Decimal(days) * (Decimal("34.13") + Decimal("54.60") + Decimal("27.65"))
    assert by_team["vision"].idle == Decimal(days) * (Decimal("14.63") + Decimal("23.40"))
    assert by_team["vision"].idle_gpu == by_team["vision"].idle
    assert by_team["forecasting"].idle > 0 and by_team["forecasting"].idle_gpu == 0  # a CPU node's idle is not GPU idle
    # The kube-system pod's share and rounding stay with the node owner; unlabelled pods are unallocated.
    assert september.total("unallocated") == Decimal(days) * (Decimal("0.92") + Decimal("0.61"))
    assert september.total("untagged") == Decimal(days) * Decimal("1.10")
    assert "staging" not in {line.team for line in september.lines}


def test_a_month_is_final_once_invoiced(export):
    september, october = _months(export[1])
    assert (september.final, october.final) == (True, False)


def test_effective_cost_carries_the_discounts(export):
    september = _months(export[1])[0]
    endpoints = september.line("vision", "endpoints", "allocated")
    assert endpoints.billed == Decimal(30) * Decimal("27.65") and endpoints.effective == Decimal(30) * Decimal("24.88")  # 90% of 27.65, to the cent


@pytest.fixture
def seeded(export, moto_endpoint, aws_test_credentials, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    requests.post(f"{moto_endpoint}/moto-api/reset")
    boto3.client("athena", region_name="us-west-2", endpoint_url=moto_endpoint).create_work_group(
        Name=NAMES["workgroup"], Configuration={"ResultConfiguration": {"OutputLocation": "s3://acme-mlplatform-billing-exports/athena-results/"},
                                                "EnforceWorkGroupConfiguration": True, "BytesScannedCutoffPerQuery": 107374182400})
    requests.post(f"{moto_endpoint}/moto-api/static/athena/query-results", json=athena_answer(export[1])).raise_for_status()
    state = tmp_path / "prod.json"
    state.write_text(json.dumps(planned("prod").document))
    return moto_endpoint, state


def athena_report(endpoint, state, *extra):
    return run_mlp("report", str(state), "--source", "athena", "--start", START.isoformat(), "--end", END.isoformat(),
                   "--endpoint-url", endpoint, *extra)


def test_the_report_from_moto_adds_up_per_team_and_month(seeded, export):
    endpoint, state = seeded
    result = athena_report(endpoint, state, "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["source"] == "athena" and report["environment"] == "prod"
    items = export[0]
    for month, first in zip(report["months"], MONTHS):
        assert month["billingPeriodStart"] == first.isoformat()
        actual = Decimal(month["actualCost"])
        assert actual == expected_actual(items, first)
        assert sum(Decimal(t["actualCost"]) for t in month["teams"]) == actual
        parts = ("allocatedCost", "idleCost", "untaggedCost", "unallocatedCost")
        assert sum(Decimal(month[key]) for key in parts) == actual
        assert sum(Decimal(c["actualCost"]) for c in month["teamComponents"]) == actual
        assert sum(Decimal(line["billedCost"]) for line in month["lines"]) == actual
        assert Decimal(month["variance"]) == actual - Decimal(month["estimatedCost"])
    assert [m["status"] for m in report["months"]] == ["final", "estimated"]
    assert Decimal(report["totalActualCost"]) == sum(expected_actual(items, first) for first in MONTHS)


def test_estimates_sit_beside_the_actual_for_the_same_hours(seeded):
    from mlp.finance.build import joint_estimates

    endpoint, state = seeded
    report = json.loads(athena_report(endpoint, state, "--format", "json").stdout)
    estimates, _ = joint_estimates(planned("prod").resources, None)
    september = report["months"][0]
    cell = next(c for c in september["teamComponents"] if (c["team"], c["component"]) == ("ml-platform", "datalake"))
    expected = (estimates[("ml-platform", "datalake")] * Decimal(30 * 24) / Decimal(730)).quantize(Decimal("0.01"))
    assert cell["estimatedCost"] == str(expected)
    assert Decimal(cell["variance"]) == Decimal(cell["actualCost"]) - expected
    assert Decimal(september["estimatedCost"]) == sum(Decimal(t["estimatedCost"] or 0) for t in september["teams"])


def test_the_table_names_each_month_and_its_status(seeded):
    endpoint, state = seeded
    result = athena_report(endpoint, state)
    assert result.returncode == 0, result.stderr
    assert "2026-09 (final)" in result.stdout and "2026-10 (estimated)" in result.stdout and "vision" in result.stdout


def test_dev_reads_the_exports_of_the_stack_that_owns_them(export, moto_endpoint, aws_test_credentials, tmp_path):
    """dev runs in us-east-1; the account's billing workgroup is prod's, in us-west-2."""
    requests.post(f"{moto_endpoint}/moto-api/reset")
    # moto knows workgroups by region: the query succeeds only if it is sent to us-west-2.
    boto3.client("athena", region_name="us-west-2", endpoint_url=moto_endpoint).create_work_group(Name=NAMES["workgroup"])
    requests.post(f"{moto_endpoint}/moto-api/static/athena/query-results", json=athena_answer([list(RESULT_COLUMNS)])).raise_for_status()
    state = tmp_path / "dev.json"
    state.write_text(json.dumps(planned("dev").document))
    result = athena_report(moto_endpoint, state, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["months"] == []  # the seeded answer was found in us-west-2: no spend yet


# --- a faulty Athena, in-process -------------------------------------------------------------------


def _athena(states=("SUCCEEDED",), rows=None):
    answers = iter(states)

    def answer(operation, request):
        if operation == "StartQueryExecution":
            assert request["WorkGroup"] == NAMES["workgroup"] and request["QueryExecutionContext"] == {"Database": NAMES["database"]}
            return {"QueryExecutionId": "q-1"}
        if operation == "GetQueryExecution":
            state = next(answers)
            return {"QueryExecution": {"Status": {"State": state, "StateChangeReason": "Query exhausted resources at this scale factor"}}}
        return {"ResultSet": {"Rows": rows if rows is not None else [{"Data": [{"VarCharValue": c} for c in RESULT_COLUMNS]}]}}
    return answer


def _in_process(tmp_path, answer, *extra):
    state = tmp_path / "prod.json"
    state.write_text(json.dumps(planned("prod").document))
    with FakeAws(answer) as url:
        return run_main("report", str(state), "--source", "athena", "--start", "2026-09-01", "--end", "2026-10-01",
                        "--endpoint-url", url, "--format", "json", *extra)


def test_a_running_query_is_waited_for(tmp_path, aws_test_credentials, monkeypatch):
    monkeypatch.setattr("mlp.finance.athena.POLL_SECONDS", (0.0,))
    status, out, err = _in_process(tmp_path, _athena(("QUEUED", "RUNNING", "SUCCEEDED")))
    assert (status, err) == (0, "") and json.loads(out)["months"] == []


@pytest.mark.parametrize("answer,words", [
    (_athena(("FAILED",)), "Athena GetQueryExecution: QueryExecution.Status: the query failed: Query exhausted resources"),
    (_athena(("SOMETHING",)), "Athena GetQueryExecution: QueryExecution.Status.State: expected QUEUED, RUNNING"),
    (_athena(rows=[{"Data": [{"VarCharValue": "cost"}]}]), "Athena GetQueryResults: ResultSet.Rows[0]: expected the columns period_start"),
    (_athena(rows=[]), "Athena GetQueryResults: ResultSet.Rows: no header row"),
    (_athena(rows=[{"Data": [{"VarCharValue": c} for c in RESULT_COLUMNS]},
                   {"Data": [{"VarCharValue": v} for v in ["2026-09-01", "", "S3", "prod", "x", "y", "", "", "", "NaN", "0", "0", "0", "0", "0"]]}]),
     "Athena GetQueryResults: row 1.cost: expected a decimal amount, got 'NaN'"),
    (lambda operation, request: Reply(500, b"{}"), "Athena StartQueryExecution:"),
])
def test_a_broken_athena_answer_is_exit_1_with_one_line(tmp_path, aws_test_credentials, answer, words):
    status, out, err = _in_process(tmp_path, answer)
    assert (status, out) == (1, "")
    assert err.startswith(f"mlp report: {words}") and err.count("\n") == 1


def test_a_bad_glue_name_is_exit_2_before_any_call(tmp_path, aws_test_credentials):
    status, out, err = _in_process(tmp_path, lambda operation, request: pytest.fail("no call expected"), "--athena-table", "cur2; DROP")
    assert (status, out) == (2, "")
    assert err == "mlp report: command line: --athena-table: expected a Glue name (letters, digits, '_'), got 'cur2; DROP'\n"
