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
    state = _write(tmp_path, export(resource("aws:eks/cluster:Cluster", "cluster", tags={"Component": "compute"}), resource("aws:redshift/cluster:Cluster", "dw")))
    done = run_mlp("cost", state, "--format", "json", "--by", "Team,Component")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["currency"] == "USD"
    assert report["totalMonthlyCost"] == "73.00"
    by_name = {r["name"]: r for r in report["resources"]}
    assert by_name["cluster"]["monthlyCost"] == "73.00"
    assert by_name["cluster"]["costComponents"][0] == {"name": "EKS cluster", "unit": "hours", "price": "0.10", "monthlyQuantity": "730",
                                                       "monthlyCost": "73.00", "priceNotFound": False}
    assert by_name["dw"]["priceNotFound"] is True and by_name["dw"]["monthlyCost"] is None
    assert report["groups"]["Component"][0] == {"value": "compute", "monthlyCost": "73.00", "baselineMonthlyCost": "73.00",
                                                "ceilingMonthlyCost": "73.00", "resources": 1, "priceNotFound": 0}
    assert set(report["groups"]) == {"Team", "Component"}
    assert report["summary"]["priceNotFoundResources"] == 1


def test_csv_and_table_outputs(tmp_path):
    state = _write(tmp_path, export(resource("aws:ec2/natGateway:NatGateway", "nat")))
    rows = list(csv.DictReader(io.StringIO(run_mlp("cost", state, "--format", "csv").stdout)))
    assert rows == [{"name": "nat", "type": "aws:ec2/natGateway:NatGateway", "urn": "urn:pulumi:dev::mlplatform::aws:ec2/natGateway:NatGateway::nat",
                     "Environment": "dev", "Team": "ml-platform", "Component": "platform", "monthlyCost": "32.85", "baselineMonthlyCost": "32.85",
                     "ceilingMonthlyCost": "32.85", "priceNotFound": "false"}]
    table = run_mlp("cost", state)
    assert table.returncode == 0
    assert "Total monthly cost: $32.85 (baseline $32.85, ceiling $32.85); 1 priced resource(s), 0 free" in table.stdout
    unpriced = run_mlp("cost", _write(tmp_path, export(resource("aws:redshift/cluster:Cluster", "dw")), "unpriced.json"))
    assert "0 priced resource(s), 0 free, 1 with a price not found" in unpriced.stdout

