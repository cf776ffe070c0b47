"""The CSV finance opens: FOCUS column names, one row per month and (team, component, kind), and
columns that sum to the report's figures without counting a dollar twice."""

from __future__ import annotations

import csv
import io
from collections import Counter
from decimal import Decimal

from mlp.finance.focus import COLUMNS
from mlp.finance.model import FinanceReport, Month

FOCUS_REQUIRED = ("BillingPeriodStart", "ChargePeriodStart", "ChargePeriodEnd", "BilledCost", "EffectiveCost", "BillingCurrency", "ServiceName")


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_the_csv_has_focus_columns_and_sums_to_the_report(athena_files):
    report, text, _ = athena_files
    assert text.startswith(",".join(COLUMNS) + "\r\n")
    assert set(FOCUS_REQUIRED) <= set(COLUMNS) and all(c in COLUMNS for c in ("x_Team", "x_Component", "x_EstimatedCost"))
    rows = _rows(text)
    assert Counter((r["BillingPeriodStart"], r["x_Team"], r["x_Component"], r["x_CostKind"]) for r in rows).most_common(1)[0][1] == 1
    for month in report["months"]:
        start = f"{month['billingPeriodStart']}T00:00:00Z"
        mine = [r for r in rows if r["BillingPeriodStart"] == start]
        assert all(r["ChargePeriodStart"] == start and r["ChargePeriodEnd"] == f"{month['billingPeriodEnd']}T00:00:00Z" for r in mine)
        assert sum(Decimal(r["BilledCost"]) for r in mine) == Decimal(month["actualCost"])
        assert sum(Decimal(r["EffectiveCost"]) for r in mine) == Decimal(month["effectiveCost"])
        assert sum(Decimal(r["x_EstimatedCost"] or 0) for r in mine) == Decimal(month["estimatedCost"])
        assert sum(Decimal(r["x_IdleGpuCost"]) for r in mine) == Decimal(month["idleGpuCost"])
        for kind in ("idle", "untagged", "unallocated"):
            assert sum(Decimal(r["BilledCost"]) for r in mine if r["x_CostKind"] == kind) == Decimal(month[f"{kind}Cost"])
        for team in month["teams"]:
            assert sum(Decimal(r["BilledCost"]) for r in mine if r["x_Team"] == team["team"]) == Decimal(team["actualCost"])
        assert {r["x_MonthStatus"] for r in mine} == {month["status"]}
        assert {r["BillingCurrency"] for r in mine} == {"USD"} and {r["x_Environment"] for r in mine} == {"prod"}
    assert sum(Decimal(r["BilledCost"]) for r in rows) == Decimal(report["totalActualCost"])
    endpoints = next(r for r in rows if (r["x_Team"], r["x_Component"], r["x_CostKind"]) == ("vision", "endpoints", "allocated"))
    assert endpoints["ServiceName"] == "Amazon SageMaker"


def test_a_cell_a_spreadsheet_would_run_is_quoted_as_text():
    from datetime import date

    from mlp.finance.focus import render_csv

    month = Month(date(2026, 9, 1), date(2026, 10, 1), final=True)
    month.line("=HYPERLINK(\"x\")", "compute", "allocated").add(Decimal("1.00"), Decimal("1.00"), "@SUM(A1)")
    (row,) = _rows(render_csv(FinanceReport("athena", "prod", "USD", month.start, month.end, [month])))
    assert row["x_Team"] == "'=HYPERLINK(\"x\")" and row["ServiceName"] == "'@SUM(A1)" and row["BilledCost"] == "1.00"
