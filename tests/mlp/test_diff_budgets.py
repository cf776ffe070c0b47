"""Budgets as guardrails: the stack's own budgets (read from its `aws:budgets/budget:Budget`
resources) against the new expected and ceiling cost, and the options that fail CI (exit 3)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from mlp.cli import main
from mlp.diff import diff_resources
from mlp.diff.budgets import budgets_of
from mlp.state import resources_from_document
from tests.mlp.cost.documents import export, gpu_pool, node_class, resource

ON = date(2026, 1, 1)
POOL_CEILING = Decimal("4.096") * 730 + 100 * Decimal("0.08")  # one g5.16xlarge and its disk, all month


def tag(key: str, value: str) -> dict:
    return {"tags": {"key": key, "values": [value], "matchOptions": ["EQUALS"]}}


def budget(name: str, limit: str, **filters) -> dict:
    return resource("aws:budgets/budget:Budget", name, {"name": name, "budgetType": "COST", "timeUnit": "MONTHLY", "limitAmount": limit, "limitUnit": "USD", **filters})


def document(*extra: dict) -> dict:
    return export(
        resource("aws:eks/cluster:Cluster", "cluster"),
        resource("aws:ec2/natGateway:NatGateway", "nat"),
        resource("aws:ecr/repository:Repository", "images", tags={"Team": "vision"}),
        node_class(), gpu_pool({"nvidia.com/gpu": "1"}),
        budget("dev", "200.00", filterExpression=tag("Environment", "dev")),
        budget("dev-vision", "10.00", filterExpression={"ands": [tag("Environment", "dev"), tag("Team", "vision")]}),
        budget("platform", "50", costFilters={"TagKeyValue": ["user:Team$ml-platform"]}),
        budget("compute-service", "10", filterExpression={"dimensions": {"key": "SERVICE", "values": ["Amazon Elastic Compute Cloud - Compute"]}}),
        *extra,
    )


def resources(doc: dict) -> list:
    return resources_from_document(doc, "doc.json")


def test_budgets_are_read_from_the_stacks_budget_resources():
    budgets, skipped = budgets_of(resources(document()))
    assert [(b.name, b.limit, b.scope) for b in budgets] == [
        ("dev", Decimal("200.00"), "Environment=dev"),
        ("platform", Decimal("50"), "Team=ml-platform"),
        ("dev-vision", Decimal("10.00"), "Environment=dev, Team=vision"),
    ]
    assert skipped == ["compute-service: filters on more than cost tags"]


def test_each_budget_against_the_expected_and_ceiling_cost_it_covers(tmp_path):
    usage = tmp_path / "usage.yaml"
    usage.write_text("version: 0.1\nresource_usage:\n  images:\n    storage_gb: 50\n")
    from mlp.cost import usage_schemas
    from mlp.usage import load_usage

    result = diff_resources(resources(document()), resources(document()), usage=load_usage(usage, usage_schemas()), on=ON)
    checks = {check.budget.name: check for check in result.budgets}
    # The environment: control plane $73, NAT $32.85, repository $5; the GPU pool adds only to the ceiling.
    assert checks["dev"].expected == Decimal("110.85") and checks["dev"].ceiling == Decimal("110.85") + POOL_CEILING
    assert checks["dev"].status == "ceiling over"
    assert (checks["dev-vision"].expected, checks["dev-vision"].ceiling, checks["dev-vision"].status) == (Decimal("5.00"), Decimal("5.00") + POOL_CEILING, "ceiling over")
    assert (checks["platform"].expected, checks["platform"].status) == (Decimal("105.85"), "over")
    assert checks["platform"].as_json() == {"budget": "platform", "scope": {"Team": ["ml-platform"]}, "limit": "50.00", "unit": "USD", "baseMonthlyCost": "105.85",
                                            "headMonthlyCost": "105.85", "headCeilingMonthlyCost": "105.85", "status": "over"}


def write(tmp_path, name: str, doc: dict) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def test_the_comment_shows_the_budgets():
    from mlp.diff import render_markdown

    text = render_markdown(diff_resources(resources(document()), resources(document()), on=ON))
    assert "| budget | covers | limit | expected before → after | of limit | ceiling after | |" in text
    assert "| `platform` | Team=ml-platform | $50.00 | $105.85 → $105.85 | 212% | $105.85 | ❌ over |" in text
    assert "| `dev` | Environment=dev | $200.00 | $105.85 → $105.85 | 53% | $3,103.93 | ⚠️ ceiling over |" in text


def test_fail_on_budget_exits_3_after_writing_the_comment(tmp_path, capsys):
    base = write(tmp_path, "base.json", document())
    assert main(["diff", base, base, "--on", "2026-01-01"]) == 0
    capsys.readouterr()
    assert main(["diff", base, base, "--on", "2026-01-01", "--fail-on-budget"]) == 3
    out, err = capsys.readouterr()
    trip = "the stack: budget `platform` (Team=ml-platform) of $50.00: expected $105.85, ceiling $105.85"
    assert out.startswith(f"> ⛔ **Guardrail tripped**: {trip}\n")
    assert err.splitlines() == [f"mlp diff: guardrail tripped: {trip}"]
    assert "### monthly cost $105.85 → $105.85" in out
    assert main(["diff", base, base, "--on", "2026-01-01", "--fail-on-budget", "ceiling", "--format", "json"]) == 3
    report = json.loads(capsys.readouterr().out)
    assert len(report["guardrails"]["tripped"]) == 3 and report["guardrails"]["exitCode"] == 3


def test_fail_above_usd_and_percent(tmp_path, capsys):
    base = write(tmp_path, "base.json", document())
    head = write(tmp_path, "head.json", document(resource("aws:ec2/natGateway:NatGateway", "nat-b")))  # +$32.85, +31.0%
    assert main(["diff", base, head, "--on", "2026-01-01", "--fail-above-usd", "40", "--fail-above-percent", "50"]) == 0
    assert main(["diff", base, head, "--on", "2026-01-01", "--fail-above-usd", "30"]) == 3
    assert "the stack: expected monthly cost rises +$32.85, more than $30" in capsys.readouterr().err
    assert main(["diff", base, head, "--on", "2026-01-01", "--fail-above-percent", "20"]) == 3
    assert "the stack: expected monthly cost rises 31.0%, more than 20%" in capsys.readouterr().err
    assert main(["diff", base, head, "--fail-above-usd", "lots"]) == 2
    assert "--fail-above-usd: expected a number, got 'lots'" in capsys.readouterr().err
