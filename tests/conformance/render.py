"""Every Helm release of a stack, rendered by real Helm from its real chart, and the checks on it.

`render(stack, name)` runs `.tools/helm template` once per release and session with exactly the
chart, version, namespace and values the offline plan records, from the chart that
`upstream.lock.json` pins (a version or repository the lock does not pin is an `UpstreamError`).
Its objects are what Helm would send to the API server: `List`s flattened, the release namespace
set on namespaced objects that name none, and YAML with a repeated key refused, as the API
server's decoder refuses it (a label the values add twice to a chart's own labels).

A missing tool or artifact fails the calling test with the command that provides it; nothing skips.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import SchemaNotFoundError, all_versions, major_minor

from mlp import PROJECT_ROOT, upstream
from tests.conformance import crd
from tests.conftest import STACKS, planned
from tests.test_kubernetes_schema import _manifest

HELM = PROJECT_ROOT / ".tools" / "helm"
CHECKOV = PROJECT_ROOT / ".venv-checkov" / "bin" / "checkov"
RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
HELM_TIMEOUT_SECONDS = 300
CHECKOV_TIMEOUT_SECONDS = 900

# Kinds without a namespace; custom kinds take their scope from the CRDs the release renders.
CLUSTER_SCOPED_KINDS = frozenset({
    "APIService", "CSIDriver", "CSINode", "CertificateSigningRequest", "ClusterRole", "ClusterRoleBinding",
    "CustomResourceDefinition", "FlowSchema", "IngressClass", "MutatingWebhookConfiguration", "Namespace", "Node",
    "PersistentVolume", "PriorityClass", "PriorityLevelConfiguration", "RuntimeClass", "StorageClass",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration", "VolumeAttachment",
})
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")


def require(tool: Path, how: str) -> Path:
    if not tool.exists():
        pytest.fail(f"{tool.relative_to(PROJECT_ROOT)} is missing: {how}", pytrace=False)
    return tool


# --- releases as the plan records them --------------------------------------------------------

@dataclass(frozen=True)
class HelmRelease:
    stack: str
    urn: str
    name: str
    chart: str  # a chart name, or the full oci:// reference
    repository: str | None
    version: str
    namespace: str
    skip_crds: bool
    values: dict = field(compare=False, hash=False)

    @property
    def chart_name(self) -> str:
        return self.chart.rsplit("/", 1)[-1] if self.chart.startswith("oci://") else self.chart

    @property
    def source(self) -> str:
        """Where Helm pulls the chart from: the oci:// reference or the repository URL."""
        return self.chart if self.chart.startswith("oci://") else (self.repository or "")

    @property
    def label(self) -> str:
        return f"{self.stack} release {self.name} ({self.chart_name}@{self.version})"


@functools.lru_cache(maxsize=None)
def releases(stack: str) -> tuple[HelmRelease, ...]:
    found = []
    for resource in planned(stack).resources:
        if resource.type != RELEASE_TYPE:
            continue
        inputs = _manifest(resource.inputs)
        found.append(HelmRelease(
            stack=stack,
            urn=resource.urn,
            name=inputs.get("name") or resource.name,
            chart=inputs["chart"],
            repository=(inputs.get("repositoryOpts") or {}).get("repo"),
            version=inputs["version"],
            namespace=inputs.get("namespace") or "default",
            skip_crds=bool(inputs.get("skipCrds")),
            values=inputs.get("values") or {},
        ))
    return tuple(found)


def chart_versions(stack: str) -> dict[str, str]:
    """Chart name -> version of every release the stack's plan installs."""
    return {release.chart_name: release.version for release in releases(stack)}


def release(stack: str, name: str) -> HelmRelease:
    (found,) = [r for r in releases(stack) if r.name == name]
    return found


def release_params() -> list:
    """(stack, release name) of every release of every stack, for `pytest.mark.parametrize`."""
    return [pytest.param(stack, r.name, id=f"{stack}-{r.name}") for stack in STACKS for r in releases(stack)]


def kubernetes_version(stack: str) -> str:
    """The stack's Kubernetes minor, which must be one kubernetes-validate has schemas for."""
    version = planned(stack).config.cluster.kubernetes_version
    supported = sorted({major_minor(v) for v in all_versions()}, key=lambda v: tuple(map(int, v.split("."))))
    if version not in supported:
        pytest.fail(f"kubernetes-validate {kubernetes_validate.__version__} has no schema for Kubernetes {version} "
                    f"(it has {supported[0]} to {supported[-1]}): upgrade it in requirements-dev.txt", pytrace=False)
    return version


def chart_dir(release: HelmRelease) -> Path:
    """The cached chart the lock pins for this release; `UpstreamError` if it pins another."""
    artifact = upstream.pinned("chart", release.chart_name, release.version)
    pinned_source = (artifact.source_field("repository") or "").rstrip("/")
    if pinned_source != release.source.rstrip("/"):
        raise upstream.UpstreamError(f"{release.label} pulls from {release.source or '(no repository)'}, "
                                     f"but {upstream.LOCK_PATH.name} pins {artifact.label} from {pinned_source}")
    return upstream.chart_dir(release.chart_name, release.version)


def pinned_chart(release: HelmRelease) -> Path:
    """`chart_dir`, failing the calling test with the lock's message when the chart is not pinned."""
    try:
        return chart_dir(release)
    except upstream.UpstreamError as error:
        pytest.fail(f"{release.label}: {error}", pytrace=False)


# --- rendering --------------------------------------------------------------------------------

class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML as the API server reads it: a key given twice in one mapping is an error, not a win."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key == "<<":
                continue
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"mapping key {key!r} already defined", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def parse_manifests(text: str) -> list[dict]:
    """Objects of a multi-document YAML stream, `List`s flattened; duplicate keys raise."""
    objects = []
    for document in yaml.load_all(text, Loader=_UniqueKeyLoader):
        if not document:
            continue
        if document.get("kind", "").endswith("List") and isinstance(document.get("items"), list):
            objects.extend(item for item in document["items"] if item)
        else:
            objects.append(document)
    return objects


def rendered_crds(objects: list[dict]) -> dict[tuple[str, str], crd.Crd]:
    """(group, kind) -> the CRDs among `objects`, with the schemas of their served versions."""
    found = {}
    for definition in objects:
        if definition.get("kind") == "CustomResourceDefinition":
            spec = definition["spec"]
            schemas = {v["name"]: (v.get("schema") or {}).get("openAPIV3Schema") or {} for v in spec["versions"] if v.get("served", True)}
            found[(spec["group"], spec["names"]["kind"])] = crd.Crd(
                spec["group"], spec["names"]["kind"], spec.get("scope") == "Namespaced", schemas, definition["metadata"]["name"])
    return found


def _cluster_scoped(objects: list[dict]) -> set[str]:
    return CLUSTER_SCOPED_KINDS | {definition.kind for definition in rendered_crds(objects).values() if not definition.namespaced}


@dataclass
class Rendered:
    release: HelmRelease
    command: list[str]
    objects: list[dict]
    error: str | None = None  # why Helm's output cannot be installed, if it cannot


def _located(error: yaml.MarkedYAMLError, text: str) -> str:
    """The YAML error with the line and the chart template (Helm's `# Source:` comment) it comes from."""
    mark = error.problem_mark or error.context_mark
    if mark is None:
        return str(error.problem or error)
    lines = text.splitlines()[: mark.line + 1]
    source = next((line.removeprefix("# Source: ") for line in reversed(lines) if line.startswith("# Source: ")), "?")
    return f"{error.problem} (output line {mark.line + 1}, from {source}: {lines[-1].strip() if lines else ''})"


@functools.lru_cache(maxsize=None)
def _render(stack: str, name: str) -> Rendered:
    target = release(stack, name)
    try:
        chart = chart_dir(target)
    except upstream.UpstreamError as error:
        return Rendered(target, [], [], str(error))
    version = kubernetes_version(stack)
    with tempfile.TemporaryDirectory(prefix="helm-render-") as temporary:
        values_file = Path(temporary) / "values.json"
        values_file.write_text(json.dumps(target.values))
        command = [str(HELM), "template", target.name, str(chart), "--namespace", target.namespace,
                   "--kube-version", f"{version}.0", "--values", str(values_file)]
        # What Helm installs: a release with skipCrds leaves the chart's crds/ folder alone.
        if not target.skip_crds:
            command.append("--include-crds")
        # Helm's own folders in the temporary directory: rendering never reads or writes ~/.config/helm.
        home = {f"HELM_{kind}_HOME": str(Path(temporary) / kind.lower()) for kind in ("CACHE", "CONFIG", "DATA")}
        result = subprocess.run(command, capture_output=True, text=True, timeout=HELM_TIMEOUT_SECONDS,
                                env={**os.environ, **home})
    shown = ["helm", *command[1:]]
    shown[shown.index("--values") + 1] = "values.json"
    if result.returncode != 0:
        return Rendered(target, shown, [], f"`{' '.join(shown)}` exited {result.returncode}: {result.stderr.strip()}")
    try:
        objects = parse_manifests(result.stdout)
    except yaml.MarkedYAMLError as error:
        return Rendered(target, shown, [], f"`{' '.join(shown)}` renders YAML the API server refuses: {_located(error, result.stdout)}")
    cluster_scoped = _cluster_scoped(objects)
    for obj in objects:
        metadata = obj.setdefault("metadata", {})
        if obj.get("kind") not in cluster_scoped and not metadata.get("namespace"):
            metadata["namespace"] = target.namespace
    return Rendered(target, shown, objects)


def render(stack: str, name: str) -> Rendered:
    """The release rendered (once per session); fails the calling test if it cannot be."""
    require(HELM, "run `make test` (or `make .tools/helm`) to install Helm v3.17.2")
    rendered = _render(stack, name)
    if rendered.error:
        pytest.fail(f"{rendered.release.label}: {rendered.error}", pytrace=False)
    return rendered


def objects(stack: str, name: str) -> list[dict]:
    return render(stack, name).objects


def describe(obj: dict) -> str:
    metadata = obj.get("metadata") or {}
    where = f"{metadata['namespace']}/" if metadata.get("namespace") else ""
    return f"{obj.get('kind')} {where}{metadata.get('name')}"


# --- schemas ----------------------------------------------------------------------------------

def schema_problems(obj: dict, version: str, crds: dict[tuple[str, str], crd.Crd]) -> list[str] | None:
    """Strict validation problems of one object: built-in kinds against the Kubernetes schema of
    `version`, custom kinds as the API server checks them against a CRD the release renders (CEL
    rules included). None when neither has its schema."""
    try:
        kubernetes_validate.validate(obj, version, strict=True)
        return []
    except kubernetes_validate.ValidationError as error:
        return [f"{'.'.join(map(str, error.path)) or '(root)'}: {error.message}"]
    except SchemaNotFoundError:
        group = str(obj.get("apiVersion", "")).rpartition("/")[0]
        definition = crds.get((group, obj.get("kind")))
        if definition is None:
            return None
        try:
            return [str(error) for error in crd.validate(obj, definition, crd.RULES)]
        except crd.CrdNotFound as error:
            return [str(error)]


# --- selectors --------------------------------------------------------------------------------

def pod_templates(obj: dict) -> Iterator[tuple[str, dict | None, dict]]:
    """(path, selector, pod template) of a workload; a CronJob's through its job template."""
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
        yield "spec.jobTemplate.spec", spec.get("selector"), spec.get("template") or {}
    elif obj.get("kind") in WORKLOAD_KINDS:
        yield "spec", spec.get("selector"), spec.get("template") or {}


def selector_mismatches(selector: dict, labels: dict[str, str]) -> list[str]:
    """Why a LabelSelector (matchLabels and matchExpressions) does not select these labels."""
    problems = [f"matchLabels {key}={value!r} but the template has {labels.get(key)!r}"
                for key, value in (selector.get("matchLabels") or {}).items() if labels.get(key) != value]
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        satisfied = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }.get(operator)
        if not satisfied:
            problems.append(f"matchExpressions {key} {operator} {values} is not met by {labels.get(key)!r}")
    return problems


def template_labels(template: dict) -> dict[str, str]:
    return (template.get("metadata") or {}).get("labels") or {}


# --- checkov ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckovFailure:
    check_id: str
    check_name: str
    resource: str  # Kind.namespace.name[...] as checkov names it
    release: str

    def __str__(self) -> str:
        return f"{self.check_id} {self.check_name}: {self.release} {self.resource}"


@dataclass
class CheckovScan:
    failures: list[CheckovFailure]
    summary: dict


@functools.lru_cache(maxsize=None)
def _checkov(stack: str) -> CheckovScan:
    scanned = [r.name for r in releases(stack) if not _render(stack, r.name).error]
    with tempfile.TemporaryDirectory(prefix=f"checkov-{stack}-") as temporary:
        for name in scanned:
            (Path(temporary) / f"{name}.yaml").write_text(yaml.safe_dump_all(_render(stack, name).objects, sort_keys=False))
        result = subprocess.run(
            [str(CHECKOV), "-d", temporary, "--framework", "kubernetes", "--output", "json", "--quiet", "--compact", "--skip-download"],
            capture_output=True, text=True, timeout=CHECKOV_TIMEOUT_SECONDS,
        )
    try:
        report = json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"checkov exited {result.returncode} without a JSON report: {result.stderr.strip()[-500:]}", pytrace=False)
    reports = report if isinstance(report, list) else [report]
    if not scanned or "results" not in reports[0]:
        pytest.fail(f"checkov scanned nothing of {stack}: no release of it renders ({reports[0]})", pytrace=False)
    failures = [
        CheckovFailure(check["check_id"], check["check_name"], check["resource"], Path(check["file_path"]).stem)
        for part in reports for check in part["results"].get("failed_checks", [])
    ]
    return CheckovScan(failures, reports[0]["summary"])


def checkov(stack: str) -> CheckovScan:
    """One checkov scan over every release of the stack that renders (once per session)."""
    require(HELM, "run `make test` (or `make .tools/helm`) to install Helm v3.17.2")
    require(CHECKOV, "run `make test` (or `make checkov`) to install checkov into .venv-checkov")
    return _checkov(stack)

