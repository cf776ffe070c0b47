"""What AWS says was spent: Cost Explorer by cost tag, the GPU agent's CloudWatch metrics, and
budgets. Every answer is read through mlp/aws.py: a missing or nonsensical field is an error
naming the API and the field (exit 1), never a $0.00 line in finance's report."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from components.budgets import COST_METRIC
from mlp.aws import AnswerError, amount, api_name, call, need, pages
from mlp.gpu_agent import NAMESPACE as GPU_NAMESPACE

ZERO = Decimal(0)
CURRENCY = "USD"
_ACCOUNT_ID = re.compile(r"\d{12}")


@dataclass
class PeriodSpend:
    """One result of Cost Explorer's monthly answer: a calendar month, or the part of one the
    report covers, and whether Cost Explorer still calls its figures `Estimated`."""

    start: date
    end: date
    estimated: bool
    totals: dict[str, Decimal]  # tag value -> spend; "" is spend that lacks the tag


def spend_by_tag(ce, start: date, end: date, tag_key: str, environment: str | None) -> dict[str, Decimal]:
    """Spend per value of one tag over [start, end); "" is spend that lacks the tag."""
    totals: dict[str, Decimal] = {}
    for period in monthly_spend_by_tag(ce, start, end, tag_key, environment):
        for value, spent in period.totals.items():
            totals[value] = totals.get(value, ZERO) + spent
    return totals


def _day(value: Any, api: str, field: str) -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise AnswerError(api, field, f"expected a date like 2026-10-01, got {str(value)[:20]!r}")


def monthly_spend_by_tag(ce, start: date, end: date, tag_key: str, environment: str | None) -> list[PeriodSpend]:
    """Spend per month and value of one tag over [start, end), with Cost Explorer's Estimated flag."""
    request: dict[str, Any] = {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "Granularity": "MONTHLY",
        "Metrics": [COST_METRIC],
        "GroupBy": [{"Type": "TAG", "Key": tag_key}],
    }
    if environment:
        request["Filter"] = {"Tags": {"Key": "Environment", "Values": [environment], "MatchOptions": ["EQUALS"]}}
    api = api_name(ce, "get_cost_and_usage")
    periods_seen: dict[tuple[date, date], PeriodSpend] = {}
    for answer in pages(ce, "get_cost_and_usage", token="NextPageToken", **request):
        # Cost Explorer answers one result per month of the period, even a month without spend:
        # an answer without any is broken, not $0.
        periods = need(answer, "ResultsByTime", list, api, "")
        if not periods:
            raise AnswerError(api, "ResultsByTime", "expected one result per month of the period, got none")
        for i, period in enumerate(periods):
            where = f"ResultsByTime[{i}]"
            span = need(period, "TimePeriod", dict, api, where)
            key = (_day(span.get("Start"), api, f"{where}.TimePeriod.Start"), _day(span.get("End"), api, f"{where}.TimePeriod.End"))
            estimated = period.get("Estimated", False)
            if not isinstance(estimated, bool):
                raise AnswerError(api, f"{where}.Estimated", f"expected true or false, got {str(estimated)[:20]!r}")
            # A period's groups may continue on the next page: one entry per period.
            found = periods_seen.setdefault(key, PeriodSpend(key[0], key[1], estimated, {}))
            found.estimated = found.estimated or estimated
            totals = found.totals
            for j, group in enumerate(need(period, "Groups", list, api, where)):
                group_where = f"{where}.Groups[{j}]"
                keys = need(group, "Keys", list, api, group_where)
                if len(keys) != 1 or not isinstance(keys[0], str) or not keys[0].startswith(f"{tag_key}$"):
                    raise AnswerError(api, f"{group_where}.Keys", f"expected ['{tag_key}$<value>'], got {str(keys)[:60]}")
                value = keys[0].split("$", 1)[1]  # "Team$vision" -> "vision"; "Team$" -> untagged
                metric = need(need(group, "Metrics", dict, api, group_where), COST_METRIC, dict, api, f"{group_where}.Metrics")
                metric_where = f"{group_where}.Metrics.{COST_METRIC}"
                unit = metric.get("Unit")
                if unit is not None and unit != CURRENCY:
                    raise AnswerError(api, f"{metric_where}.Unit", f"expected {CURRENCY}, got {str(unit)[:20]!r}")
                totals[value] = totals.get(value, ZERO) + amount(metric.get("Amount"), api, f"{metric_where}.Amount")
    return [periods_seen[key] for key in sorted(periods_seen)]


@dataclass
class IdleGpuLine:
    node_pool: str
    instance_type: str
    gpu_hours: Decimal
    idle_gpu_hours: Decimal
    price_per_gpu_hour: Decimal | None

    @property
    def idle_cost(self) -> Decimal | None:
        return None if self.price_per_gpu_hour is None else self.idle_gpu_hours * self.price_per_gpu_hour

    @property
    def idle_share(self) -> Decimal:
        return ZERO if not self.gpu_hours else self.idle_gpu_hours / self.gpu_hours


def _metric_sum(cloudwatch, name: str, dimensions: list[dict], start: date, end: date, statistic: str = "Sum") -> Decimal:
    api = api_name(cloudwatch, "get_metric_statistics")
    answer = call(cloudwatch, "get_metric_statistics", Namespace=GPU_NAMESPACE, MetricName=name, Dimensions=dimensions,
                  StartTime=start.isoformat(), EndTime=end.isoformat(), Period=86400, Statistics=[statistic])
    points = [amount(point.get(statistic) if isinstance(point, dict) else None, api, f"Datapoints[{i}].{statistic}", minimum=ZERO)
              for i, point in enumerate(need(answer, "Datapoints", list, api, "", optional=True))]
    if statistic == "Average":
        return sum(points, ZERO) / len(points) if points else ZERO
    return sum(points, ZERO)


def idle_gpus(cloudwatch, cluster: str, start: date, end: date, catalogue) -> list[IdleGpuLine]:
    """GPU-hours and idle GPU-hours per pool and instance type, from the GPU agent's windows."""
    api = api_name(cloudwatch, "list_metrics")
    lines = []
    seen: set[tuple] = set()
    for answer in pages(cloudwatch, "list_metrics", Namespace=GPU_NAMESPACE, MetricName="IdleGPUs",
                        Dimensions=[{"Name": "ClusterName", "Value": cluster}]):
        for i, metric in enumerate(need(answer, "Metrics", list, api, "")):
            where = f"Metrics[{i}]"
            dimensions = need(metric, "Dimensions", list, api, where)
            named = {}
            for j, dimension in enumerate(dimensions):
                named[need(dimension, "Name", str, api, f"{where}.Dimensions[{j}]")] = need(dimension, "Value", str, api, f"{where}.Dimensions[{j}]")
            identity = tuple(sorted(named.items()))
            if identity in seen:  # a metric is listed once per dimension set; be robust to repeats
                continue
            seen.add(identity)
            # Each data point is one window; the agent publishes the window's length beside it.
            window_hours = (_metric_sum(cloudwatch, "PublishPeriodSeconds", dimensions, start, end, "Average") or Decimal(60)) / Decimal(3600)
            instance = catalogue.instance(named.get("InstanceType", "")) if catalogue else None
            price = instance.hourly / instance.gpus if instance and instance.gpus and instance.hourly is not None else None
            lines.append(IdleGpuLine(
                node_pool=named.get("NodePool", "?"),
                instance_type=named.get("InstanceType", "?"),
                gpu_hours=_metric_sum(cloudwatch, "GPUs", dimensions, start, end) * window_hours,
                idle_gpu_hours=_metric_sum(cloudwatch, "IdleGPUs", dimensions, start, end) * window_hours,
                price_per_gpu_hour=price,
            ))
    return sorted(lines, key=lambda line: (line.node_pool, line.instance_type))


@dataclass
class BudgetLine:
    name: str
    limit: Decimal
    actual: Decimal | None  # None: AWS has not calculated it yet (a new budget), not $0
    forecast: Decimal | None

    @property
    def percent_used(self) -> Decimal | None:
        if self.actual is None:
            return None
        return ZERO if not self.limit else 100 * self.actual / self.limit


def _spend(spend: dict, key: str, api: str, where: str) -> Decimal | None:
    entry = spend.get(key)
    if entry is None:
        return None
    return amount(need(spend, key, dict, api, where).get("Amount"), api, f"{where}.{key}.Amount")


def budgets(budgets_client, account_id: str, name_prefix: str) -> list[BudgetLine]:
    api = api_name(budgets_client, "describe_budgets")
    lines = []
    for answer in pages(budgets_client, "describe_budgets", AccountId=account_id):
        for i, budget in enumerate(need(answer, "Budgets", list, api, "", optional=True)):
            where = f"Budgets[{i}]"
            name = need(budget, "BudgetName", str, api, where)
            if not name.startswith(name_prefix):
                continue
            limit = need(budget, "BudgetLimit", dict, api, where)
            spend = need(budget, "CalculatedSpend", dict, api, where, optional=True)
            lines.append(BudgetLine(
                name=name,
                limit=amount(limit.get("Amount"), api, f"{where}.BudgetLimit.Amount", minimum=ZERO),
                actual=_spend(spend, "ActualSpend", api, f"{where}.CalculatedSpend"),
                forecast=_spend(spend, "ForecastedSpend", api, f"{where}.CalculatedSpend"),
            ))
    return sorted(lines, key=lambda line: line.name)


def account_id(sts) -> str:
    api = api_name(sts, "get_caller_identity")
    account = need(call(sts, "get_caller_identity"), "Account", str, api, "")
    if not _ACCOUNT_ID.fullmatch(account):
        raise AnswerError(api, "Account", f"expected a 12-digit account id, got {account[:20]!r}")
    return account
