"""`mlp report`: what each team, environment and component actually cost, beside the estimate.

Actual spend comes from AWS Cost Explorer grouped by the cost-allocation tags; the estimate for
the same period from `mlp cost` on the stack's state; spend that lacks a tag is shown as such
(finance needs to see what cannot be allocated); idle GPU cost comes from the GPU agent's
CloudWatch metrics priced with the catalogue; budgets from AWS Budgets. Every figure is also
given per month, with Cost Explorer's `Estimated` flag.

With `--source athena` the report reads the CUR 2.0 export with split cost allocation data
through Athena instead (mlp/finance/): per month, team and component at once, shared nodes'
cost split by the pods that used them, idle (and idle GPU) cost per team, untagged and
unallocated spend, final or estimated months.

    mlp report STATE.json | --stack STACK [--start YYYY-MM-DD] [--end YYYY-MM-DD] [--by Team,Component]
               [--usage F.yaml] [--source cost-explorer|athena] [--format table|json|csv|html] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from mlp import aws
from mlp.cli import iso_date
from mlp.cost import (
    CENT,
    UNTAGGED,
    ZERO,
    estimate,
    money,
    region_of,
    usage_schemas,
)
from mlp.errors import UserError
from mlp.files import write_atomic
from mlp.finance.build import billing_owner_region, from_athena, from_cost_explorer, joint_estimates
from mlp.finance.focus import render_csv
from mlp.finance.html import render_html
from mlp.finance.model import FinanceReport
from mlp.prices import HOURS_PER_MONTH
from mlp.spend import BudgetLine, IdleGpuLine, PeriodSpend, account_id, budgets, idle_gpus, monthly_spend_by_tag
from mlp.state import check_group_keys
from mlp.terminal import output_console

DEFAULT_GROUP_KEYS = ("Team", "Component")


# --- the report -----------------------------------------------------------------------------------


@dataclass
class GroupLine:
    value: str
    actual: Decimal
    estimate: Decimal | None

    @property
    def difference(self) -> Decimal | None:
        return None if self.estimate is None else self.actual - self.estimate


@dataclass
class Report:
    environment: str
    start: date
    end: date
    currency: str
    groups: dict[str, list[GroupLine]] = field(default_factory=dict)
    untagged: dict[str, Decimal] = field(default_factory=dict)
    spend_without_environment_tag: Decimal = ZERO
    idle: list[IdleGpuLine] = field(default_factory=list)
    budgets: list[BudgetLine] = field(default_factory=list)
    finance: FinanceReport | None = None  # the monthly view by Team (CSV and HTML are rendered from it)

    @property
    def hours(self) -> Decimal:
        return Decimal((self.end - self.start).days * 24)

    def as_json(self) -> dict[str, Any]:
        idle_costs = [line.idle_cost for line in self.idle if line.idle_cost is not None]
        first_key = next(iter(self.groups), None)
        return {
            "currency": self.currency,
            "environment": self.environment,
            "period": {"start": self.start.isoformat(), "end": self.end.isoformat(), "hours": int(self.hours)},
            "totalActualCost": money(sum((line.actual for line in self.groups.get(first_key, [])), ZERO)),
            "totalEstimatedCost": money(sum((line.estimate or ZERO for line in self.groups.get(first_key, [])), ZERO)) if first_key else None,
            "groups": {
                key: [{"value": line.value, "actualCost": money(line.actual), "estimatedCost": money(line.estimate),
                       "difference": money(line.difference)} for line in lines]
                for key, lines in self.groups.items()
            },
            "untaggedCost": {key: money(value) for key, value in self.untagged.items()},
            "costWithoutEnvironmentTag": money(self.spend_without_environment_tag),
            "idleGpus": [
                {"nodePool": line.node_pool, "instanceType": line.instance_type, "gpuHours": str(line.gpu_hours.quantize(CENT)),
                 "idleGpuHours": str(line.idle_gpu_hours.quantize(CENT)), "idleShare": str(line.idle_share.quantize(Decimal("0.001"))),
                 "idleCost": money(line.idle_cost), "priceNotFound": line.price_per_gpu_hour is None}
                for line in self.idle
            ],
            "idleGpuCost": money(sum(idle_costs, ZERO)),
            "budgets": [
                {"name": b.name, "limit": money(b.limit), "actualCost": money(b.actual), "forecastedCost": money(b.forecast),
                 "percentUsed": None if b.percent_used is None else str(b.percent_used.quantize(Decimal("0.1")))}
                for b in self.budgets
            ],
            "estimated": any(not month.final for month in self.finance.months) if self.finance else None,
            "months": [month.as_json() for month in self.finance.months] if self.finance else [],
        }


def build_report(resources, environment: str, start: date, end: date, group_keys: tuple[str, ...], usage, clients: dict,
                 cluster: str | None, budget_prefix: str) -> Report:
    estimated = estimate(resources, usage, group_keys=group_keys)
    report = Report(environment, start, end, estimated.catalogue.currency)
    scale = report.hours / HOURS_PER_MONTH  # the estimate is per 730-hour month

    account_months = monthly_spend_by_tag(clients["ce"], start, end, "Environment", None)
    report.spend_without_environment_tag = _summed(account_months).get("", ZERO)
    estimated_groups = estimated.groups()
    for key in group_keys:
        months = monthly_spend_by_tag(clients["ce"], start, end, key, environment)
        if key == "Team":
            team_estimates = {value: entry["monthly"] for value, entry in estimated_groups.get(key, {}).items()}
            report.finance = from_cost_explorer(months, environment, report.currency, start, end, team_estimates, account_months)
        actual = {value or UNTAGGED: amount for value, amount in _summed(months).items()}
        report.untagged[key] = actual.get(UNTAGGED, ZERO)
        estimates = {value: entry["monthly"] * scale for value, entry in estimated_groups.get(key, {}).items()}
        values = sorted(set(actual) | set(estimates), key=lambda v: (-(actual.get(v, ZERO)), v))
        report.groups[key] = [GroupLine(value, actual.get(value, ZERO), estimates.get(value)) for value in values]
    if cluster:
        report.idle = idle_gpus(clients["cloudwatch"], cluster, start, end, estimated.catalogue)
    report.budgets = budgets(clients["budgets"], account_id(clients["sts"]), name_prefix=budget_prefix)
    return report


def _summed(periods: list[PeriodSpend]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for period in periods:
        for value, spent in period.totals.items():
            totals[value] = totals.get(value, ZERO) + spent
    return totals


# --- command line -------------------------------------------------------------------------------


def _default_period(today: date) -> tuple[date, date]:
    """The last full calendar month: what finance closes and reports on."""
    end = today.replace(day=1)
    return (end - timedelta(days=1)).replace(day=1), end


def _clients(region: str, endpoint_url: str | None) -> dict:
    deadline = aws.Deadline(aws.SETTINGS.deadline_seconds)  # one limit for all the report's calls
    # Cost Explorer and Budgets are global services served from us-east-1.
    return {
        "ce": aws.client("ce", "us-east-1", endpoint_url, deadline=deadline),
        "budgets": aws.client("budgets", "us-east-1", endpoint_url, deadline=deadline),
        "cloudwatch": aws.client("cloudwatch", region, endpoint_url, deadline=deadline),
        "sts": aws.client("sts", region, endpoint_url, deadline=deadline),
    }


def _environment_of(resources) -> str | None:
    for resource in resources:
        if resource.tags.get("Environment"):
            return resource.tags["Environment"]
    return None


def _cluster_of(resources) -> str | None:
    for resource in resources:
        if resource.type == "aws:eks/cluster:Cluster":
            return resource.inputs.get("name") or resource.outputs.get("name")
    return None


def _render_table(report: Report, console: Console) -> None:
    data = report.as_json()
    console.print(f"[bold]Cost report {report.environment}[/bold]  {data['period']['start']} to {data['period']['end']} "
                  f"({data['period']['hours']} h)  actual {report.currency} {data['totalActualCost']}  estimated {data['totalEstimatedCost']}")
    for key, lines in data["groups"].items():
        table = Table(title=f"by {key}", title_justify="left")
        for column in (key, "actual", "estimated", "difference"):
            table.add_column(column, justify="left" if column == key else "right")
        for line in lines:
            table.add_row(line["value"], line["actualCost"], line["estimatedCost"] or "-", line["difference"] or "-")
        console.print(table)
        console.print(f"spend in {report.environment} without a {key} tag: {data['untaggedCost'][key]}")
    console.print(f"spend in the account without an Environment tag: {data['costWithoutEnvironmentTag']}")
    if data["idleGpus"]:
        table = Table(title=f"idle GPUs (at on-demand prices): {data['idleGpuCost']}", title_justify="left")
        for column in ("pool", "instance type", "GPU-hours", "idle GPU-hours", "idle share", "idle cost"):
            table.add_column(column)
        for line in data["idleGpus"]:
            table.add_row(line["nodePool"], line["instanceType"], line["gpuHours"], line["idleGpuHours"],
                          f"{Decimal(line['idleShare']) * 100:.1f}%", line["idleCost"] or "price not found")
        console.print(table)
    if data["budgets"]:
        table = Table(title="budgets", title_justify="left")
        for column in ("budget", "limit", "actual", "forecast", "used"):
            table.add_column(column)
        for b in data["budgets"]:
            table.add_row(b["name"], b["limit"], b["actualCost"] or "not calculated yet", b["forecastedCost"] or "-",
                          "-" if b["percentUsed"] is None else f"{b['percentUsed']}%")
        console.print(table)


def _render_finance_table(report: FinanceReport, console: Console) -> None:
    data = report.as_json()
    console.print(f"[bold]Cost report {report.environment}[/bold] from the CUR 2.0 export  {data['period']['start']} to {data['period']['end']}  "
                  f"actual {report.currency} {data['totalActualCost']}  estimated {data['totalEstimatedCost']}")
    for month in data["months"]:
        table = Table(title=f"{month['billingPeriodStart'][:7]} ({month['status']}): actual {month['actualCost']}, estimate {month['estimatedCost']}, "
                            f"idle {month['idleCost']} (GPU {month['idleGpuCost']}), untagged {month['untaggedCost']}, "
                            f"unallocated {month['unallocatedCost']}", title_justify="left")
        for column in ("team", "actual", "allocated", "idle", "idle GPU", "other", "estimate", "variance"):
            table.add_column(column, justify="left" if column == "team" else "right")
        for team in month["teams"]:
            table.add_row(team["team"], team["actualCost"], team["allocatedCost"], team["idleCost"], team["idleGpuCost"], team["otherCost"],
                          team["estimatedCost"] or "-", team["variance"] or "-")
        console.print(table)
        if not month["splitCostAllocationData"]:
            console.print("no split cost allocation data this month: shared nodes are billed to their owner. Switch it on in the Billing "
                          "console (Cost Management preferences, split cost allocation data, Amazon EKS).")


def _finance_of(report: Report) -> FinanceReport:
    assert report.finance is not None, "run() requires Team in --by for CSV and HTML"
    return report.finance


def _emit(text: str, out: str | None) -> None:
    if out:
        write_atomic(out, text)
    else:
        sys.stdout.write(text)


def run(args: argparse.Namespace) -> int:
    from mlp.plan import planned_or_loaded
    from mlp.usage import load_usage

    # The command line first: a bad option is reported before any file is read.
    if bool(args.state) == bool(args.stack):
        raise UserError("command line", "give either a STATE.json file or --stack STACK", key="STATE")
    start, end = _default_period(date.today())
    start = args.start if args.start is not None else start
    end = args.end if args.end is not None else end
    if end <= start:
        raise UserError("command line", f"must be after --start ({start})", key="--end")
    if args.format == "table" and args.out:
        raise UserError("command line", "the table is for the terminal; give --format json, csv or html with --out", key="--out")
    group_keys = tuple(key.strip() for key in args.by.split(",") if key.strip())
    if not group_keys:
        raise UserError("command line", "expected tag keys like Team,Component", key="--by")
    if args.source == "athena" and group_keys != DEFAULT_GROUP_KEYS:
        raise UserError("command line", "the report from the export is by Team and Component at once; leave --by out or give Team,Component",
                        key="--by")
    if args.source == "cost-explorer" and args.format in ("csv", "html") and "Team" not in group_keys:
        raise UserError("command line", f"the {args.format.upper()} report is by team: include Team in --by", key="--format")
    usage = load_usage(args.usage, usage_schemas()) if args.usage else None
    resources = planned_or_loaded(args.state, args.stack)
    check_group_keys(group_keys, resources)
    environment = _environment_of(resources)
    if not environment:
        raise UserError(args.state or args.stack, "no resource carries an Environment tag; cannot select its spend", key="Environment")
    region = region_of(resources) or "us-east-1"
    project = next((r.tags["Project"] for r in resources if r.tags.get("Project")), "mlplatform")
    if args.source == "athena":
        return _run_athena(args, resources, usage, environment, region, project, start, end)
    report = build_report(resources, environment, start, end, group_keys, usage, _clients(region, args.endpoint_url),
                          args.cluster or _cluster_of(resources), budget_prefix=f"{project}-{environment}-")
    if usage is not None:
        usage.check_every_entry_matched()

    if args.format == "json":
        _emit(json.dumps(report.as_json(), indent=2) + "\n", args.out)
    elif args.format == "csv":
        _emit(render_csv(_finance_of(report)), args.out)
    elif args.format == "html":
        _emit(render_html(_finance_of(report)), args.out)
    else:
        _render_table(report, output_console())
    return 0


def _run_athena(args, resources, usage, environment: str, region: str, project: str, start: date, end: date) -> int:
    from components.billing import athena_names

    names = athena_names(project)
    athena_region = args.athena_region or (region if any(r.type == "aws:athena/workgroup:Workgroup" for r in resources) else None)
    if athena_region is None:
        from mlp import PROJECT_ROOT

        athena_region = billing_owner_region(PROJECT_ROOT / "stacks")
    if athena_region is None:
        raise UserError("command line", "no stack owns the billing exports (budgets.activateCostAllocationTags); give the region of "
                        "their Athena workgroup", key="--athena-region")
    estimates, catalogue = joint_estimates(resources, usage)
    if usage is not None:
        usage.check_every_entry_matched()
    deadline = aws.Deadline(aws.SETTINGS.deadline_seconds)
    athena = aws.client("athena", athena_region, args.endpoint_url, deadline=deadline)
    report = from_athena(athena, args.athena_workgroup or names["workgroup"], args.athena_database or names["database"],
                         args.athena_table or names["table"], environment, start, end, estimates, catalogue, catalogue.currency)
    if args.format == "json":
        _emit(json.dumps(report.as_json(), indent=2) + "\n", args.out)
    elif args.format == "csv":
        _emit(render_csv(report), args.out)
    elif args.format == "html":
        _emit(render_html(report), args.out)
    else:
        _render_finance_table(report, output_console())
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("report", help="actual spend by cost tag beside the estimate, untagged spend, idle GPUs, budgets")
    parser.add_argument("state", nargs="?", help="stack-export or `pulumi preview --json` document of the stack")
    parser.add_argument("--stack", help="plan this stack offline instead of reading a document")
    parser.add_argument("--start", type=iso_date, help="first day, YYYY-MM-DD (default: first day of last month)")
    parser.add_argument("--end", type=iso_date, help="day after the last, YYYY-MM-DD (default: first day of this month)")
    parser.add_argument("--by", default=",".join(DEFAULT_GROUP_KEYS), help="cost tags to group by (default Team,Component)")
    parser.add_argument("--usage", help="usage file for the estimate (default: none)")
    parser.add_argument("--cluster", help="EKS cluster whose GPU agent metrics to read (default: from the document)")
    parser.add_argument("--source", choices=("cost-explorer", "athena"), default="cost-explorer",
                        help="Cost Explorer (default), or the CUR 2.0 export with split cost allocation data through Athena")
    parser.add_argument("--format", choices=("table", "json", "csv", "html"), default="table",
                        help="csv: FOCUS column names, one row per month and team/component/kind; html: a self-contained page with charts")
    parser.add_argument("--out", help="write the report to this file (all at once) instead of standard output")
    parser.add_argument("--athena-workgroup", help="Athena workgroup of the billing exports (default: <project>-billing)")
    parser.add_argument("--athena-database", help="Glue database of the billing exports (default: <project>_billing)")
    parser.add_argument("--athena-table", help="Glue table of the CUR 2.0 export (default: cur2)")
    parser.add_argument("--athena-region", help="region of the billing exports' workgroup (default: that of the stack that owns them)")
    parser.add_argument("--endpoint-url", help="AWS endpoint override (tests, private endpoints)")
    parser.set_defaults(handler=run)
