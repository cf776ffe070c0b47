"""Cost controls: monthly budgets per environment and team, alerts, cost-allocation tags.

The alert topic also receives the cost anomaly alerts of the billing exports (components/billing.py).

Budgets select spend by the cost-allocation tags (`Environment`, and `Team` for team budgets),
so they only see spend once those tags are active for billing. Activation is an account-wide
setting: one stack per account owns it (`activateCostAllocationTags`), or the stacks would fight
over it and a `pulumi destroy` of one would switch it off for all.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.config import BudgetsConfig
from components.facts import StackFacts
from components.iam import account_id_of, policy_document, source_condition
from components.keys import service_key
from components.tagging import REQUIRED_TAG_KEYS, CostTagging

COMPONENT = "cost-controls"
# The cost a budget and `mlp report` measure: what AWS bills before discounts are spread.
# pulumi-aws 7 requires `metrics` together with `filter_expression`.
COST_METRIC = "UnblendedCost"


def budgets_source(account_id: str) -> dict:
    """Only AWS Budgets acting for this account's budgets."""
    return source_condition(account_id, f"arn:aws:budgets::{account_id}:*")


def anomaly_alerts_source(account_id: str) -> dict:
    """Only Cost Anomaly Detection acting for this account's anomaly subscriptions."""
    return source_condition(account_id, f"arn:aws:ce::{account_id}:anomalysubscription/*")


def alarms_source(account_id: str) -> dict:
    """Only CloudWatch acting for this account's alarms (the drift alarms of components/monitoring.py)."""
    return source_condition(account_id, f"arn:aws:cloudwatch:*:{account_id}:alarm:*")


# The services that publish to the alert topic: (topic statement Sid, key statement Sid, service,
# the condition that limits it to this account's own budgets, anomaly subscriptions or alarms).
ALERT_PUBLISHERS = (
    ("AwsBudgetsPublish", "AwsBudgetsPublishesEncrypted", "budgets.amazonaws.com", budgets_source),
    # The billing exports' anomaly subscriptions (components/billing.py).
    ("CostAnomalyDetectionPublish", "CostAnomalyDetectionPublishesEncrypted", "costalerts.amazonaws.com", anomaly_alerts_source),
    # Drift alarms (components/monitoring.py).
    ("CloudWatchAlarmsPublish", "CloudWatchAlarmsPublishEncrypted", "cloudwatch.amazonaws.com", alarms_source),
)


def alert_key_statements(account_id: str) -> list[dict]:
    """The publishers encrypt what they publish to the alert topic with the topic's key."""
    return [{"Sid": key_sid, "Effect": "Allow", "Principal": {"Service": service}, "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
             "Resource": "*", "Condition": source(account_id)} for _, key_sid, service, source in ALERT_PUBLISHERS]


def alert_topic_statements(topic_arn: str, account_id: str) -> list[dict]:
    """Each publisher may publish to the alert topic for this account's own sources only."""
    return [{"Sid": topic_sid, "Effect": "Allow", "Principal": {"Service": service}, "Action": "SNS:Publish", "Resource": topic_arn,
             "Condition": source(account_id)} for topic_sid, _, service, source in ALERT_PUBLISHERS]


def _tag_filter(key: str, value: str, nested: bool) -> dict:
    args = aws.budgets.BudgetFilterExpressionAndTagsArgs if nested else aws.budgets.BudgetFilterExpressionTagsArgs
    return args(key=key, values=[value], match_options=["EQUALS"])


class CostControls(pulumi.ComponentResource):
    def __init__(self, name: str, settings: BudgetsConfig, facts: StackFacts, tagging: CostTagging,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:cost-controls:CostControls", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account_id = account_id_of(self)

        if settings.activate_cost_allocation_tags:
            for key in REQUIRED_TAG_KEYS:
                aws.costexplorer.CostAllocationTag(f"{name}-tag-{key.lower()}", tag_key=key, status="Active", opts=child)

        # Alerts go to people by email and to a topic that chat or ticketing can subscribe to. Its
        # messages (spend by team) are encrypted at rest with a key only AWS Budgets publishes with.
        self.alert_key = service_key(
            f"{name}-alerts",
            description=f"Encryption of the {facts.name_prefix} budget alert topic",
            alias=f"{facts.name_prefix}-budget-alerts",
            statements=alert_key_statements,
            deletion_window_days=30,
            tags=tagging.resource_tags(COMPONENT),
            opts=child,
        )
        self.alert_topic = aws.sns.Topic(
            f"{name}-alerts",
            name=f"{facts.name_prefix}-budget-alerts",
            kms_master_key_id=self.alert_key.arn,
            tags=tagging.resource_tags(COMPONENT),
            opts=child,
        )
        aws.sns.TopicPolicy(
            f"{name}-alerts",
            arn=self.alert_topic.arn,
            policy=pulumi.Output.all(self.alert_topic.arn, account_id).apply(lambda args: policy_document(alert_topic_statements(*args))),
            opts=child,
        )

        environment_filter = aws.budgets.BudgetFilterExpressionArgs(tags=_tag_filter("Environment", facts.environment, nested=False))
        self.budgets = {
            "environment": self._budget(f"{name}-environment", f"{facts.name_prefix}-environment", settings.monthly_limit,
                                        environment_filter, tagging.resource_tags(COMPONENT), settings),
        }
        for team, limit in settings.team_monthly_limits:
            team_filter = aws.budgets.BudgetFilterExpressionArgs(ands=[
                aws.budgets.BudgetFilterExpressionAndArgs(tags=_tag_filter("Environment", facts.environment, nested=True)),
                aws.budgets.BudgetFilterExpressionAndArgs(tags=_tag_filter("Team", team, nested=True)),
            ])
            self.budgets[team] = self._budget(f"{name}-team-{team}", f"{facts.name_prefix}-team-{team}", limit, team_filter,
                                              tagging.resource_tags(COMPONENT, team), settings)

        self.alert_topic_arn = self.alert_topic.arn
        self.budget_names = {scope: budget.name for scope, budget in self.budgets.items()}
        self.register_outputs({"alertTopicArn": self.alert_topic_arn, "budgetNames": self.budget_names})

    def _budget(self, resource_name: str, budget_name: str, limit: float, cost_filter, tags: dict, budgets: BudgetsConfig) -> aws.budgets.Budget:
        notifications = [
            aws.budgets.BudgetNotificationArgs(
                comparison_operator="GREATER_THAN", notification_type="ACTUAL", threshold=float(percent), threshold_type="PERCENTAGE",
                subscriber_email_addresses=list(budgets.alert_emails), subscriber_sns_topic_arns=[self.alert_topic.arn],
            )
            for percent in budgets.actual_alert_percents
        ]
        if budgets.forecast_alert_percent is not None:
            notifications.append(aws.budgets.BudgetNotificationArgs(
                comparison_operator="GREATER_THAN", notification_type="FORECASTED", threshold=float(budgets.forecast_alert_percent),
                threshold_type="PERCENTAGE", subscriber_email_addresses=list(budgets.alert_emails),
                subscriber_sns_topic_arns=[self.alert_topic.arn],
            ))
        return aws.budgets.Budget(
            resource_name,
            name=budget_name,
            budget_type="COST",
            limit_amount=f"{limit:.2f}",
            limit_unit="USD",
            time_unit="MONTHLY",
            filter_expression=cost_filter,
            metrics=COST_METRIC,
            notifications=notifications,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
