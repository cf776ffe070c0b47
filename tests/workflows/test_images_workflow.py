"""The image workflow: pull requests build and scan every changed image without credentials or
pushes; merges push each changed image to every environment's ECR through OIDC with the tag
images/catalog.py computes, scan it and fail on critical findings. Its scripts run here as written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

import pytest

from images import catalog
from mlp import PROJECT_ROOT
from tests.workflows.test_workflows import STACKS, load, stack_region, steps, uses

NAME = "images.yml"
IMAGES = catalog.load()


def _workflow() -> dict:
    return load(NAME)


def _step(job: dict, name: str) -> dict:
    (found,) = [s for s in steps(job) if s.get("name") == name]
    return found


def _run(script: str, env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """Run a step's script in the repository as Actions would (bash -e), returning what it wrote to GITHUB_OUTPUT."""
    output = tmp_path / "github_output"
    output.write_text("")
    done = subprocess.run(["bash", "-e", "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "GITHUB_OUTPUT": str(output), **env})
    assert done.returncode == 0, done.stderr
    return dict(line.split("=", 1) for line in output.read_text().splitlines() if line)


def test_runs_on_pull_requests_and_merges_that_touch_any_image_source():
    triggers = _workflow()["on"]
    assert set(triggers) == {"pull_request", "push", "workflow_dispatch"}
    assert triggers["push"]["branches"] == ["main"]
    for event in ("pull_request", "push"):
        patterns = triggers[event]["paths"]
        assert ".github/workflows/images.yml" in patterns
        for image in IMAGES:
            for source in image.source_paths():
                probe = source + "Dockerfile" if source.endswith("/") else source
                assert any(fnmatch(probe, pattern.replace("**", "*")) for pattern in patterns), f"{event}: a change to {probe} would not run the workflow"


def test_pull_requests_build_and_scan_without_credentials_or_pushes():
    job = _workflow()["jobs"]["build"]
    assert "pull_request" in job["if"]
    assert job["strategy"]["matrix"]["image"] == "${{ fromJSON(needs.changes.outputs.images) }}"
    assert "permissions" not in job  # the workflow's read-only default: no OIDC token
    assert not uses(job, "aws-actions/configure-aws-credentials") and not uses(job, "aws-actions/amazon-ecr-login")
    (build,) = uses(job, "docker/build-push-action")
    assert build["with"]["push"] is False and build["with"]["context"] == "."
    (scan,) = uses(job, "aquasecurity/trivy-action")
    assert scan["with"]["severity"] == "CRITICAL" and scan["with"]["exit-code"] == "1"
    assert scan["with"]["image-ref"] == build["with"]["tags"]
    assert not any("docker push" in s.get("run", "") for s in steps(job))


def test_merges_push_to_every_environment_through_oidc_then_scan():
    job = _workflow()["jobs"]["publish"]
    assert "refs/heads/main" in job["if"] and "pull_request" in job["if"]
    assert job["environment"] == "${{ matrix.environment }}"
    assert sorted(job["strategy"]["matrix"]["environment"]) == sorted(STACKS)
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    (credentials,) = uses(job, "aws-actions/configure-aws-credentials")
    assert credentials["with"]["role-to-assume"] == "${{ vars.IMAGE_PUSH_ROLE_ARN }}"
    assert "aws-access-key-id" not in credentials["with"]
    names = [s.get("name") or s.get("uses", "").split("@")[0] for s in steps(job)]
    order = [names.index(n) for n in ("Assume the image push role (OIDC)", "Build, pulling the base through the registry's cache",
                                      "Scan before pushing (fail on critical findings)", "Push the immutable tag",
                                      "The registry's scan finds nothing critical")]
    assert order == sorted(order)
    (build,) = uses(job, "docker/build-push-action")
    assert build["with"]["push"] is False  # pushed only after the scan passed
    assert "BASE_REGISTRY=${{ steps.ecr.outputs.registry }}/ecr-public" in build["with"]["build-args"]
    assert "DOCKER_HUB_REGISTRY=${{ steps.ecr.outputs.registry }}/docker-hub" in build["with"]["build-args"]
    registry_scan = _step(job, "The registry's scan finds nothing critical")["run"]
    assert "aws ecr wait image-scan-complete" in registry_scan and "findingSeverityCounts.CRITICAL" in registry_scan and "exit 1" in registry_scan
    # An existing tag is never pushed again: the repositories are immutable outside dev.
    assert _step(job, "Push the immutable tag")["if"] == "steps.exists.outputs.pushed == 'false'"


def test_pull_through_cache_prefixes_the_build_uses_are_declared_by_the_registry_owners():
    """The build pulls bases from <registry>/ecr-public and <registry>/docker-hub: every account and
    region a stack deploys to has an owner stack declaring those cache rules."""
    from mlp.stackfile import load_stack

    owners: dict[tuple[str, str], list[str]] = {}
    for stack in STACKS:
        config = load_stack(stack)[1]
        account = config.cluster.deploy_role_arn.split(":")[4]
        owners.setdefault((account, config.region), [])
        if config.registries.registry_settings is not None:
            owners[(account, config.region)].append(stack)
            prefixes = {rule.cache_prefix for rule in config.registries.registry_settings.pull_through_cache}
            assert {"ecr-public", "docker-hub"} <= prefixes, stack
    for place, stacks in owners.items():
        assert len(stacks) == 1, f"account {place[0]} in {place[1]}: registry-wide settings must have exactly one owner, got {stacks}"


@pytest.mark.parametrize("stack", STACKS)
def test_the_publish_script_targets_the_stacks_repository_with_the_catalog_tag(stack, tmp_path):
    job = _workflow()["jobs"]["publish"]
    script = _step(job, "Where the image goes")["run"]
    commit = "0123456789abcdef0123456789abcdef01234567"
    from mlp.stackfile import load_stack

    config = load_stack(stack)[1]
    for image in IMAGES:
        out = _run(script, {"IMAGE": image.name, "STACK": stack, "GITHUB_SHA": commit}, tmp_path)
        assert out == {
            "region": stack_region(stack),
            "repository": f"{config.name_prefix}/{image.repository}",
            "dockerfile": f"images/{image.name}/Dockerfile",
            "tag": image.tag(commit),
        }
        assert image.repository in config.registries.repository_names


def test_the_change_script_lists_every_image_on_a_manual_run_and_the_changed_ones_otherwise(tmp_path):
    script = _step(_workflow()["jobs"]["changes"], "Images whose sources changed")["run"]
    every = json.loads(_run(script, {"EVENT": "workflow_dispatch", "BASE": "", "GITHUB_SHA": "HEAD"}, tmp_path)["images"])
    assert every == [image.name for image in IMAGES]
    # A base commit that does not exist (a new branch) builds everything too.
    unknown = json.loads(_run(script, {"EVENT": "push", "BASE": "0" * 40, "GITHUB_SHA": "HEAD"}, tmp_path)["images"])
    assert unknown == every
    same = json.loads(_run(script, {"EVENT": "pull_request", "BASE": "HEAD", "GITHUB_SHA": "HEAD"}, tmp_path)["images"])
    assert same == []


def test_the_pull_request_tag_step_prints_the_catalog_tag(tmp_path):
    script = _step(_workflow()["jobs"]["build"], "The tag this commit's build would publish")["run"]
    image = catalog.find(IMAGES, "notebook-cuda")
    out = _run(script, {"IMAGE": image.name, "GITHUB_SHA": "fedcba9876543210fedcba9876543210fedcba98"}, tmp_path)
    assert out == {"tag": f"{image.version}-cuda12-fedcba9", "dockerfile": "images/notebook-cuda/Dockerfile"}
