"""CloudWatch figures computed by hand from the catalogue."""

from __future__ import annotations

from tests.mlp.cost.documents import cost_of, export, resource, usd


def test_log_group_ingest_storage_and_queries(tmp_path):
    document = export(resource("aws:cloudwatch/logGroup:LogGroup", "logs"))
    usage = {"resource_usage": {"logs": {"monthly_data_ingested_gb": 10, "storage_gb": 100, "monthly_data_scanned_gb": 200}}}
    assert cost_of(document, "logs", usage, tmp_path).monthly_cost == usd("5.00") + usd("3.00") + usd("1.00")

