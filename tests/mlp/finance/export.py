"""A synthetic CUR 2.0 export of realistic shape, and the report's own Athena SQL run over it.

Two billing periods of daily line items for an EKS account with split cost allocation data (AWS
Data Exports table dictionary, CUR 2.0 and its split line item columns): a GPU node and a CPU
node that the platform team owns (Karpenter tags them so), split among the pods of three teams,
a kube-system pod without labels and capacity no pod used; S3, NAT and SageMaker spend tagged by
team and component; a volume without a Team tag; tax without any tag; and another environment's
spend that must not count. September is invoiced (final), October not yet (estimated).

DuckDB runs the exact query `mlp report --source athena` sends (two dialect shims: Trino's
`date_format` and `element_at` on maps are DuckDB's `strftime` and `map_extract_value`), and its
answer is what the tests seed moto's Athena with.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from mlp.finance.athena import RESULT_COLUMNS

ACCOUNT = "123456789012"
CENT = Decimal("0.01")
MONTHS = (date(2026, 9, 1), date(2026, 10, 1))
GPU_NODE, CPU_NODE = "i-0gpu000000000001", "i-0cpu000000000002"
NODE_TAGS = {"user_environment": "prod", "user_team": "ml-platform", "user_component": "compute", "user_cost_center": "CC-4200-ML-PROD"}
NODES = {  # node -> (instance type, daily cost, [(pod labels, split ratio)])
    GPU_NODE: ("g5.12xlarge", Decimal("136.51"), [
        ({"team": "vision", "component": "notebooks"}, Decimal("0.25")),
        ({"team": "vision", "component": "compute"}, Decimal("0.40")),
        ({}, Decimal("0.05")),  # kube-system: no cost labels
    ]),
    CPU_NODE: ("m6i.2xlarge", Decimal("9.22"), [
        ({"team": "forecasting", "component": "compute"}, Decimal("0.30")),
        ({"team": "recommendations", "component": "notebooks"}, Decimal("0.20")),
        ({"environment": "prod", "component": "compute"}, Decimal("0.10")),  # labelled but no team: unallocated
    ]),
}
DIRECT = (  # (product code, product name, tags, daily cost)
    ("AmazonS3", "Amazon Simple Storage Service", {"user_environment": "prod", "user_team": "ml-platform", "user_component": "datalake"}, Decimal("12.40")),
    ("AmazonVPC", "Amazon Virtual Private Cloud", {"user_environment": "prod", "user_team": "ml-platform", "user_component": "network"}, Decimal("3.24")),
    ("AmazonSageMaker", "Amazon SageMaker", {"user_environment": "prod", "user_team": "vision", "user_component": "endpoints"}, Decimal("27.65")),
    ("AmazonEC2", "Amazon Elastic Compute Cloud", {"user_environment": "prod", "user_component": "notebooks"}, Decimal("1.10")),  # no Team
    ("AmazonEC2", "Amazon Elastic Compute Cloud", {"user_environment": "staging", "user_team": "vision", "user_component": "compute"}, Decimal("40.00")),
    ("AmazonEKS", "Amazon Elastic Kubernetes Service", {"user_environment": "prod", "user_team": "ml-platform", "user_component": "compute"}, Decimal("2.40")),
)
TAX = Decimal("31.07")  # once a month, no resource, no tags


def _days(first: date) -> list[date]:
    following = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return [first + timedelta(days=i) for i in range((following - first).days)]


def _line(first: date, day: date, invoice: str, product: str, name: str, tags: dict, cost: Decimal, **extra) -> dict:
    following = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return {
        "bill_billing_period_start_date": datetime.combine(first, datetime.min.time()),
        "bill_billing_period_end_date": datetime.combine(following, datetime.min.time()),
        "bill_invoice_id": invoice, "bill_payer_account_id": ACCOUNT, "line_item_usage_account_id": ACCOUNT,
        "line_item_line_item_type": extra.pop("line_item_type", "Usage"),
        "line_item_usage_start_date": datetime.combine(day, datetime.min.time()),
        "line_item_usage_end_date": datetime.combine(day + timedelta(days=1), datetime.min.time()),
        "line_item_product_code": product, "line_item_usage_type": extra.pop("usage_type", "USW2-Usage"),
        "line_item_resource_id": extra.pop("resource_id", None), "line_item_currency_code": "USD",
        "line_item_unblended_cost": float(cost), "line_item_net_unblended_cost": float(extra.pop("net", cost)),
        "pricing_public_on_demand_cost": float(cost), "product": {"product_name": name, "region": "us-west-2"},
        "product_instance_type": extra.pop("instance_type", None), "resource_tags": tags,
        "split_line_item_parent_resource_id": None, "split_line_item_split_usage_ratio": None,
        "split_line_item_split_cost": None, "split_line_item_unused_cost": None,
        "split_line_item_net_split_cost": None, "split_line_item_net_unused_cost": None,
        "billing_period": first.strftime("%Y-%m"), **extra,
    }


def line_items() -> list[dict]:
    """Every line item of both periods, CUR 2.0 column names and types."""
    items = []
    for first in MONTHS:
        invoice = "EUINUS26-0912345" if first == MONTHS[0] else ""
        for day in _days(first):
            for node, (instance_type, cost, pods) in NODES.items():
                items.append(_line(first, day, invoice, "AmazonEC2", "Amazon Elastic Compute Cloud", NODE_TAGS, cost, resource_id=node,
                                   instance_type=instance_type, usage_type=f"USW2-BoxUsage:{instance_type}"))
                used = sum(ratio for _, ratio in pods)
                for i, (labels, ratio) in enumerate(pods):
                    split = (cost * ratio).quantize(CENT)
                    unused = (cost * (1 - used) * ratio / used).quantize(CENT)
                    tags = {f"user_mlplatform_io_{key}": value for key, value in labels.items()}
                    if labels.get("team"):
                        tags["user_mlplatform_io_environment"] = "prod"
                    tags["aws_eks_cluster_name"] = "mlplatform-prod-eks"
                    pod = _line(first, day, invoice, "AmazonEC2", "Amazon Elastic Compute Cloud", tags, Decimal(0),
                                resource_id=f"arn:aws:eks:us-west-2:{ACCOUNT}:pod/mlplatform-prod-eks/ns/pod-{node[-1]}{i}",
                                usage_type="USW2-EKS-EC2-vCPU-Hours", net=Decimal(0))
                    pod.update(split_line_item_parent_resource_id=node, split_line_item_split_usage_ratio=float(ratio),
                               split_line_item_split_cost=float(split), split_line_item_unused_cost=float(unused),
                               split_line_item_net_split_cost=float(split), split_line_item_net_unused_cost=float(unused))
                    items.append(pod)
            for product, name, tags, cost in DIRECT:
                net = (cost * Decimal("0.9")).quantize(CENT) if product == "AmazonSageMaker" else cost  # a savings plan's discount
                items.append(_line(first, day, invoice, product, name, tags, cost, resource_id=f"{product.lower()}-resource", net=net))
        items.append(_line(first, first, invoice, "AWSTax", "Tax", {}, TAX, line_item_type="Tax"))
    return items


def expected_actual(items: list[dict], month: date, environment: str = "prod") -> Decimal:
    """Ground truth without the report's logic: the environment's line items, pods excluded
    (their cost is their node's), counted once."""
    total = Decimal(0)
    for item in items:
        if item["billing_period"] != month.strftime("%Y-%m") or item["split_line_item_parent_resource_id"]:
            continue
        tags = item["resource_tags"]
        if (tags.get("user_mlplatform_io_environment") or tags.get("user_environment")) == environment:
            total += Decimal(str(item["line_item_unblended_cost"]))
    return total


def run_report_query(query: str, items: list[dict]) -> list[list[str]]:
    """The report's query over the export in DuckDB: the header and rows as Athena returns text."""
    import duckdb

    connection = duckdb.connect()
    connection.execute("CREATE MACRO date_format(ts, fmt) AS strftime(ts, fmt)")
    connection.execute('CREATE SCHEMA "mlplatform_billing"')
    connection.execute("""CREATE TABLE "mlplatform_billing"."cur2" (
        bill_billing_period_start_date TIMESTAMP, bill_billing_period_end_date TIMESTAMP, bill_invoice_id VARCHAR, bill_payer_account_id VARCHAR,
        line_item_usage_account_id VARCHAR, line_item_line_item_type VARCHAR, line_item_usage_start_date TIMESTAMP, line_item_usage_end_date TIMESTAMP,
        line_item_product_code VARCHAR, line_item_usage_type VARCHAR, line_item_resource_id VARCHAR, line_item_currency_code VARCHAR,
        line_item_unblended_cost DOUBLE, line_item_net_unblended_cost DOUBLE, pricing_public_on_demand_cost DOUBLE,
        product MAP(VARCHAR, VARCHAR), product_instance_type VARCHAR, resource_tags MAP(VARCHAR, VARCHAR),
        split_line_item_parent_resource_id VARCHAR, split_line_item_split_usage_ratio DOUBLE, split_line_item_split_cost DOUBLE,
        split_line_item_unused_cost DOUBLE, split_line_item_net_split_cost DOUBLE, split_line_item_net_unused_cost DOUBLE,
        billing_period VARCHAR)""")
    columns = list(items[0])
    connection.executemany(f'INSERT INTO "mlplatform_billing"."cur2" ({", ".join(columns)}) VALUES ({", ".join("?" for _ in columns)})',
                           [[item[column] for column in columns] for item in items])
    result = connection.execute(query.replace("element_at(", "map_extract_value("))
    header = [column[0] for column in result.description]
    assert tuple(header) == RESULT_COLUMNS
    return [header] + [["" if value is None else str(value) for value in row] for row in result.fetchall()]


def athena_answer(rows: list[list[str]]) -> dict:
    """What moto's `/moto-api/static/athena/query-results` takes: one result of these rows."""
    return {"account_id": ACCOUNT, "region": "us-west-2", "results": [{
        "rows": [{"Data": [{"VarCharValue": value} for value in row]} for row in rows],
        "column_info": [{"Name": name, "Label": name, "Type": "varchar", "CatalogName": "hive", "SchemaName": "", "TableName": "",
                         "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": True} for name in rows[0]],
    }]}
