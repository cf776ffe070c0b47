"""KMS figures computed by hand from the catalogue."""

from __future__ import annotations

from tests.mlp.cost.documents import cost_of, export, resource, usd


def test_kms_key_is_a_dollar_a_month_plus_requests(tmp_path):
    document = export(resource("aws:kms/key:Key", "key"))
    assert cost_of(document, "key").monthly_cost == usd("1.00")
    assert cost_of(document, "key", {"resource_usage": {"key": {"monthly_requests": 100_000}}}, tmp_path).monthly_cost == usd("1.30")

