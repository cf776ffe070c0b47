"""CloudWatch on the bill: log ingestion, storage and Insights queries, and alarms."""

from __future__ import annotations

from decimal import Decimal

from mlp.cost.core import NUMBER, CostComponent, pricer, to_decimal


@pricer("aws:cloudwatch/logGroup:LogGroup", storage_gb=NUMBER, monthly_data_ingested_gb=NUMBER, monthly_data_scanned_gb=NUMBER)
def _log_group(resource, usage, ctx):
    price = ctx.catalogue.price
    return [
        CostComponent("Data ingested", "GB", price("cloudwatch", "logsIngestGb"), to_decimal(usage.get("monthly_data_ingested_gb")), usage_based=True),
        CostComponent("Archival storage", "GB-months", price("cloudwatch", "logsStorageGbMonth"), to_decimal(usage.get("storage_gb")), usage_based=True),
        CostComponent("Insights queries data scanned", "GB", price("cloudwatch", "logsScannedGb"), to_decimal(usage.get("monthly_data_scanned_gb")), usage_based=True),
    ]


@pricer("aws:cloudwatch/metricAlarm:MetricAlarm")
def _metric_alarm(resource, usage, ctx):
    return [CostComponent("Standard resolution alarm", "alarm-months", ctx.catalogue.price("cloudwatch", "alarmMonth"), Decimal(1))]
