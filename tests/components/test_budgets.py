"""Cost controls per stack: budgets select spend by the cost tags and alert people and a topic."""

import json

import pytest

from components.tagging import REQUIRED_TAG_KEYS
from tests.conftest import planned


def _budgets(stack):
    return {b.inputs["name"]: b for b in planned(stack).run.by_type("aws:budgets/budget:Budget")}


def test_an_environment_budget_and_one_per_configured_team(stack):
    plan = planned(stack)
    prefix = plan.config.name_prefix
    budgets = _budgets(stack)
    expected = {f"{prefix}-environment"} | {f"{prefix}-team-{team}" for team, _ in plan.config.budgets.team_monthly_limits}
    assert set(budgets) == expected
    environment = budgets[f"{prefix}-environment"].inputs
    assert environment["limitAmount"] == f"{plan.config.budgets.monthly_limit:.2f}" and environment["timeUnit"] == "MONTHLY"
    assert environment["filterExpression"] == {"tags": {"key": "Environment", "values": [stack], "matchOptions": ["EQUALS"]}}
    for team, limit in plan.config.budgets.team_monthly_limits:
        budget = budgets[f"{prefix}-team-{team}"].inputs
        assert budget["limitAmount"] == f"{limit:.2f}"
        assert [clause["tags"] for clause in budget["filterExpression"]["ands"]] == [
            {"key": "Environment", "values": [stack], "matchOptions": ["EQUALS"]},
            {"key": "Team", "values": [team], "matchOptions": ["EQUALS"]},
        ]
        assert budget["tags"]["Team"] == team


def test_alerts_reach_people_and_the_topic(stack):
    plan = planned(stack)
    (topic,) = [t for t in plan.run.by_type("aws:sns/topic:Topic") if t.inputs["name"] == f"{plan.config.name_prefix}-budget-alerts"]
    for budget in _budgets(stack).values():
        notifications = budget.inputs["notifications"]
        actual = sorted(n["threshold"] for n in notifications if n["notificationType"] == "ACTUAL")
        assert actual == sorted(float(p) for p in plan.config.budgets.actual_alert_percents)
        assert [n["threshold"] for n in notifications if n["notificationType"] == "FORECASTED"] == [float(plan.config.budgets.forecast_alert_percent)]
        for notification in notifications:
            assert notification["subscriberEmailAddresses"] == list(plan.config.budgets.alert_emails)
            assert notification["subscriberSnsTopicArns"] == [topic.outputs["arn"]]
    (policy,) = [p for p in plan.run.by_type("aws:sns/topicPolicy:TopicPolicy") if p.inputs["arn"] == topic.outputs["arn"]]
    # AWS Budgets and, for the billing exports' anomaly alerts, Cost Anomaly Detection may publish.
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    budgets_statement, anomalies_statement = statements["AwsBudgetsPublish"], statements["CostAnomalyDetectionPublish"]
    assert budgets_statement["Principal"] == {"Service": "budgets.amazonaws.com"} and budgets_statement["Resource"] == topic.outputs["arn"]
    assert anomalies_statement["Principal"] == {"Service": "costalerts.amazonaws.com"} and anomalies_statement["Resource"] == topic.outputs["arn"]


@pytest.mark.parametrize("stack,activated", [("dev", False), ("staging", False), ("prod", True)])
def test_one_stack_owns_cost_allocation_tag_activation(stack, activated):
    tags = planned(stack).run.by_type("aws:costexplorer/costAllocationTag:CostAllocationTag")
    assert sorted(t.inputs["tagKey"] for t in tags) == (sorted(REQUIRED_TAG_KEYS) if activated else [])
    assert all(t.inputs["status"] == "Active" for t in tags)


def test_report_finds_the_budgets_by_name_prefix():
    """`mlp report` selects an environment's budgets by `<project>-<environment>-`."""
    plan = planned("prod")
    assert all(name.startswith(f"{plan.config.project}-prod-") for name in _budgets("prod"))


def _provider_metrics() -> set[str]:
    """The metric names the installed pulumi-aws documents for `Budget.metrics`."""
    import re

    import pulumi_aws as aws

    doc = aws.budgets.BudgetArgs.metrics.fget.__doc__
    return set(re.findall(r"`(\w+)`", doc.split("Valid values are", 1)[1].split(".")[0]))


def test_filter_expressions_come_with_the_metrics_the_provider_requires(stack):
    # pulumi-aws 7 refuses `filter_expression` without `metrics`: the mocks would not notice.
    assert "UnblendedCost" in _provider_metrics()
    for budget in _budgets(stack).values():
        assert "filterExpression" in budget.inputs
        assert budget.inputs.get("metrics") in _provider_metrics()
        assert "costTypes" not in budget.inputs  # conflicts with metrics


def test_alerts_are_encrypted_with_a_key_only_aws_budgets_publishes_with(stack):
    plan = planned(stack)
    (topic,) = [t for t in plan.run.by_type("aws:sns/topic:Topic") if t.inputs["name"] == f"{plan.config.name_prefix}-budget-alerts"]
    (key,) = [k for k in plan.run.by_type("aws:kms/key:Key") if k.outputs["arn"] == topic.inputs.get("kmsMasterKeyId")]
    assert key.inputs["enableKeyRotation"] is True
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    budgets = statements["AwsBudgetsPublishesEncrypted"]
    assert budgets["Principal"] == {"Service": "budgets.amazonaws.com"}
    assert budgets["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}, "ArnLike": {"aws:SourceArn": "arn:aws:budgets::123456789012:*"}}
    # The topic policy names the same source: only this account's budgets publish.
    (policy,) = [p for p in plan.run.by_type("aws:sns/topicPolicy:TopicPolicy") if p.inputs["arn"] == topic.outputs["arn"]]
    statement = next(s for s in json.loads(policy.inputs["policy"])["Statement"] if s["Sid"] == "AwsBudgetsPublish")
    assert statement["Condition"] == budgets["Condition"]
