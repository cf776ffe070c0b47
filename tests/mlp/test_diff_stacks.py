"""Several stacks in one comment: a summary with a grand total, unchanged stacks collapsed to a
line, each stack priced with its own usage files (`usage.<NAME>.yaml` by directory)."""

from __future__ import annotations

import json

from mlp.cli import main
from mlp.diff.markdown import MAX_DETAIL_CHARS
from tests.mlp.cost.documents import export, resource


def write(path, document: dict) -> str:
    path.write_text(json.dumps(document))
    return str(path)


def stacks(tmp_path):
    """dev unchanged; prod gains a NAT gateway and its usage doubles its repository's storage."""
    dev = export(resource("aws:ec2/natGateway:NatGateway", "nat"))
    prod = export(resource("aws:ec2/natGateway:NatGateway", "nat"), resource("aws:ecr/repository:Repository", "images"))
    prod_head = export(resource("aws:ec2/natGateway:NatGateway", "nat"), resource("aws:ecr/repository:Repository", "images"),
                       resource("aws:ec2/natGateway:NatGateway", "nat-b"))
    for side, storage in (("base", 100), ("head", 200)):
        (tmp_path / side).mkdir()
        (tmp_path / side / "usage.prod.yaml").write_text(f"version: 0.1\nresource_usage:\n  images:\n    storage_gb: {storage}\n")
    return ["--pair", "dev", write(tmp_path / "dev-base.json", dev), write(tmp_path / "dev-head.json", dev),
            "--pair", "prod", write(tmp_path / "prod-base.json", prod), write(tmp_path / "prod-head.json", prod_head),
            "--base-usage-dir", str(tmp_path / "base"), "--head-usage-dir", str(tmp_path / "head"), "--on", "2026-01-01"]


def test_one_summary_with_a_grand_total_and_unchanged_stacks_on_one_line(tmp_path, capsys):
    assert main(["diff", *stacks(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    # dev $32.85 both sides; prod $32.85 + $10.00 -> $32.85 x 2 + $20.00 (a NAT gateway and 100 GB more).
    assert lines[0] == "### All stacks: monthly cost $75.70 → $118.55 (+$42.85)"
    assert "| `dev` | $32.85 | $32.85 | no change | ±$0.00 | ±$0.00 | - |" in lines
    assert "| `prod` | $42.85 | $85.70 | +$42.85 | +$42.85 | +$42.85 | - |" in lines
    assert "| **total** | **$75.70** | **$118.55** | **+$42.85** | +$42.85 | +$42.85 | |" in lines
    assert "**Stack `dev`**: no change · $32.85 a month (floor $32.85, ceiling $32.85)" in lines
    assert "### Stack `prod`: monthly cost $42.85 → $85.70 (+$42.85, +100.0%)" in lines
    assert not any(line.startswith("### Stack `dev`") for line in lines)
    assert "Usage file changes: `resource_usage.images.storage_gb` 100 → 200" in lines
    assert lines[-1].startswith("<sub>mlp diff ")


def test_json_lists_every_stack_and_the_total(tmp_path, capsys):
    assert main(["diff", *stacks(tmp_path), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in report["stacks"]] == ["dev", "prod"]
    assert report["total"] == {"base": {"totalMonthlyCost": "75.70", "totalFloorMonthlyCost": "75.70", "totalCeilingMonthlyCost": "75.70"},
                               "head": {"totalMonthlyCost": "118.55", "totalFloorMonthlyCost": "118.55", "totalCeilingMonthlyCost": "118.55"},
                               "monthlyCostChange": "42.85"}
    usage = {s["name"]: (s["baseUsageFile"], s["headUsageFile"]) for s in report["metadata"]["stacks"]}
    assert usage == {"dev": ("(no usage file)", "(no usage file)"),
                     "prod": (str(tmp_path / "base" / "usage.prod.yaml"), str(tmp_path / "head" / "usage.prod.yaml"))}


def test_the_total_can_trip_a_guardrail(tmp_path, capsys):
    assert main(["diff", *stacks(tmp_path), "--fail-above-usd", "40"]) == 3
    err = capsys.readouterr().err.splitlines()
    assert err == ["mlp diff: guardrail tripped: stack `prod`: expected monthly cost rises +$42.85, more than $40",
                   "mlp diff: guardrail tripped: all stacks: expected monthly cost rises +$42.85, more than $40"]


def test_pairs_and_positional_documents_do_not_mix(tmp_path, capsys):
    document = write(tmp_path / "a.json", export())
    assert main(["diff", document, document, "--pair", "dev", document, document]) == 2
    assert "give either BASE HEAD or --pair NAME BASE HEAD" in capsys.readouterr().err
    assert main(["diff", "--pair", "dev", document, document, "--usage", "x.yaml"]) == 2
    assert "with --pair, give usage files by directory" in capsys.readouterr().err


def test_the_readme_example_comment_is_a_real_mlp_diff_of_prod():
    from mlp import PROJECT_ROOT

    text = (PROJECT_ROOT / "docs" / "examples" / "pr-comment.md").read_text()
    assert "### All stacks: monthly cost" in text and "| **total** |" in text
    assert "**Stack `dev`**: no change" in text
    assert "will be **replaced (deleted and created again)** because `instanceTypes[0]`" in text
    assert "Usage file changes: `resource_usage.mlplatform-cluster-nodepools-pool-gpu.monthly_node_hrs` 1200 → 2400" in text
    assert 'spec.limits["nvidia.com/gpu"]: 64 → 128' in text
    assert len(text) < 3 * MAX_DETAIL_CHARS + 20_000
