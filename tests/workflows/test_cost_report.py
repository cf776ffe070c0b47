"""The monthly cost-report workflow: HTML, CSV and JSON for every stack from the billing export,
on a read-only billing role in an environment of its own (no deploy approval), kept as artifacts.
Its report step runs for real here, against moto's Athena."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from decimal import Decimal

import boto3
import requests
import yaml

from components.billing import athena_names
from mlp import PROJECT_ROOT
from mlp.finance.athena import RESULT_COLUMNS
from tests.mlp.finance.export import athena_answer

WORKFLOW = PROJECT_ROOT / ".github" / "workflows" / "cost-report.yml"
STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in (PROJECT_ROOT / "stacks").glob("Pulumi.*.yaml"))


def _workflow() -> dict:
    document = yaml.safe_load(WORKFLOW.read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads the key `on` as true
    return document


def _job() -> dict:
    return _workflow()["jobs"]["report"]


def _step(name: str) -> dict:
    return next(step for step in _job()["steps"] if step.get("name") == name)


def test_each_stack_reports_in_a_billing_environment_not_a_deploy_one():
    job = _job()
    assert sorted(job["strategy"]["matrix"]["stack"]) == STACKS and job["strategy"]["fail-fast"] is False
    assert job["environment"] == "billing-${{ matrix.stack }}"
    deploy = yaml.safe_load((PROJECT_ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    deploy_environments = {str(j.get("environment")) for j in deploy["jobs"].values() if j.get("environment")}
    assert not any(env.startswith("billing-") for env in deploy_environments)


def test_least_privilege_and_one_run_at_a_time():
    workflow = _workflow()
    assert workflow["permissions"] == {"contents": "read"}
    assert _job()["permissions"] == {"contents": "read", "id-token": "write"}  # OIDC for the billing role only
    assert workflow["concurrency"] == {"group": "cost-report", "cancel-in-progress": False}
    credentials = next(step for step in _job()["steps"] if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@"))
    assert credentials["with"]["role-to-assume"] == "${{ vars.COST_REPORT_ROLE_ARN }}"
    checkout = next(step for step in _job()["steps"] if step.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False


def test_every_action_is_pinned_to_a_full_commit_with_its_version():
    lines = [line for line in WORKFLOW.read_text().splitlines() if "uses:" in line]
    assert len(lines) == 4
    for line in lines:
        ref, _, comment = line.split("uses:", 1)[1].strip().partition(" # ")
        action, _, sha = ref.partition("@")
        assert len(sha) == 40 and all(c in "0123456789abcdef" for c in sha), line
        assert comment.startswith("v") and comment.count(".") == 2, line


def test_the_athena_export_is_the_default_source_and_every_format_is_kept():
    workflow = _workflow()
    source = workflow["on"]["workflow_dispatch"]["inputs"]["source"]
    assert source["options"] == ["athena", "cost-explorer"] and source["default"] == "athena"
    step = _step("mlp report")
    assert step["env"]["SOURCE"] == "${{ inputs.source || 'athena' }}"
    assert "for format in html csv json" in step["run"] and '--out "report/cost-report-$STACK.$format"' in step["run"]
    upload = next(s for s in _job()["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "report/" and upload["with"]["if-no-files-found"] == "error"
    assert upload["with"]["name"] == "cost-report-${{ matrix.stack }}"


def test_the_report_step_writes_every_file_against_moto(moto_endpoint, aws_test_credentials, tmp_path):
    """The step's own script, for dev (whose billing workgroup is prod's, in prod's region)."""
    requests.post(f"{moto_endpoint}/moto-api/reset")
    boto3.client("athena", region_name="us-west-2", endpoint_url=moto_endpoint).create_work_group(Name=athena_names("mlplatform")["workgroup"])
    header = list(RESULT_COLUMNS)
    row = ["2026-10-01", "", "Amazon Simple Storage Service", "dev", "vision", "datalake", "", "", "", "12.5", "12.5", "0", "0", "0", "0"]
    for _ in range(4):  # html, csv, json and the step summary's table: one query each
        requests.post(f"{moto_endpoint}/moto-api/static/athena/query-results", json=athena_answer([header, row])).raise_for_status()
    (tmp_path / ".venv").symlink_to(PROJECT_ROOT / ".venv")
    (tmp_path / "stacks").symlink_to(PROJECT_ROOT / "stacks")
    summary = tmp_path / "summary.md"
    step = _step("mlp report")
    env = {**os.environ, "STACK": "dev", "START": "2026-10-01", "END": "2026-11-01", "SOURCE": "athena", "GITHUB_STEP_SUMMARY": str(summary),
           "AWS_ENDPOINT_URL": moto_endpoint, "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "report" / "cost-report-dev.json").read_text())
    (month,) = report["months"]
    assert month["status"] == "estimated" and month["actualCost"] == "12.50"
    with open(tmp_path / "report" / "cost-report-dev.csv", newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert sum(Decimal(r["BilledCost"]) for r in rows) == Decimal("12.50")
    assert 'data-figure="totalActualCost">12.50<' in (tmp_path / "report" / "cost-report-dev.html").read_text()
    assert "## Cost report: dev (athena)" in summary.read_text() and "2026-10 (estimated)" in summary.read_text()
