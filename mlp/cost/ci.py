"""CI on the bill: the CodeBuild-hosted GitHub Actions runner is paid per build minute by compute
type; the project and its webhook cost nothing while no job runs."""

from __future__ import annotations

from mlp.cost.core import NUMBER, CostComponent, pricer, to_decimal


@pricer("aws:codebuild/project:Project", monthly_build_minutes=NUMBER)
def _codebuild_project(resource, usage, ctx):
    compute_type = (resource.inputs.get("environment") or {}).get("computeType", "BUILD_GENERAL1_SMALL")
    price = ctx.price("codebuild", "linuxPerMinute", compute_type)
    return [CostComponent(f"Build minutes ({compute_type})", "minute", price, to_decimal(usage.get("monthly_build_minutes")),
                          usage_key="monthly_build_minutes")]
