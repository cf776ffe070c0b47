"""checkov over every Kubernetes object the platform declares itself (not through a chart): the
plans' Deployments, DaemonSets, CronJobs, Services, Ingresses, Namespaces, policies, custom
resources... Rendered chart objects are scanned in test_helm_render.py; together nothing the
platform puts on a cluster escapes the scan. A finding is fixed in the component that declares
the object, or listed below with the reason no setting can fix it."""

from __future__ import annotations

import functools
import json
import subprocess
import tempfile
from fnmatch import fnmatch
from pathlib import Path

import pytest
import yaml

from tests.conformance import render
from tests.conftest import STACKS, planned
from tests.test_kubernetes_schema import _manifest

# checkov check ID -> (reason, fnmatch patterns over checkov's resource name `Kind.namespace.name`).
CHECKOV_SKIPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "CKV_K8S_8": ("Liveness probe: the GPU agent serves nothing to probe; it exits when NVML or publishing fails for good, "
                  "and the kubelet restarts it", ("DaemonSet.kube-system.gpu-agent-*",)),
    "CKV_K8S_9": ("Readiness probe: nothing sends traffic to the GPU agent, so there is no readiness to report",
                  ("DaemonSet.kube-system.gpu-agent-*",)),
}


@functools.lru_cache(maxsize=None)
def declared_objects(stack: str) -> tuple[tuple[str, str], ...]:
    """(URN, manifest as YAML) of every Kubernetes object the stack's plan declares directly."""
    objects = []
    for resource in planned(stack).run.resources:
        if resource.custom and resource.type.startswith("kubernetes:") and not resource.type.startswith("kubernetes:helm.sh/"):
            objects.append((resource.urn, yaml.safe_dump(_manifest(resource.inputs), sort_keys=False)))
    return tuple(objects)


@functools.lru_cache(maxsize=None)
def scan(stack: str) -> tuple[list[dict], dict]:
    render.require(render.CHECKOV, "run `make test` (or `make checkov`) to install checkov into .venv-checkov")
    with tempfile.TemporaryDirectory(prefix=f"checkov-declared-{stack}-") as temporary:
        for i, (_, manifest) in enumerate(declared_objects(stack)):
            (Path(temporary) / f"{i:04d}.yaml").write_text(manifest)
        result = subprocess.run([str(render.CHECKOV), "-d", temporary, "--framework", "kubernetes", "--output", "json", "--quiet", "--compact",
                                 "--skip-download"], capture_output=True, text=True, timeout=render.CHECKOV_TIMEOUT_SECONDS)
    try:
        report = json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"checkov exited {result.returncode} without a JSON report: {result.stderr.strip()[-500:]}", pytrace=False)
    reports = report if isinstance(report, list) else [report]
    failures = [check for part in reports for check in part["results"].get("failed_checks", [])]
    return failures, reports[0]["summary"]


def _skip_reason(check: dict) -> str | None:
    reason, where = CHECKOV_SKIPS.get(check["check_id"], (None, ()))
    return reason if any(fnmatch(check["resource"], pattern) for pattern in where) else None


@pytest.mark.parametrize("stack", STACKS)
def test_every_declared_kubernetes_object_is_scanned(stack):
    kinds = {yaml.safe_load(manifest)["kind"] for _, manifest in declared_objects(stack)}
    assert {"Deployment", "DaemonSet", "CronJob", "Service", "Ingress", "Namespace", "NetworkPolicy", "ServiceAccount"} <= kinds
    _, summary = scan(stack)
    assert summary["parsing_errors"] == 0, summary
    assert summary["passed"] > 0 and summary["resource_count"] >= len(declared_objects(stack)) // 2


@pytest.mark.parametrize("stack", STACKS)
def test_checkov_finds_nothing_outside_the_skip_list(stack):
    failures, _ = scan(stack)
    unexplained = sorted(f"{c['check_id']} {c['check_name']}: {c['resource']}" for c in failures if _skip_reason(c) is None)
    assert not unexplained, f"{len(unexplained)} checkov finding(s) in the objects {stack} declares:\n" + "\n".join(unexplained)


def test_every_skip_is_still_needed():
    used = {c["check_id"] for stack in STACKS for c in scan(stack)[0] if _skip_reason(c)}
    assert set(CHECKOV_SKIPS) <= used, f"skips that match no finding: {sorted(set(CHECKOV_SKIPS) - used)}"
