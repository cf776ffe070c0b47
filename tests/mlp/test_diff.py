"""`mlp diff`: added, removed and changed resources by URN, and the cost change overall and per tag."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest

from mlp.cli import main
from mlp.cost import estimate, money, usage_schemas
from mlp.diff import diff_resources, render_markdown
from mlp.prices import load_catalogue
from mlp.state import resources_from_document
from mlp.usage import load_usage
from tests.mlp.cost.documents import export, resource

NAT = "urn:pulumi:dev::mlplatform::aws:ec2/natGateway:NatGateway::nat-b"


def base_document() -> dict:
    return export(
        resource("aws:eks/cluster:Cluster", "cluster", {"version": "1.30"}, tags={"Component": "compute"}),
        resource("aws:ec2/natGateway:NatGateway", "nat-a", {"subnetId": "a"}, tags={"Component": "network"}),
        resource("aws:ecr/repository:Repository", "old-images", tags={"Component": "registries", "Team": "vision"}),
        resource("aws:iam/role:Role", "role", {"name": "r"}),
    )


def head_document() -> dict:
    document = copy.deepcopy(base_document())
    resources = document["deployment"]["resources"]
    resources[:] = [r for r in resources if not r["urn"].endswith("::old-images")]
    next(r for r in resources if r["urn"].endswith("::cluster"))["inputs"]["version"] = "1.31"
    next(r for r in resources if r["urn"].endswith("::role"))["inputs"]["description"] = "now documented"
    resources.append(resource("aws:ec2/natGateway:NatGateway", "nat-b", {"subnetId": "b"}, tags={"Component": "network"}))
    return document


def diff(base=None, head=None):
    return diff_resources(resources_from_document(base or base_document(), "base.json"), resources_from_document(head or head_document(), "head.json"))


def test_added_removed_and_changed_by_urn():
    result = diff()
    by_kind = {(c.kind, c.name): c for c in result.changes}
    assert set(by_kind) == {("add", "nat-b"), ("remove", "old-images"), ("change", "cluster"), ("change", "role")}
    assert by_kind[("change", "cluster")].changed_inputs == ["version"]
    assert by_kind[("change", "role")].changed_inputs == ["description"]
    assert by_kind[("add", "nat-b")].head_cost == Decimal("32.85")
    assert by_kind[("change", "cluster")].cost_change == 0


def test_cost_change_overall_and_per_tag():
    result = diff()
    assert result.base.total == Decimal("73.00") + Decimal("32.85")
    assert result.cost_change == Decimal("32.85")
    assert result.percent == Decimal("31.0")  # 32.85 / 105.85 = 0.3103
    by_component = {row["value"]: row for row in result.by_tag()["Component"]}
    assert by_component["network"]["change"] == Decimal("32.85")
    assert by_component["registries"]["change"] == 0  # removed, but an empty repository costs nothing
    by_team = {row["value"]: row["change"] for row in result.by_tag()["Team"]}
    assert by_team == {"ml-platform": Decimal("32.85"), "vision": 0}


def test_identical_documents_have_no_changes():
    result = diff(base_document(), base_document())
    assert result.changes == [] and result.cost_change == 0 and result.percent == 0
    assert "No resource changes." in render_markdown(result)


def test_markdown_is_a_pull_request_comment():
    text = render_markdown(diff(), title="Stack dev")
    lines = text.splitlines()
    assert lines[0] == "### Stack dev: monthly cost $105.85 → $138.70 (+$32.85, +31.0%)"
    assert "**1 to add, 2 to change, 1 to remove**" in lines[2]
    assert "| Component | before | after | change |" in lines
    assert "| network | $32.85 | $65.70 | +$32.85 |" in lines
    assert "<details><summary>Resource changes (4)</summary>" in lines
    assert any(line.startswith("| ➕ | `nat-b` | `aws:ec2/natGateway:NatGateway` | - | $32.85 | +$32.85 |") for line in lines)
    assert any("`cluster`" in line and line.endswith("| version |") for line in lines)
    assert lines[-1] == "</details>"


def test_the_details_of_a_large_change_fit_in_a_pull_request_comment_per_stack():
    buckets = [resource("aws:s3/bucket:Bucket", f"bucket-with-a-rather-long-name-{i:04d}", {f"input{k}": k for k in range(30)}) for i in range(400)]
    changed = copy.deepcopy(buckets)
    for bucket in changed:
        bucket["inputs"] = {key: value + 1 for key, value in bucket["inputs"].items()}
    result = diff(export(*buckets), export(*changed))
    text = render_markdown(result, title="Stack prod")
    # CI posts three stacks in one comment; GitHub's limit is 65,536 characters.
    assert len(text) < 65_536 // 3
    assert result.count("change") == 400
    details = [line for line in text.splitlines() if line.startswith("| ✏️ |")]
    assert 0 < len(details) < 400
    assert f"| | ... and {400 - len(details)} more (`mlp diff --format json` lists all) | | | | | |" in text.splitlines()
    assert text.rstrip().endswith("</details>")


def test_a_new_stack_is_new_spend():
    empty = export()
    text = render_markdown(diff(empty, base_document()))
    assert text.splitlines()[0] == "### monthly cost $0.00 → $105.85 (+$105.85, new spend)"


def write(tmp_path, name, document):
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


def test_json_format(tmp_path, capsys):
    assert main(["diff", write(tmp_path, "base.json", base_document()), write(tmp_path, "head.json", head_document()), "--format", "json", "--by", "Team"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["currency"] == "USD"
    assert report["base"]["totalMonthlyCost"] == "105.85" and report["head"]["totalMonthlyCost"] == "138.70"
    assert report["monthlyCostChange"] == "32.85" and report["monthlyCostChangePercent"] == "31.0"
    assert report["summary"] == {"add": 1, "change": 2, "remove": 1}
    added = next(r for r in report["resources"] if r["change"] == "add")
    assert added == {"change": "add", "name": "nat-b", "urn": NAT, "type": "aws:ec2/natGateway:NatGateway", "tags": {"Team": "ml-platform"},
                     "baseMonthlyCost": None, "headMonthlyCost": "32.85", "monthlyCostChange": "32.85", "priceNotFound": False}
    removed = next(r for r in report["resources"] if r["change"] == "remove")
    assert (removed["name"], removed["tags"], removed["headMonthlyCost"]) == ("old-images", {"Team": "vision"}, None)
    changed = {r["name"]: r for r in report["resources"] if r["change"] == "change"}
    assert changed["cluster"]["changedInputs"] == ["version"] and changed["cluster"]["monthlyCostChange"] == "0.00"
    assert set(report["byTag"]) == {"Team"}
    assert report["byTag"]["Team"] == [
        {"value": "ml-platform", "baseMonthlyCost": "105.85", "headMonthlyCost": "138.70", "monthlyCostChange": "32.85"},
        {"value": "vision", "baseMonthlyCost": "0.00", "headMonthlyCost": "0.00", "monthlyCostChange": "0.00"},
    ]
    assert report["priceNotFound"] == []


def test_real_plans_of_two_stacks_diff(plan_of, tmp_path, capsys):
    staging, prod = plan_of("staging"), plan_of("prod")
    assert main(["diff", write(tmp_path, "staging.json", staging.document), write(tmp_path, "prod.json", prod.document), "--usage", "stacks/usage.prod.yaml"]) == 0
    assert capsys.readouterr().out.startswith("### monthly cost $")
    assert main(["diff", str(tmp_path / "staging.json"), str(tmp_path / "prod.json"), "--usage", "stacks/usage.prod.yaml", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    usage = load_usage("stacks/usage.prod.yaml", usage_schemas())
    # Each side is priced on its own region's catalogue (staging us-east-1, prod us-west-2).
    assert report["base"]["totalMonthlyCost"] == money(estimate(staging.resources, usage).total)
    assert report["head"]["totalMonthlyCost"] == money(estimate(prod.resources, usage).total)
    def custom(plan) -> int:
        return sum(r.custom and r.type != "pulumi:pulumi:Stack" for r in plan.resources)

    # URNs carry the stack name: across stacks everything is added or removed.
    assert report["summary"] == {"add": custom(prod), "change": 0, "remove": custom(staging)}
    assert {row["value"] for row in report["byTag"]["Environment"]} == {"staging", "prod"}


def test_a_config_change_of_one_stack_shows_as_changed_inputs_and_cost(plan_of, write_stack, tmp_path, capsys):
    """What CI does: the same stack planned before and after a change of its stack file."""
    from mlp.plan import plan_stack
    from tests.conftest import stack_yaml

    document = stack_yaml("dev")
    system = document["config"]["mlplatform:cluster"]["systemNodeGroup"]
    system["desiredSize"] = system["desiredSize"] + 1
    system["maxSize"] = max(system["maxSize"], system["desiredSize"])
    head = plan_stack("dev", str(write_stack("dev", document)))
    base = plan_of("dev")
    assert main(["diff", write(tmp_path, "base.json", base.document), write(tmp_path, "head.json", head.document), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["add"] == 0 and report["summary"]["remove"] == 0
    group = next(r for r in report["resources"] if r["type"] == "aws:eks/nodeGroup:NodeGroup" and r["name"].endswith("-system"))
    assert "scalingConfig" in group["changedInputs"]
    catalogue = load_catalogue("us-east-1")
    node_month = catalogue.instance(system["instanceTypes"][0]).hourly * 730
    disk_month = Decimal(system["diskSizeGi"]) * catalogue.price("ebs", "gp3", "gbMonth")
    assert Decimal(group["monthlyCostChange"]) == (node_month + disk_month).quantize(Decimal("0.01"))
    assert report["monthlyCostChange"] == group["monthlyCostChange"]
    assert group["tags"]["Component"] == "compute"


@pytest.mark.parametrize("base_text,message", [
    ("[1, 2", "base.json: not valid JSON"),
    ('{"version": 9, "deployment": {}}', "base.json: version: unsupported stack-export version 9"),
])
def test_bad_documents_exit_2_with_one_line(tmp_path, capsys, base_text, message):
    (tmp_path / "base.json").write_text(base_text)
    assert main(["diff", str(tmp_path / "base.json"), write(tmp_path, "head.json", head_document())]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err
