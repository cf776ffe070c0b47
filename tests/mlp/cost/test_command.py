"""The `mlp cost` command: real Pulumi documents, real stacks, and every kind of bad input."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from mlp.cli import main
from mlp.cost import estimate, usage_schemas
from mlp.queues import queue_ceilings
from mlp.usage import load_usage
from tests.conftest import run_mlp
from tests.mlp.cost.documents import export, resource

FIXTURES = Path(__file__).resolve().parents[4] / "shared" / "fixtures" / "pulumi"
STACKS_DIR = Path(__file__).resolve().parents[3] / "stacks"


@pytest.mark.parametrize("name", ["sample-export.json", "sample-preview-creates.json", "sample-preview-update.json", "sample-preview-deletes.json"])
def test_real_pulumi_documents_are_estimated(name):
    done = run_mlp("cost", str(FIXTURES / name), "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    if name == "sample-export.json":  # from the resources' ARNs: the default provider has no region input
        assert (report["region"], report["regionAssumed"]) == ("eu-west-1", False)
    else:  # a preview knows no outputs: the region is assumed, and says so
        assert (report["region"], report["regionAssumed"]) == ("us-east-1", True)
    # The bucket and its Lambda (the only priced types); a preview's deleted Lambda costs nothing.
    priced_types = sorted(r["type"] for r in report["resources"])
    expected = ["aws:s3/bucket:Bucket"] if name == "sample-preview-deletes.json" else ["aws:lambda/function:Function", "aws:s3/bucket:Bucket"]
    assert priced_types == expected
    # eu-west-1 ships no catalogue: every price is "not found", never a silent $0.
    assert all(r["priceNotFound"] is (name == "sample-export.json") for r in report["resources"])
    assert report["totalMonthlyCost"] == "0.00"


def test_cost_of_a_stack_plans_it_first(plan_of):
    done = run_mlp("cost", "--stack", "dev", "--usage", "stacks/usage.dev.yaml", "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["region"] == "us-east-1"
    assert {g["value"] for g in report["groups"]["Environment"]} == {"dev"}
    expected = estimate(plan_of("dev").resources, load_usage(STACKS_DIR / "usage.dev.yaml", usage_schemas()))
    assert report["totalMonthlyCost"] == str(expected.total.quantize(Decimal("0.01")))
    assert report["summary"]["priceNotFoundResources"] == 0 and report["usageFile"] == "stacks/usage.dev.yaml"
    # Each team's queue at its ceiling, the figures config validation holds prod to.
    ceilings = {c.team: c for c in queue_ceilings(plan_of("dev").config)}
    queues = {q["team"]: q for q in report["teamQueues"]}
    assert set(queues) == set(ceilings) == {"forecasting", "vision"}
    for team, queue in queues.items():
        assert queue["monthlyCeiling"] == f"{ceilings[team].monthly:.2f}"
        assert Decimal(queue["monthlyCeiling"]) == sum(Decimal(p["monthlyCeiling"]) for p in queue["pools"])
        assert queue["overBudget"] is (Decimal(queue["monthlyCeiling"]) > Decimal(queue["monthlyBudget"]))
    gpu = next(p for p in queues["vision"]["pools"] if p["unit"] == "GPU")
    assert Decimal(gpu["monthlyCeiling"]) == gpu["ceiling"] * Decimal(gpu["hourlyPerUnit"]) * 730


def test_cost_of_a_stack_shows_each_team_queue_and_a_document_cannot(tmp_path, plan_of):
    table = run_mlp("cost", "--stack", "staging")
    assert table.returncode == 0, table.stderr
    assert "Team queues of stack staging" in table.stdout
    for ceiling in queue_ceilings(plan_of("staging").config):
        assert f"${ceiling.monthly:,.2f}" in table.stdout
    # A document carries no budgets, so the queues are not guessed from a stack file.
    document = tmp_path / "staging.json"
    assert run_mlp("plan", "staging", "--out", str(document)).returncode == 0
    done = run_mlp("cost", str(document), "--format", "json")
    assert done.returncode == 0, done.stderr
    assert "teamQueues" not in json.loads(done.stdout)


@pytest.mark.parametrize("content,args,expected", [
    ("{not json", (), "state.json: not valid JSON (line 1, column 2)"),
    ('{"hello": 1}', (), "state.json: neither a stack export"),
    ('{"version": 3, "deployment": {"resources": [{"urn": 1}]}}', (), "state.json: deployment.resources[0].urn"),
    (None, ("--usage", "missing.yaml"), "missing.yaml: no such file"),
    (None, ("--by", ","), "--by: expected one or more tag keys"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, monkeypatch, capsys, content, args, expected):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "state.json").write_text(content if content is not None else json.dumps(export()))
    assert main(["cost", "state.json", *args]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert expected in err


def test_bad_usage_key_exits_2_naming_file_and_key(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "state.json").write_text(json.dumps(export(resource("aws:ec2/natGateway:NatGateway", "nat"))))
    (tmp_path / "usage.yaml").write_text("version: 0.1\nresource_usage:\n  nat:\n    monthly_data_procesed_gb: 10\n")
    assert main(["cost", "state.json", "--usage", "usage.yaml"]) == 2
    assert capsys.readouterr().err.strip() == "mlp cost: usage.yaml: resource_usage.nat.monthly_data_procesed_gb: not a usage key of aws:ec2/natGateway:NatGateway"


def test_no_state_and_no_stack_is_bad_input():
    done = run_mlp("cost")
    assert done.returncode == 2
    assert "either a state file" in done.stderr



def test_a_misspelt_usage_entry_is_an_error_in_cost_and_diff(tmp_path, plan_of):
    state = tmp_path / "dev.json"
    state.write_text(json.dumps(plan_of("dev").document))
    usage = tmp_path / "usage.yaml"
    usage.write_text("version: 0.1\nresource_usage:\n  mlplatform-cluster-nodepools-pool-gpux:\n    monthly_node_hrs: 10\n")
    for args in (("cost", str(state)), ("diff", str(state), str(state))):
        done = run_mlp(*args, "--usage", str(usage))
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1
        assert "resource_usage.mlplatform-cluster-nodepools-pool-gpux" in done.stderr
        assert "did you mean 'mlplatform-cluster-nodepools-pool-gpu'" in done.stderr


def test_grouping_by_a_tag_no_resource_carries_is_an_error(tmp_path, plan_of):
    state = tmp_path / "dev.json"
    state.write_text(json.dumps(plan_of("dev").document))
    done = run_mlp("cost", str(state), "--by", "Teem")
    assert done.returncode == 2 and "'Teem'" in done.stderr and done.stderr.count("\n") == 1
