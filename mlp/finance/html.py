"""The report as one self-contained HTML page finance can open offline: inline CSS, inline SVG
trend charts (one per team, actual beside estimate by month), the month summary, each month's
teams with estimate and variance, and its team x component table.

Every figure on the page is rendered from the report's JSON (`FinanceReport.as_json`) and carries
the JSON path it came from in a `data-figure` attribute, so a test can check the page against the
JSON figure for figure.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape
from typing import Any

from mlp.finance.model import FinanceReport

CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 340, 150, 28
ACTUAL_COLOUR, ESTIMATE_COLOUR = "#1f5fa8", "#c2410c"

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2430; margin: 0; background: #f6f7f9; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; } h3 { font-size: 15px; margin: 18px 0 6px; }
.meta { color: #5b6472; margin-bottom: 16px; }
.cards { display: flex; gap: 14px; flex-wrap: wrap; }
.card { background: #fff; border: 1px solid #dfe3e8; border-radius: 8px; padding: 10px 16px; min-width: 170px; }
.card .label { color: #5b6472; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; background: #fff; border: 1px solid #dfe3e8; margin: 6px 0 14px; }
th, td { padding: 5px 10px; border-bottom: 1px solid #edf0f3; text-align: left; white-space: nowrap; }
th { background: #eef1f5; font-weight: 600; font-size: 13px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.estimated { color: #b45309; font-weight: 600; } .final { color: #15803d; font-weight: 600; }
.neg { color: #15803d; } .pos { color: #b91c1c; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(350px, 1fr)); gap: 12px; }
.chart { background: #fff; border: 1px solid #dfe3e8; border-radius: 8px; padding: 8px 10px; }
.chart h3 { margin: 0 0 4px; }
.legend span { display: inline-block; margin-right: 14px; font-size: 12px; color: #5b6472; }
.legend i { display: inline-block; width: 14px; height: 3px; vertical-align: middle; margin-right: 5px; }
.note { color: #5b6472; font-size: 12px; max-width: 900px; }
"""


def _figure(value: str | None, path: str, css: str = "num") -> str:
    """A table cell with one figure of the JSON; `-` where the JSON has none."""
    if value is None:
        return f'<td class="{css}">-</td>'
    shown = f"{Decimal(value):,.2f}"
    sign = " pos" if path.endswith("variance") and Decimal(value) > 0 else (" neg" if path.endswith("variance") and Decimal(value) < 0 else "")
    return f'<td class="{css}{sign}" data-figure="{escape(path)}">{shown}</td>'


def _chart(team: str, points: list[tuple[str, str | None, str | None, str]], currency: str) -> str:
    """Actual (solid) and estimate (dashed) by month; each point's title holds its figure."""
    values = [Decimal(v) for _, a, e, _ in points for v in (a, e) if v is not None]
    top = max(values + [Decimal(1)])
    step = (CHART_WIDTH - 2 * CHART_PAD) / max(len(points) - 1, 1)

    def xy(i: int, value: str) -> tuple[float, float]:
        x = CHART_PAD + (i * step if len(points) > 1 else (CHART_WIDTH - 2 * CHART_PAD) / 2)
        y = CHART_HEIGHT - CHART_PAD - float(Decimal(value) / top) * (CHART_HEIGHT - 2 * CHART_PAD)
        return round(x, 1), round(y, 1)

    parts = [f'<svg role="img" aria-label="monthly spend of {escape(team)}" width="{CHART_WIDTH}" height="{CHART_HEIGHT}" '
             f'viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" xmlns="http://www.w3.org/2000/svg">',
             f'<line x1="{CHART_PAD}" y1="{CHART_HEIGHT - CHART_PAD}" x2="{CHART_WIDTH - CHART_PAD / 2}" y2="{CHART_HEIGHT - CHART_PAD}" stroke="#9aa4b1"/>']
    for key, colour, dash in (("actual", ACTUAL_COLOUR, ""), ("estimate", ESTIMATE_COLOUR, ' stroke-dasharray="5 4"')):
        index = 1 if key == "actual" else 2
        coords = [(i, xy(i, point[index])) for i, point in enumerate(points) if point[index] is not None]
        if len(coords) > 1:
            path = " ".join(f"{x},{y}" for _, (x, y) in coords)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5"{dash}/>')
        for i, (x, y) in coords:
            label, figure_path = points[i][0], points[i][3] + (".actualCost" if key == "actual" else ".estimatedCost")
            value = points[i][index]
            parts.append(f'<circle cx="{x}" cy="{y}" r="3.5" fill="{colour}"><title data-figure="{escape(figure_path)}">'
                         f'{escape(label)} {key} {escape(currency)} {Decimal(value):,.2f}</title></circle>')
    for i, point in enumerate(points):
        x, _ = xy(i, "0")
        parts.append(f'<text x="{x}" y="{CHART_HEIGHT - 8}" font-size="11" text-anchor="middle" fill="#5b6472">{escape(point[0])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _charts(data: dict[str, Any], teams: list[str]) -> str:
    out = ['<div class="legend"><span><i style="background:#1f5fa8"></i>actual</span>'
           '<span><i style="background:#c2410c"></i>estimate (mlp cost, same hours)</span></div><div class="charts">']
    for team in teams:
        points = []
        for m, month in enumerate(data["months"]):
            label = month["billingPeriodStart"][:7]
            for t, total in enumerate(month["teams"]):
                if total["team"] == team:
                    points.append((label, total["actualCost"], total["estimatedCost"], f"months[{m}].teams[{t}]"))
        if points:
            out.append(f'<div class="chart"><h3>{escape(team)}</h3>{_chart(team, points, data["currency"])}</div>')
    out.append("</div>")
    return "".join(out)


def _month_summary(data: dict[str, Any]) -> str:
    columns = (("actualCost", "actual"), ("estimatedCost", "estimate"), ("variance", "variance"), ("allocatedCost", "allocated"),
               ("idleCost", "idle"), ("idleGpuCost", "idle GPU"), ("untaggedCost", "untagged"), ("unallocatedCost", "unallocated"),
               ("costWithoutEnvironmentTag", "no Environment tag"))
    rows = ["<table><tr><th>month</th><th>status</th><th>split data</th>" + "".join(f'<th class="num">{label}</th>' for _, label in columns) + "</tr>"]
    for m, month in enumerate(data["months"]):
        split = {True: "yes", False: "no", None: "n/a"}[month["splitCostAllocationData"]]
        rows.append(f'<tr><td>{escape(month["billingPeriodStart"][:7])}</td><td class="{month["status"]}">{month["status"]}</td><td>{split}</td>'
                    + "".join(_figure(month[key], f"months[{m}].{key}") for key, _ in columns) + "</tr>")
    rows.append("</table>")
    return "".join(rows)


def _month_detail(m: int, month: dict[str, Any]) -> str:
    out = [f'<h3>{escape(month["billingPeriodStart"][:7])} <span class="{month["status"]}">({month["status"]})</span></h3>',
           '<table><tr><th>team</th><th class="num">actual</th><th class="num">allocated</th><th class="num">idle</th>'
           '<th class="num">idle GPU</th><th class="num">untagged / unallocated</th><th class="num">estimate</th><th class="num">variance</th></tr>']
    for t, total in enumerate(month["teams"]):
        path = f"months[{m}].teams[{t}]"
        out.append(f'<tr><td>{escape(total["team"])}</td>' + "".join(_figure(total[key], f"{path}.{key}") for key in (
            "actualCost", "allocatedCost", "idleCost", "idleGpuCost", "otherCost", "estimatedCost", "variance")) + "</tr>")
    out.append("</table>")
    components = sorted({cell["component"] for cell in month["teamComponents"]})
    teams = list(dict.fromkeys(cell["team"] for cell in month["teamComponents"]))
    cells = {(cell["team"], cell["component"]): k for k, cell in enumerate(month["teamComponents"])}
    out.append('<table><tr><th>team \\ component</th>' + "".join(f'<th class="num">{escape(c)}</th>' for c in components) + "</tr>")
    for team in teams:
        row = [f"<tr><td>{escape(team)}</td>"]
        for component in components:
            k = cells.get((team, component))
            row.append('<td class="num">-</td>' if k is None else _figure(month["teamComponents"][k]["actualCost"], f"months[{m}].teamComponents[{k}].actualCost"))
        out.append("".join(row) + "</tr>")
    out.append("</table>")
    return "".join(out)


def render_html(report: FinanceReport) -> str:
    data = report.as_json()
    title = f"Cost report {report.environment}: {data['period']['start']} to {data['period']['end']}"
    source = {"athena": "CUR 2.0 export (split cost allocation data) through Athena", "cost-explorer": "AWS Cost Explorer"}[report.source]
    cards = "".join(f'<div class="card"><div class="label">{label}</div><div class="value" data-figure="{key}">'
                    f'{"-" if data[key] is None else f"{Decimal(data[key]):,.2f}"}</div></div>'
                    for key, label in (("totalActualCost", f"actual ({report.currency})"), ("totalEstimatedCost", "estimate"), ("variance", "variance")))
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<div class="meta">environment <b>{escape(report.environment)}</b> · source: {escape(source)} · currency {escape(report.currency)}</div>',
        f'<div class="cards">{cards}</div>',
        "<h2>Monthly trend per team</h2>", _charts(data, report.team_names()),
        "<h2>Months</h2>", _month_summary(data),
        '<p class="note">A month is <b>estimated</b> until AWS has invoiced it (Cost Explorer: until it stops flagging the month '
        "Estimated); its figures may still change. Idle is capacity of shared nodes a team's pods reserved but did not use; idle GPU "
        "is the part on GPU nodes. Untagged is spend in the environment without a Team tag; unallocated is shared-node cost of pods "
        "without the team label. Together with the teams' allocated spend they add up to the month's actual spend.</p>",
        "<h2>Teams and components by month</h2>", *[_month_detail(m, month) for m, month in enumerate(data["months"])],
    ]
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body><main>{''.join(body)}</main></body></html>\n")
