"""The report as a CSV with FOCUS column names (FinOps Open Cost and Usage Specification 1.x):
one row per billing period and (team, component, kind), so the rows of a period add up to its
actual spend and a pivot table over x_Team or x_Component never counts a dollar twice.

FOCUS columns: BillingPeriodStart/End and ChargePeriodStart/End (ISO 8601 UTC, end exclusive),
BilledCost (unblended), EffectiveCost (after discounts where the source says), BillingCurrency,
ServiceName (the services the row's spend came from, largest first), ChargeCategory, ProviderName.
Platform columns carry the `x_` prefix FOCUS reserves for them: x_Environment, x_Team,
x_Component, x_CostKind (allocated, idle, untagged, unallocated), x_IdleGpuCost (the part of an
idle row on GPU nodes), x_EstimatedCost (on allocated rows only, so it sums to the estimate),
x_Variance, x_MonthStatus (final or estimated) and x_Source.
"""

from __future__ import annotations

import csv
import io
from datetime import date

from mlp.cost import money
from mlp.finance.model import FinanceReport

COLUMNS = (
    "BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd", "BilledCost", "EffectiveCost", "BillingCurrency",
    "ServiceName", "ChargeCategory", "ProviderName", "x_Environment", "x_Team", "x_Component", "x_CostKind", "x_IdleGpuCost",
    "x_EstimatedCost", "x_Variance", "x_MonthStatus", "x_Source",
)
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _timestamp(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _text(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def render_csv(report: FinanceReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180, as spreadsheets expect
    writer.writerow(COLUMNS)
    for month in report.months:
        for line in month.sorted_lines():
            writer.writerow([
                _timestamp(month.start), _timestamp(month.end), _timestamp(month.start), _timestamp(month.end),
                money(line.billed), money(line.effective), report.currency, _text(", ".join(line.service_names)), "Usage", "AWS",
                _text(report.environment), _text(line.team), _text(line.component), line.kind, money(line.idle_gpu),
                money(line.estimate) or "", money(line.variance) or "", "final" if month.final else "estimated", report.source,
            ])
    return out.getvalue()
