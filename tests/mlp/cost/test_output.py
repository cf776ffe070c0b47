"""The formats of `mlp cost`: the JSON contract, CSV and the table."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.conftest import run_mlp
from tests.mlp.cost.documents import export, resource


def _write(tmp_path: Path, document: dict, name: str = "state.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


def test_json_output_has_the_contract_fields(tmp_path):
    state = _write(tmp_path, export(resource("aws:eks/cluster:Cluster", "cluster", tags={"Component": "compute"}), resource("aws:redshift/cluster:Cluster", "dw"),
                                    resource("aws:redshift/cluster:Cluster", "dw2"), resource("aws:ec2/natGateway:NatGateway", "nat", tags={"Component": "network"})))
    usage = tmp_path / "usage.yaml"
    usage.write_text("version: 0.1\nresource_usage:\n  nat:\n    monthly_data_processed_gb: 100\n")
    done = run_mlp("cost", state, "--format", "json", "--by", "Team,Component", "--usage", str(usage), "--on", "2026-11-29")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["currency"] == "USD" and report["pricedOn"] == "2026-11-29"
    # Fixed: the control plane and the NAT hours; usage-based: the NAT's 100 GB.
    assert (report["totalMonthlyCost"], report["totalFixedMonthlyCost"], report["totalUsageMonthlyCost"]) == ("110.35", "105.85", "4.50")
    assert report["totalFloorMonthlyCost"] == report["totalBaselineMonthlyCost"] == "110.35"  # "baseline" kept for old readers
    by_name = {r["name"]: r for r in report["resources"]}
    assert by_name["cluster"]["monthlyCost"] == "73.00"
    assert by_name["cluster"]["costComponents"][0] == {"name": "EKS cluster", "unit": "hours", "price": "0.10", "monthlyQuantity": "730",
                                                       "monthlyCost": "73.00", "priceNotFound": False, "priceRefs": ["eks.clusterHour"], "priceVerified": True}
    processed = by_name["nat"]["costComponents"][1]
    assert (processed["usageBased"], processed["usageKey"], processed["monthlyCost"]) == (True, "monthly_data_processed_gb", "4.50")
    assert (by_name["nat"]["fixedMonthlyCost"], by_name["nat"]["usageMonthlyCost"]) == ("32.85", "4.50")
    assert by_name["dw"]["priceNotFound"] is True and by_name["dw"]["monthlyCost"] is None
    assert report["groups"]["Component"][0] == {"value": "compute", "monthlyCost": "73.00", "fixedMonthlyCost": "73.00", "usageMonthlyCost": "0.00",
                                                "floorMonthlyCost": "73.00", "baselineMonthlyCost": "73.00", "ceilingMonthlyCost": "73.00", "resources": 1,
                                                "priceNotFound": 0}
    assert set(report["groups"]) == {"Team", "Component"}
    assert report["summary"]["priceNotFoundResources"] == 2
    assert report["summary"]["notPricedByType"] == {"aws:redshift/cluster:Cluster": 2}
    assert "kubernetes-versions" in report["eksSupportCalendar"]["source"]


def test_usage_based_lines_say_when_their_key_is_not_set(tmp_path):
    state = _write(tmp_path, export(resource("aws:ec2/natGateway:NatGateway", "nat")))
    report = json.loads(run_mlp("cost", state, "--format", "json").stdout)
    assert report["resources"][0]["costComponents"][1]["usageGiven"] is False
    assert "Data processed (usage: monthly_data_processed_gb, not set)" in run_mlp("cost", state).stdout


def test_csv_and_table_outputs(tmp_path):
    state = _write(tmp_path, export(resource("aws:ec2/natGateway:NatGateway", "nat")))
    rows = list(csv.DictReader(io.StringIO(run_mlp("cost", state, "--format", "csv").stdout)))
    assert rows == [{"name": "nat", "type": "aws:ec2/natGateway:NatGateway", "urn": "urn:pulumi:dev::mlplatform::aws:ec2/natGateway:NatGateway::nat",
                     "Environment": "dev", "Team": "ml-platform", "Component": "platform", "monthlyCost": "32.85", "fixedMonthlyCost": "32.85",
                     "usageMonthlyCost": "0.00", "floorMonthlyCost": "32.85", "baselineMonthlyCost": "32.85", "ceilingMonthlyCost": "32.85", "priceNotFound": "false"}]
    table = run_mlp("cost", state)
    assert table.returncode == 0
    assert ("Total monthly cost: $32.85 (fixed $32.85 + usage-based $0.00; floor $32.85, ceiling $32.85); 1 priced resource(s), 0 free"
            in table.stdout)
    assert "floor: each scaling group at its minimum and each Karpenter pool at zero" in table.stdout
    assert "$0.045 " in table.stdout and "unverified" not in table.stdout  # NAT prices were checked against a source
    kms = run_mlp("cost", _write(tmp_path, export(resource("aws:kms/key:Key", "key")), "kms.json"))
    assert "$1 unverified" in kms.stdout
    assert "2 price line(s) come from catalogue entries no one has checked against a source" in kms.stdout
    unpriced = run_mlp("cost", _write(tmp_path, export(resource("aws:redshift/cluster:Cluster", "dw")), "unpriced.json"))
    assert "0 priced resource(s), 0 free, 1 not priced" in unpriced.stdout
    assert "not priced (not in the totals): 1 x aws:redshift/cluster:Cluster" in unpriced.stdout


def test_a_bad_date_is_bad_input(tmp_path):
    done = run_mlp("cost", _write(tmp_path, export()), "--on", "29/11/2026")
    assert done.returncode == 2 and "--on: expected a date as YYYY-MM-DD, got '29/11/2026'" in done.stderr
