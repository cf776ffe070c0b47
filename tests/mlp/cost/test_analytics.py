"""Athena: a workgroup is free, its queries are billed by the terabytes they scan."""

from __future__ import annotations

from tests.mlp.cost.documents import cost_of, export, resource, usd


def test_a_workgroup_costs_the_data_its_queries_scan(tmp_path):
    workgroup = resource("aws:athena/workgroup:Workgroup", "billing", {"configuration": {"bytesScannedCutoffPerQuery": 10_000_000_000}})
    cost = cost_of(export(workgroup), "billing", {"resource_usage": {"billing": {"monthly_data_scanned_tb": 0.5}}}, tmp_path)
    assert cost.monthly_cost == usd("0.5") * usd("5.00")
    assert cost.fixed_cost == 0 and [c.usage_key for c in cost.components] == ["monthly_data_scanned_tb"]
    idle = cost_of(export(workgroup), "billing")
    assert idle.monthly_cost == 0 and not idle.price_not_found  # no queries, nothing billed; never "not priced"
