"""Cost-control settings: budgets for the environment and its teams, and who hears about them."""

from __future__ import annotations

from typing import Annotated, Optional

from pydantic import Field, field_validator, model_validator

from components.config.base import Bool, Int, Number, Pairs, Section, Unique, matching, section
from components.config.errors import Invalid

EmailAddress = matching(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", "an email address")
# AWS Budgets notifies at most this many addresses per notification.
MAX_ALERT_EMAILS = 10


@section
class BudgetsConfig(Section):
    """AWS Budgets over the cost tags: one for the environment, one per team that has a limit."""

    monthly_limit: Number = Field(ge=1.0, description="Monthly budget of the whole environment (USD).")
    team_monthly_limits: Pairs[str, Annotated[Number, Field(ge=1.0)]] = Field(default=(), description="Monthly budget (USD) by team; each at most monthlyLimit.")
    actual_alert_percents: Unique[Annotated[Int, Field(ge=1, le=1000)]] = Field(
        default=(80, 100),
        min_length=1,
        description="Alert when actual spend passes these percentages of a budget.",
    )
    forecast_alert_percent: Optional[Int] = Field(default=100, ge=1, le=1000, description="Alert when forecast spend passes this percentage of a budget.")
    alert_emails: Unique[EmailAddress] = Field(min_length=1, description=f"Who is alerted (at most {MAX_ALERT_EMAILS} addresses).")
    activate_cost_allocation_tags: Bool = Field(
        default=False,
        description="Whether this stack activates the cost-allocation tags; an account-wide setting that exactly one stack of an account owns.",
    )

    @field_validator("alert_emails")
    @classmethod
    def _few_enough(cls, emails: tuple[str, ...]) -> tuple[str, ...]:
        if len(emails) > MAX_ALERT_EMAILS:
            raise Invalid(f"AWS Budgets notifies at most {MAX_ALERT_EMAILS} addresses, got {len(emails)}")
        return emails

    @model_validator(mode="after")
    def _teams_within_the_environment(self) -> "BudgetsConfig":
        for team, limit in self.team_monthly_limits:
            if limit > self.monthly_limit:
                raise Invalid(f"must be <= monthlyLimit ({self.monthly_limit:g}), got {limit:g}", "teamMonthlyLimits", team)
        return self
