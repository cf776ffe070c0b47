"""`mlp plan` end to end, in a subprocess as users and CI run it."""

import json
from pathlib import Path

import pytest

from tests.conftest import run_mlp

SAMPLE_EXPORT = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "pulumi" / "sample-export.json"


@pytest.fixture(scope="module")
def prod_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("plan") / "prod.json"
    result = run_mlp("plan", "prod", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return result, json.loads(out.read_text())


def test_plan_prints_components_and_full_coverage():
    result = run_mlp("plan", "dev")
    assert result.returncode == 0, result.stderr
    for words in ("mlp plan dev", "network", "datalake", "cost tags", "(100.0%)", "us-east-1"):
        assert words in result.stdout
    assert "MISSING" not in result.stdout


def test_out_writes_a_stack_export_shaped_like_the_real_one(prod_export):
    _, document = prod_export
    sample = json.loads(SAMPLE_EXPORT.read_text())
    assert document["version"] == sample["version"] == 3
    assert set(document["deployment"]) >= {"manifest", "resources"}
    assert set(document["deployment"]["manifest"]) == set(sample["deployment"]["manifest"])
    sample_keys = set().union(*(r.keys() for r in sample["deployment"]["resources"])) | {"protect", "retainOnDelete"}
    resources = document["deployment"]["resources"]
    assert resources[0]["type"] == "pulumi:pulumi:Stack" and resources[0]["urn"] == "urn:pulumi:prod::mlplatform::pulumi:pulumi:Stack::mlplatform-prod"
    for resource in resources:
        assert set(resource) <= sample_keys, set(resource) - sample_keys
        assert {"urn", "type", "custom"} <= set(resource)
        if resource["custom"]:
            assert {"id", "inputs", "outputs"} <= set(resource), resource["urn"]
            assert "provider" in resource or resource["type"].startswith("pulumi:providers:")


def test_references_in_the_export_resolve(prod_export):
    _, document = prod_export
    resources = document["deployment"]["resources"]
    urns = [r["urn"] for r in resources]
    assert len(urns) == len(set(urns))
    providers = {f'{r["urn"]}::{r["id"]}' for r in resources if r["type"].startswith("pulumi:providers:")}
    assert any(r["type"] == "pulumi:providers:aws" for r in resources)
    for resource in resources[1:]:
        assert resource["parent"] in urns
        assert urns.index(resource["parent"]) < urns.index(resource["urn"])  # parents come first
        if "provider" in resource:
            assert resource["provider"] in providers
        for dependency in resource.get("dependencies", []):
            assert dependency in urns


def test_export_records_tags_all_like_the_real_provider(prod_export):
    _, document = prod_export
    # The lake's buckets (the billing exports' bucket is the cost controls').
    buckets = [r for r in document["deployment"]["resources"] if r["type"] == "aws:s3/bucket:Bucket" and "mlplatform:datalake:" in r["urn"]]
    assert buckets
    for bucket in buckets:
        assert bucket["outputs"]["tagsAll"]["Environment"] == "prod"
        assert bucket["outputs"]["tagsAll"]["Component"] == "datalake"
        assert bucket["protect"] is True and bucket["retainOnDelete"] is True


def test_missing_stack_file_is_a_bad_input():
    result = run_mlp("plan", "qa")
    assert result.returncode == 2
    assert result.stderr.strip() == "mlp plan: stacks/Pulumi.qa.yaml: no such stack file"


def test_stack_file_that_is_not_yaml_is_a_bad_input(tmp_path):
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text("config:\n  aws:region: [us-east-1\n")
    result = run_mlp("plan", "dev", "--config-file", str(path))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert str(path) in result.stderr and "not valid YAML" in result.stderr


def test_stack_file_without_config_is_a_bad_input(tmp_path):
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text("settings: {}\n")
    result = run_mlp("plan", "dev", "--config-file", str(path))
    assert result.returncode == 2
    assert "config" in result.stderr and "Traceback" not in result.stderr


def test_unwritable_out_is_a_bad_input(tmp_path):
    result = run_mlp("plan", "dev", "--out", str(tmp_path / "missing-dir" / "dev.json"))
    assert result.returncode == 2
    assert "cannot write" in result.stderr


def test_policy_violations_fail_the_plan(monkeypatch, capsys):
    """What the policy pack would refuse on a real preview fails the offline plan already."""
    import mlp.plan
    from mlp.cli import main

    def one_violation(resources):
        return [(r.urn, "cost-tags-on-aws-resources", "missing cost tag 'Team'") for r in resources if r.type == "aws:ec2/vpc:Vpc"]

    monkeypatch.setattr(mlp.plan, "check_plan", one_violation)
    assert main(["plan", "dev"]) == 1
    out = capsys.readouterr().out
    assert "VIOLATED policy pack (policy/): 1 violation(s)" in out
    assert "cost-tags-on-aws-resources: missing cost tag 'Team'" in out


def test_plan_shows_the_checks_it_passed():
    result = run_mlp("plan", "staging")
    assert result.returncode == 0, result.stderr
    assert "ok AWS tag limits: 0 resource(s) over them" in result.stdout
    assert "ok policy pack (policy/): 0 violation(s)" in result.stdout
