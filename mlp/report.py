"""`mlp report`: what each team, environment and component actually cost, beside the estimate.

Actual spend comes from AWS Cost Explorer grouped by the cost-allocation tags; the estimate for
the same period from `mlp cost` on the stack's state; spend that lacks a tag is shown as such
(finance needs to see what cannot be allocated); idle GPU cost comes from the GPU agent's
CloudWatch metrics priced with the catalogue; budgets from AWS Budgets.

    mlp report STATE.json | --stack STACK [--start YYYY-MM-DD] [--end YYYY-MM-DD] [--by Team,Component]
               [--usage F.yaml] [--format table|json|csv]
"""

from __future__ import annotations

import argparse
import csv
import io
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
from mlp.prices import HOURS_PER_MONTH
from mlp.spend import BudgetLine, IdleGpuLine, account_id, budgets, idle_gpus, spend_by_tag
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
        }


def build_report(resources, environment: str, start: date, end: date, group_keys: tuple[str, ...], usage, clients: dict,
                 cluster: str | None, budget_prefix: str) -> Report:
    estimated = estimate(resources, usage, group_keys=group_keys)
    report = Report(environment, start, end, estimated.catalogue.currency)
    scale = report.hours / HOURS_PER_MONTH  # the estimate is per 730-hour month

    account_wide = spend_by_tag(clients["ce"], start, end, "Environment", None)
    report.spend_without_environment_tag = account_wide.get("", ZERO)
    estimated_groups = estimated.groups()
    for key in group_keys:
        actual = {value or UNTAGGED: amount for value, amount in spend_by_tag(clients["ce"], start, end, key, environment).items()}
        report.untagged[key] = actual.get(UNTAGGED, ZERO)
        estimates = {value: entry["monthly"] * scale for value, entry in estimated_groups.get(key, {}).items()}
        values = sorted(set(actual) | set(estimates), key=lambda v: (-(actual.get(v, ZERO)), v))
        report.groups[key] = [GroupLine(value, actual.get(value, ZERO), estimates.get(value)) for value in values]
    if cluster:
        report.idle = idle_gpus(clients["cloudwatch"], cluster, start, end, estimated.catalogue)
    report.budgets = budgets(clients["budgets"], account_id(clients["sts"]), name_prefix=budget_prefix)
    return report


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


def _render_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "key", "value", "actualCost", "estimatedCost", "difference"])
    data = report.as_json()
    for key, lines in data["groups"].items():
        for line in lines:
            writer.writerow(["group", key, line["value"], line["actualCost"], line["estimatedCost"] or "", line["difference"] or ""])
    for line in data["idleGpus"]:
        writer.writerow(["idle-gpu", line["nodePool"], line["instanceType"], line["idleCost"] or "", "", ""])
    return out.getvalue()


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
    group_keys = tuple(key.strip() for key in args.by.split(",") if key.strip())
    if not group_keys:
        raise UserError("command line", "expected tag keys like Team,Component", key="--by")
    usage = load_usage(args.usage, usage_schemas()) if args.usage else None
    resources = planned_or_loaded(args.state, args.stack)
    check_group_keys(group_keys, resources)
    environment = _environment_of(resources)
    if not environment:
        raise UserError(args.state or args.stack, "no resource carries an Environment tag; cannot select its spend", key="Environment")
    region = region_of(resources) or "us-east-1"
    project = next((r.tags["Project"] for r in resources if r.tags.get("Project")), "mlplatform")
    report = build_report(resources, environment, start, end, group_keys, usage, _clients(region, args.endpoint_url),
                          args.cluster or _cluster_of(resources), budget_prefix=f"{project}-{environment}-")
    if usage is not None:
        usage.check_every_entry_matched()

    if args.format == "json":
        print(json.dumps(report.as_json(), indent=2))
    elif args.format == "csv":
        sys.stdout.write(_render_csv(report))
    else:
        _render_table(report, output_console())
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
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")
    parser.add_argument("--endpoint-url", help="AWS endpoint override (tests, private endpoints)")
    parser.set_defaults(handler=run)
