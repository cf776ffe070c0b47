"""`mlp diff`: added, removed and changed resources by URN, the inputs that changed, and the cost
change expected, at the floor and at the ceiling, overall and per tag."""

from __future__ import annotations

import copy
import json
from datetime import date
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
ON = date(2026, 1, 1)  # 1.33 and 1.34 both in standard support: $73.00 a month


def base_document() -> dict:
    return export(
        resource("aws:eks/cluster:Cluster", "cluster", {"version": "1.33"}, tags={"Component": "compute"}),
        resource("aws:ec2/natGateway:NatGateway", "nat-a", {"subnetId": "a"}, tags={"Component": "network"}),
        resource("aws:ecr/repository:Repository", "old-images", tags={"Component": "registries", "Team": "vision"}),
        resource("aws:iam/role:Role", "role", {"name": "r"}),
    )


def head_document() -> dict:
    document = copy.deepcopy(base_document())
    resources = document["deployment"]["resources"]
    resources[:] = [r for r in resources if not r["urn"].endswith("::old-images")]
    next(r for r in resources if r["urn"].endswith("::cluster"))["inputs"]["version"] = "1.34"
    next(r for r in resources if r["urn"].endswith("::role"))["inputs"]["description"] = "now documented"
    resources.append(resource("aws:ec2/natGateway:NatGateway", "nat-b", {"subnetId": "b"}, tags={"Component": "network"}))
    return document


def diff(base=None, head=None, **kwargs):
    return diff_resources(resources_from_document(base or base_document(), "base.json"), resources_from_document(head or head_document(), "head.json"),
                          on=kwargs.pop("on", ON), **kwargs)


def test_added_removed_and_changed_by_urn_with_the_inputs_that_changed():
    result = diff()
    by_kind = {(c.kind, c.name): c for c in result.changes}
    assert set(by_kind) == {("add", "nat-b"), ("remove", "old-images"), ("change", "cluster"), ("change", "role")}
    cluster = by_kind[("change", "cluster")]
    assert cluster.changed_inputs == ["version"]
    assert [(p.path, p.kind, p.old, p.new, p.replaces) for p in cluster.properties] == [("version", "update", "1.33", "1.34", False)]
    role = by_kind[("change", "role")]
    assert [(p.path, p.kind, p.old, p.new) for p in role.properties] == [("description", "add", None, "now documented")]
    assert by_kind[("add", "nat-b")].cost("head") == Decimal("32.85")
    assert cluster.cost_change == 0


def test_cost_change_overall_and_per_tag():
    result = diff()
    assert result.base.total == Decimal("73.00") + Decimal("32.85")
    assert result.cost_change == Decimal("32.85")
    assert result.change("floor") == result.change("ceiling") == Decimal("32.85")
    assert result.percent == Decimal("31.0")  # 32.85 / 105.85 = 0.3103
    by_component = {row["value"]: row for row in result.by_tag()["Component"]}
    assert by_component["network"]["change"] == Decimal("32.85")
    assert by_component["network"]["ceiling"] == (Decimal("32.85"), Decimal("65.70"))
    assert by_component["registries"]["change"] == 0  # removed, but an empty repository costs nothing
    by_team = {row["value"]: row["change"] for row in result.by_tag()["Team"]}
    assert by_team == {"ml-platform": Decimal("32.85"), "vision": 0}


def test_the_extended_support_date_moves_the_cluster_cost():
    later = diff(on=date(2026, 11, 29))  # 1.33 is in extended support, 1.34 is not yet
    cluster = next(c for c in later.changes if c.name == "cluster")
    assert cluster.cost_change == Decimal("73.00") - Decimal("438.00")
    (line_before, line_after) = [line for line in cluster.lines()]
    assert (line_before.name, line_after.name) == ("EKS cluster (extended support), Kubernetes 1.33", "EKS cluster, Kubernetes 1.34")


def test_identical_documents_have_no_changes():
    result = diff(base_document(), base_document())
    assert result.changes == [] and result.cost_change == 0 and result.percent == 0 and result.unchanged
    assert "No resource changes." in render_markdown(result)


def test_markdown_is_a_pull_request_comment():
    text = render_markdown(diff(), title="Stack dev")
    lines = text.splitlines()
    assert lines[0] == "### Stack dev: monthly cost $105.85 → $138.70 (+$32.85, +31.0%)"
    assert lines[2].startswith("**1 to add, 2 to change, 0 to replace, 1 to remove** · region us-east-1 · prices as of 2025-07-01 · priced on 2026-01-01")
    assert lines[4] == ("Floor (minimum scale) $105.85 → $138.70 (+$32.85) · ceiling (every pool at its limit) $105.85 → $138.70 (+$32.85) · "
                        "fixed $105.85 → $138.70 · usage-based $0.00 → $0.00")
    assert "| Component | before | after | change | floor change | ceiling change |" in lines
    assert "| network | $32.85 | $65.70 | +$32.85 | +$32.85 | +$32.85 |" in lines
    details = lines[lines.index("```diff") + 1: lines.index("```", lines.index("```diff"))]
    assert details[:4] == ["+ nat-b  aws:ec2/natGateway:NatGateway", "    expected +$32.85 · floor +$32.85 · ceiling +$32.85",
                           "    + NAT gateway: expected +$32.85 · floor +$32.85 · ceiling +$32.85",
                           "    + Data processed: expected ±$0.00  [usage: monthly_data_processed_gb]"] or details[:3] == [
        "+ nat-b  aws:ec2/natGateway:NatGateway", "    expected +$32.85 · floor +$32.85 · ceiling +$32.85", "    + NAT gateway: expected +$32.85 · floor +$32.85 · ceiling +$32.85"]
    assert "~ cluster  aws:eks/cluster:Cluster" in details and "    ~ version: 1.33 → 1.34" in details
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
    shown = [line for line in text.splitlines() if line.startswith("~ bucket-with")]
    assert 0 < len(shown) < 400
    assert f"  … and {400 - len(shown)} more resource change(s) (`mlp diff --format json` lists all)" in text.splitlines()
    assert "    … 18 more (`mlp diff --format json` lists all)" in text.splitlines()  # 30 inputs changed, 12 lines shown per resource
    assert text.rstrip().endswith("</details>")


def test_a_new_stack_is_new_spend():
    text = render_markdown(diff(export(), base_document()))
    assert text.splitlines()[0] == "### monthly cost $0.00 → $105.85 (+$105.85, new spend)"


def write(tmp_path, name, document):
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


def test_json_format(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795996800")  # 2026-11-30T00:00:00Z
    monkeypatch.setenv("MLP_TOOL_VERSION", "abc123")
    assert main(["diff", write(tmp_path, "base.json", base_document()), write(tmp_path, "head.json", head_document()), "--format", "json", "--by", "Team",
                 "--on", "2026-01-01"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["currency"] == "USD"
    assert report["base"]["totalMonthlyCost"] == "105.85" and report["head"]["totalMonthlyCost"] == "138.70"
    assert report["monthlyCostChange"] == "32.85" and report["monthlyCostChangePercent"] == "31.0"
    assert report["floorMonthlyCostChange"] == report["ceilingMonthlyCostChange"] == "32.85"
    assert report["summary"] == {"add": 1, "change": 2, "replace": 0, "remove": 1}
    added = next(r for r in report["resources"] if r["change"] == "add")
    assert {k: added[k] for k in ("name", "urn", "type", "tags", "baseMonthlyCost", "headMonthlyCost", "monthlyCostChange", "priceNotFound")} == {
        "name": "nat-b", "urn": NAT, "type": "aws:ec2/natGateway:NatGateway", "tags": {"Team": "ml-platform"},
        "baseMonthlyCost": None, "headMonthlyCost": "32.85", "monthlyCostChange": "32.85", "priceNotFound": False}
    assert added["costComponentChanges"][0] == {"name": "NAT gateway", "usageKey": None, "base": None,
                                                "head": {"expected": "32.85", "floor": "32.85", "ceiling": "32.85"},
                                                "change": {"expected": "32.85", "floor": "32.85", "ceiling": "32.85"}}
    removed = next(r for r in report["resources"] if r["change"] == "remove")
    assert (removed["name"], removed["tags"], removed["headMonthlyCost"]) == ("old-images", {"Team": "vision"}, None)
    changed = {r["name"]: r for r in report["resources"] if r["change"] == "change"}
    assert changed["cluster"]["changedInputs"] == ["version"] and changed["cluster"]["monthlyCostChange"] == "0.00"
    assert changed["cluster"]["propertyChanges"] == [{"path": "version", "kind": "update", "old": "1.33", "new": "1.34", "replaces": False}]
    assert set(report["byTag"]) == {"Team"}
    assert report["byTag"]["Team"][0] == {"value": "ml-platform", "baseMonthlyCost": "105.85", "headMonthlyCost": "138.70", "monthlyCostChange": "32.85",
                                          "floorMonthlyCostChange": "32.85", "ceilingMonthlyCostChange": "32.85"}
    assert report["priceNotFound"] == []
    assert report["metadata"] == {"tool": "mlp diff", "toolVersion": "abc123", "formatVersion": 2, "generatedAt": "2026-11-30T00:00:00Z",
                                  "pricedOn": "2026-01-01", "currency": "USD",
                                  "stacks": [{"name": None, "region": "us-east-1", "priceCatalogue": {
                                      "region": "us-east-1", "asOf": "2025-07-01", "source": load_catalogue("us-east-1").source},
                                      "baseUsageFile": "(no usage file)", "headUsageFile": "(no usage file)"}]}
    assert report["guardrails"] == {"tripped": [], "exitCode": 0}


def test_the_markdown_ends_with_what_made_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795996800")
    monkeypatch.setenv("MLP_TOOL_VERSION", "abc123")
    assert main(["diff", write(tmp_path, "base.json", base_document()), write(tmp_path, "head.json", head_document()), "--on", "2026-01-01"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == ("<sub>mlp diff abc123 · generated 2026-11-30T00:00:00Z · priced on 2026-01-01 · "
                                                         "us-east-1 prices as of 2025-07-01 · USD</sub>")


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
    assert report["summary"] == {"add": custom(prod), "change": 0, "replace": 0, "remove": custom(staging)}
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
    assert report["summary"]["add"] == 0 and report["summary"]["remove"] == 0 and report["summary"]["replace"] == 0
    group = next(r for r in report["resources"] if r["type"] == "aws:eks/nodeGroup:NodeGroup" and r["name"].endswith("-system"))
    assert "scalingConfig" in group["changedInputs"]
    assert {"path": "scalingConfig.desiredSize", "kind": "update", "old": system["desiredSize"] - 1, "new": system["desiredSize"], "replaces": False} in [
        {**p, "old": int(p["old"]), "new": int(p["new"])} for p in group["propertyChanges"] if p["path"] == "scalingConfig.desiredSize"]
    catalogue = load_catalogue("us-east-1")
    node_month = catalogue.instance(system["instanceTypes"][0]).hourly * 730
    if system.get("capacityType") == "SPOT":  # spot is priced as the catalogue's fraction of on-demand
        node_month *= catalogue.price("ec2", "spotToOnDemandRatio")
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
