"""Query engines over the lake: an Athena workgroup costs nothing; its SQL queries are billed by
the data they scan ($ per TB, each query at least 10 MB), which the usage file states per month
(the billing report's queries scan a few GB; bytesScannedCutoffPerQuery caps any one query)."""

from __future__ import annotations

from mlp.cost.core import NUMBER, CostComponent, pricer, to_decimal


@pricer("aws:athena/workgroup:Workgroup", monthly_data_scanned_tb=NUMBER)
def _workgroup(resource, usage, ctx):
    return [CostComponent("SQL queries: data scanned", "TB", ctx.price("athena", "tbScanned"), to_decimal(usage.get("monthly_data_scanned_tb")),
                          usage_key="monthly_data_scanned_tb")]
