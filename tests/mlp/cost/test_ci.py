"""The CI runner's cost, computed by hand from the catalogue: build minutes by compute type, and
nothing while no job runs."""

from __future__ import annotations

import pytest

from tests.mlp.cost.documents import cost_of, export, priced, resource, usd


@pytest.mark.parametrize("compute_type, per_minute", [("BUILD_GENERAL1_SMALL", "0.005"), ("BUILD_GENERAL1_MEDIUM", "0.01"),
                                                      ("BUILD_GENERAL1_LARGE", "0.02")])
def test_build_minutes_are_priced_by_compute_type(compute_type, per_minute, tmp_path):
    project = resource("aws:codebuild/project:Project", "runner", {"environment": {"computeType": compute_type, "type": "LINUX_CONTAINER"}})
    cost = cost_of(export(project), "runner", {"resource_usage": {"runner": {"monthly_build_minutes": 3000}}}, tmp_path)
    assert cost.monthly_cost == 3000 * usd(per_minute)
    assert cost.fixed_cost == 0 and [c.usage_key for c in cost.components] == ["monthly_build_minutes"]


def test_an_idle_runner_costs_nothing_and_its_webhook_is_free(tmp_path):
    project = resource("aws:codebuild/project:Project", "runner", {"environment": {"computeType": "BUILD_GENERAL1_MEDIUM"}})
    webhook = resource("aws:codebuild/webhook:Webhook", "hook", {"projectName": "runner"})
    result = priced(export(project, webhook), None, tmp_path)
    assert not any(c.price_not_found for c in result.costs)
    assert sum(c.monthly_cost for c in result.costs) == 0


def test_a_compute_type_without_a_price_is_flagged_not_zero(tmp_path):
    project = resource("aws:codebuild/project:Project", "runner", {"environment": {"computeType": "BUILD_GENERAL1_2XLARGE"}})
    result = priced(export(project), {"resource_usage": {"runner": {"monthly_build_minutes": 100}}}, tmp_path)
    assert any(c.price_not_found for c in result.costs)
