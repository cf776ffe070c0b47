"""The CUR 2.0 export through Athena: one query per report, grouped in Athena (a month can have
millions of line items), allocated here.

Tags in CUR 2.0 are the `resource_tags` map, keyed `user_<tag key>` with the key normalised the way
CUR has always named tag columns (camel case split by `_`, every other character than a letter or
digit an `_`, lower case): the `Team` tag is `user_team`, the pod label `mlplatform.io/team`
that split cost allocation data imports is `user_mlplatform_io_team`. A pod's labels win over
the tags of what it ran on.

Shared nodes: the query marks the line items of EC2 instances that split cost allocation data
split among pods (`node`) and the pods' split line items (`parent`). A node's own cost is then
replaced by its pods' split cost (allocated to the pod's team) and unused cost (idle, by the pods'
share); what the pods' shares do not cover (hours without pods, pods of no environment such as
kube-system) stays with the node's own tags. Every dollar of the environment lands in one line.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable, Iterator

from mlp.aws import AnswerError, amount, api_name, call, need, pages
from mlp.errors import UserError
from mlp.finance.model import CENT, NO_COMPONENT, UNALLOCATED_TEAM, UNTAGGED_TEAM, ZERO, Month

TAG_KEYS = {"environment": ("mlplatform.io/environment", "Environment"), "team": ("mlplatform.io/team", "Team"),
            "component": ("mlplatform.io/component", "Component")}
# The columns the query returns, in order; the reader checks the answer's header against them.
RESULT_COLUMNS = ("period_start", "invoice_id", "service", "environment", "team", "component", "node_id", "parent_id", "instance_type",
                  "cost", "net_cost", "split_cost", "net_split_cost", "unused_cost", "net_unused_cost")
# CUR 2.0 columns the query reads (components/billing.py exports and declares them).
QUERY_COLUMNS = ("bill_billing_period_start_date", "bill_invoice_id", "line_item_product_code", "product", "resource_tags",
                 "line_item_resource_id", "split_line_item_parent_resource_id", "product_instance_type", "line_item_unblended_cost",
                 "line_item_net_unblended_cost", "split_line_item_split_cost", "split_line_item_net_split_cost",
                 "split_line_item_unused_cost", "split_line_item_net_unused_cost")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_WORKGROUP = re.compile(r"[A-Za-z0-9._-]{1,128}")
_ENVIRONMENT = re.compile(r"[A-Za-z0-9_.:/=+@ -]{1,256}")
POLL_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)


def cur_tag_key(key: str) -> str:
    """`Team` -> `user_team`, `mlplatform.io/team` -> `user_mlplatform_io_team`, `CostCenter` -> `user_cost_center`."""
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key)
    return "user_" + re.sub(r"[^A-Za-z0-9]+", "_", snake).strip("_").lower()


def _tag(name: str) -> str:
    # element_at, not resource_tags[...]: Athena's subscript fails on a key the map lacks.
    keys = [f"NULLIF(element_at(resource_tags, '{cur_tag_key(key)}'), '')" for key in TAG_KEYS[name]]
    return f"COALESCE({', '.join(keys)}, '')"


def months_between(start: date, end: date) -> list[date]:
    """First days of the billing periods that overlap [start, end)."""
    first = start.replace(day=1)
    found = []
    while first < end:
        found.append(first)
        first = _next_month(first)
    return found


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def build_query(database: str, table: str, environment: str, start: date, end: date) -> str:
    for what, value, pattern in (("--athena-database", database, _NAME), ("--athena-table", table, _NAME)):
        if not pattern.fullmatch(value):
            raise UserError("command line", f"expected a Glue name (letters, digits, '_'), got {value!r}", key=what)
    if not _ENVIRONMENT.fullmatch(environment) or "'" in environment:
        raise UserError("command line", f"not a tag value: {environment!r}", key="Environment")
    periods = months_between(start, end)
    first, last = periods[0].strftime("%Y-%m"), periods[-1].strftime("%Y-%m")
    return f"""WITH lines AS (
  SELECT
    date_format(bill_billing_period_start_date, '%Y-%m-%d') AS period_start,
    COALESCE(bill_invoice_id, '') AS invoice_id,
    COALESCE(element_at(product, 'product_name'), line_item_product_code, '') AS service,
    {_tag('environment')} AS environment,
    {_tag('team')} AS team,
    {_tag('component')} AS component,
    COALESCE(line_item_resource_id, '') AS resource_id,
    COALESCE(split_line_item_parent_resource_id, '') AS parent_id,
    COALESCE(product_instance_type, '') AS instance_type,
    COALESCE(line_item_unblended_cost, 0) AS cost,
    COALESCE(line_item_net_unblended_cost, line_item_unblended_cost, 0) AS net_cost,
    COALESCE(split_line_item_split_cost, 0) AS split_cost,
    COALESCE(split_line_item_net_split_cost, split_line_item_split_cost, 0) AS net_split_cost,
    COALESCE(split_line_item_unused_cost, 0) AS unused_cost,
    COALESCE(split_line_item_net_unused_cost, split_line_item_unused_cost, 0) AS net_unused_cost
  FROM "{database}"."{table}"
  WHERE billing_period BETWEEN '{first}' AND '{last}'
),
nodes AS (SELECT DISTINCT period_start, parent_id FROM lines WHERE parent_id <> '')
SELECT
  l.period_start, min(l.invoice_id) AS invoice_id, l.service, l.environment, l.team, l.component,
  CASE WHEN n.parent_id IS NULL THEN '' ELSE l.resource_id END AS node_id, l.parent_id, max(l.instance_type) AS instance_type,
  sum(l.cost) AS cost, sum(l.net_cost) AS net_cost, sum(l.split_cost) AS split_cost, sum(l.net_split_cost) AS net_split_cost,
  sum(l.unused_cost) AS unused_cost, sum(l.net_unused_cost) AS net_unused_cost
FROM lines l
LEFT JOIN nodes n ON l.parent_id = '' AND n.period_start = l.period_start AND n.parent_id = l.resource_id
WHERE l.environment IN ('{environment}', '')
GROUP BY 1, 3, 4, 5, 6, 7, 8
ORDER BY 1, 3, 4, 5, 6, 7, 8"""


# --- running it -------------------------------------------------------------------------------


def run_query(athena, query: str, workgroup: str, database: str, sleep: Callable[[float], None] = time.sleep) -> Iterator[dict[str, str]]:
    """Start the query in the workgroup (whose settings decide where results go and how much it
    may scan), wait for it, and yield its rows as column -> text."""
    if not _WORKGROUP.fullmatch(workgroup):
        raise UserError("command line", f"expected an Athena workgroup name, got {workgroup!r}", key="--athena-workgroup")
    started = call(athena, "start_query_execution", QueryString=query, WorkGroup=workgroup, QueryExecutionContext={"Database": database})
    start_api = api_name(athena, "start_query_execution")
    execution_id = need(started, "QueryExecutionId", str, start_api, "")
    api = api_name(athena, "get_query_execution")
    for attempt in range(10_000):  # bounded by the command's AWS deadline long before this
        status = need(need(call(athena, "get_query_execution", QueryExecutionId=execution_id), "QueryExecution", dict, api, ""),
                      "Status", dict, api, "QueryExecution")
        state = need(status, "State", str, api, "QueryExecution.Status")
        if state == "SUCCEEDED":
            break
        if state in ("FAILED", "CANCELLED"):
            reason = str(status.get("StateChangeReason") or "no reason given")[:300]
            raise AnswerError(api, "QueryExecution.Status", f"the query {state.lower()}: {reason}")
        if state not in ("QUEUED", "RUNNING"):
            raise AnswerError(api, "QueryExecution.Status.State", f"expected QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED, got {state[:30]!r}")
        sleep(POLL_SECONDS[min(attempt, len(POLL_SECONDS) - 1)])
    yield from _rows(athena, execution_id)


def _rows(athena, execution_id: str) -> Iterator[dict[str, str]]:
    api = api_name(athena, "get_query_results")
    header: list[str] | None = None
    for answer in pages(athena, "get_query_results", QueryExecutionId=execution_id):
        result = need(answer, "ResultSet", dict, api, "")
        for i, row in enumerate(need(result, "Rows", list, api, "ResultSet", optional=True)):
            where = f"ResultSet.Rows[{i}]"
            cells = need(row, "Data", list, api, where)
            values = [cell.get("VarCharValue", "") if isinstance(cell, dict) else None for cell in cells]
            if any(not isinstance(value, str) for value in values):
                raise AnswerError(api, f"{where}.Data", "expected cells with text values")
            if header is None:  # Athena's first row of a SELECT is the column names
                header = values
                if tuple(header) != RESULT_COLUMNS:
                    raise AnswerError(api, f"{where}", f"expected the columns {', '.join(RESULT_COLUMNS)}, got {', '.join(header)[:200]}")
                continue
            if len(values) != len(header):
                raise AnswerError(api, f"{where}.Data", f"expected {len(header)} cells, got {len(values)}")
            yield dict(zip(header, values))
    if header is None:
        raise AnswerError(api, "ResultSet.Rows", "no header row: not the answer of the report's query")


# --- allocating -------------------------------------------------------------------------------


@dataclass
class _Node:
    team: str
    component: str
    instance_type: str
    cost: Decimal = ZERO
    net_cost: Decimal = ZERO
    service: str = ""
    covered: Decimal = ZERO  # what its pods' split and unused costs account for
    net_covered: Decimal = ZERO


def _period(text: str, api: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise AnswerError(api, field, f"expected a date like 2026-10-01, got {text[:20]!r}") from None


def allocate(rows: Iterator[dict[str, str]], environment: str, is_gpu: Callable[[str], bool]) -> list[Month]:
    """The months of the answer, every dollar of `environment` in one line (see the module's doc)."""
    api = "Athena GetQueryResults"
    months: dict[date, Month] = {}
    invoiced: dict[date, bool] = {}
    nodes: dict[tuple[date, str], _Node] = {}
    pods: list[tuple[date, dict[str, Any]]] = []
    for i, row in enumerate(rows):
        where = f"row {i + 1}"
        start = _period(row["period_start"], api, f"{where}.period_start")
        month = months.setdefault(start, Month(start, _next_month(start), final=True))
        invoiced[start] = invoiced.get(start, True) and bool(row["invoice_id"])
        figures = {name: amount(row[name] or "0", api, f"{where}.{name}") for name in RESULT_COLUMNS[9:]}
        if not row["environment"]:
            if not row["parent_id"]:  # a pod without labels is part of its node's cost, not account spend
                month.without_environment += figures["cost"]
            continue
        if row["parent_id"]:
            pods.append((start, {**row, **figures}))
            month.split_data = True
            continue
        if row["node_id"]:
            node = nodes.setdefault((start, row["node_id"]), _Node(row["team"], row["component"], row["instance_type"], service=row["service"]))
            node.cost += figures["cost"]
            node.net_cost += figures["net_cost"]
            continue
        _direct(month, row["team"], row["component"], figures["cost"], figures["net_cost"], row["service"])
    for start, pod in pods:
        month = months[start]
        node = nodes.get((start, pod["parent_id"]))
        gpu = is_gpu(node.instance_type) if node else False
        service = node.service if node else "Amazon Elastic Compute Cloud"
        if node:
            node.covered += pod["split_cost"] + pod["unused_cost"]
            node.net_covered += pod["net_split_cost"] + pod["net_unused_cost"]
        if not pod["team"]:
            month.line(UNALLOCATED_TEAM, pod["component"] or NO_COMPONENT, "unallocated").add(
                pod["split_cost"] + pod["unused_cost"], pod["net_split_cost"] + pod["net_unused_cost"], service)
            continue
        component = pod["component"] or NO_COMPONENT
        month.line(pod["team"], component, "allocated").add(pod["split_cost"], pod["net_split_cost"], service)
        idle = month.line(pod["team"], component, "idle")
        idle.add(pod["unused_cost"], pod["net_unused_cost"], service)
        if gpu:
            idle.idle_gpu += pod["unused_cost"]
    for (start, _), node in nodes.items():
        # What the pods' shares do not cover stays with the node's own tags (may round to cents).
        _direct(months[start], node.team, node.component, node.cost - node.covered, node.net_cost - node.net_covered, node.service)
    for start, month in months.items():
        month.final = invoiced[start]
        month.split_data = bool(month.split_data)
        # Finance reports cents: each line is rounded once, and every total is a sum of lines,
        # so the month, its teams and its team x component cells add up to the cent.
        for line in month.lines:
            line.billed, line.effective, line.idle_gpu = (value.quantize(CENT, ROUND_HALF_UP) for value in (line.billed, line.effective, line.idle_gpu))
            line.services = {name: value.quantize(CENT, ROUND_HALF_UP) for name, value in line.services.items()}
        month.without_environment = month.without_environment.quantize(CENT, ROUND_HALF_UP)
        month.lines = [line for line in month.lines if line.billed or line.effective or line.idle_gpu]
    return [months[start] for start in sorted(months)]


def _direct(month: Month, team: str, component: str, cost: Decimal, net_cost: Decimal, service: str) -> None:
    if team:
        month.line(team, component or NO_COMPONENT, "allocated").add(cost, net_cost, service)
    else:
        month.line(UNTAGGED_TEAM, component or NO_COMPONENT, "untagged").add(cost, net_cost, service)
