"""Every version a stack pins exists upstream, is pinned in the lock, and differs between stacks
only for a stated reason.

A mock accepts `al2023@v20251117` whether or not the EKS AMI was ever released, and a chart
version whether or not anyone can pull it; `pulumi up` would find out. The AMI release list and
the lock (`upstream.lock.json`) know offline.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from mlp import upstream
from tests.conformance import crd
from tests.conformance.render import releases
from tests.conftest import STACKS, planned, stack_yaml

AMI_RELEASE_LIST = "eks-ami-al2023"
# Only dev may follow `al2023@latest`: staging and prod must deploy the AMI they were tested with.
FLOATING_AMI_STACKS = ("dev",)
# Node architecture (Kubernetes label value) -> architecture in the AMI names of the release list.
AMI_ARCHITECTURES = {"amd64": "x86_64", "arm64": "arm64"}
WITHDRAWN = ("recalled", "abandoned")

# Chart -> (where a stack file pins its version, where it says why it differs).
CHART_PINS = {
    "karpenter": (("mlplatform:cluster", "charts", "karpenter"), ("mlplatform:cluster", "charts", "pinReasons", "karpenter")),
    "nvidiaDevicePlugin": (("mlplatform:cluster", "charts", "nvidiaDevicePlugin"), ("mlplatform:cluster", "charts", "pinReasons", "nvidiaDevicePlugin")),
    "awsLoadBalancerController": (("mlplatform:cluster", "charts", "awsLoadBalancerController"),
                                  ("mlplatform:cluster", "charts", "pinReasons", "awsLoadBalancerController")),
    "jupyterhub": (("mlplatform:notebooks", "chartVersion"), ("mlplatform:notebooks", "chartPinReason")),
}
JUPYTERHUB_MAJOR = 4


def ami_releases() -> dict[str, dict]:
    return json.loads(upstream.release_list(AMI_RELEASE_LIST).read_text(encoding="utf-8"))["releases"]


def needed_variants(stack: str) -> set[str]:
    """`<arch>-<variant>` AMIs the stack's Karpenter pools launch: standard x86_64 always, NVIDIA for
    GPU pools, arm64 for pools that allow it (the one alias resolves to each of them)."""
    variants = {"x86_64-standard"}
    for pool in planned(stack).config.cluster.node_pools:
        variants |= {f"{AMI_ARCHITECTURES[arch]}-{'nvidia' if pool.gpu else 'standard'}" for arch in pool.architectures}
    return variants


def ami_aliases(stack: str) -> set[str]:
    """The stack's alias and every alias its EC2NodeClasses select AMIs by."""
    aliases = {planned(stack).config.cluster.ami_alias}
    for resource in planned(stack).resources:
        if resource.type == "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass":
            aliases |= {term["alias"] for term in resource.inputs.get("spec", {}).get("amiSelectorTerms", []) if "alias" in term}
    return aliases


def alias_problem(stack: str, alias: str, kubernetes: str, variants: set[str]) -> str | None:
    family, _, version = alias.partition("@")
    if family != "al2023":
        return f"{alias}: only AL2023 aliases can be checked (against the {AMI_RELEASE_LIST} release list)"
    if version == "latest":
        return None if stack in FLOATING_AMI_STACKS else f"{alias} is not pinned: {stack} must name a release (al2023@vYYYYMMDD)"
    known = ami_releases()
    fits = sorted((v for v, r in known.items() if r["changelog"] not in WITHDRAWN and variants <= set(r["al2023"].get(kubernetes, []))), reverse=True)
    hint = f" (the newest release with {', '.join(sorted(variants))} AL2023 AMIs for Kubernetes {kubernetes} is {fits[0] if fits else 'none'})"
    release = known.get(version)
    if release is None:
        return f"{alias}: {version} is not a release of amazon-eks-ami{hint}"
    if release["changelog"] in WITHDRAWN:
        return f"{alias}: release {version} was {release['changelog']}{hint}"
    missing = sorted(variants - set(release["al2023"].get(kubernetes, [])))
    if missing:
        return f"{alias}: release {version} has no AL2023 {', '.join(missing)} AMI for Kubernetes {kubernetes}{hint}"
    return None


@pytest.mark.parametrize("stack", STACKS)
def test_the_ami_alias_names_a_release_with_the_amis_the_stack_needs(stack):
    kubernetes = planned(stack).config.cluster.kubernetes_version
    variants = needed_variants(stack)
    problems = [p for alias in sorted(ami_aliases(stack)) if (p := alias_problem(stack, alias, kubernetes, variants))]
    assert not problems, f"{stack}: " + "\n".join(problems)


@pytest.mark.parametrize("stack, alias, expected", [
    ("prod", "al2023@latest", "al2023@latest is not pinned: prod must name a release"),
    ("dev", "al2023@latest", None),
    ("dev", "al2023@v20251117", "v20251117 is not a release of amazon-eks-ami"),
    ("dev", "al2023@v20260128", "release v20260128 was abandoned"),
    ("dev", "al2023@v20251103", "release v20251103 has no AL2023 x86_64-nvidia, x86_64-standard AMI for Kubernetes 1.33"),
    ("dev", "al2023@v20251108", None),
    ("dev", "bottlerocket@latest", "only AL2023 aliases can be checked"),
])
def test_the_ami_check_refuses_what_karpenter_could_not_resolve(stack, alias, expected):
    problem = alias_problem(stack, alias, "1.33", {"x86_64-standard", "x86_64-nvidia"})
    assert (problem is None) if expected is None else (expected in (problem or "")), problem


def test_every_chart_a_plan_installs_is_pinned_in_the_lock():
    problems = []
    for stack in STACKS:
        for release in releases(stack):
            try:
                upstream.pinned("chart", release.chart_name, release.version)
            except upstream.UpstreamError as error:
                problems.append(f"{release.label}: {error}")
    assert not problems, "\n".join(problems)


def test_every_lock_entry_is_used_by_some_stack():
    charts = {(r.chart_name, r.version) for stack in STACKS for r in releases(stack)}
    # A CRD set is used at the version of the chart that installs it.
    crd_sets = {(name, version) for name, installers in crd.CRD_SET_CHARTS.items() for chart, version in charts if chart in installers}
    used = {"chart": charts, "crds": crd_sets, "releases": {(AMI_RELEASE_LIST, a.version) for a in upstream.lock() if a.name == AMI_RELEASE_LIST}}
    unused = [a.label for a in upstream.lock() if (a.name, a.version) not in used[a.kind]]
    assert not unused, f"pinned in {upstream.LOCK_PATH.name} but used by no stack (remove them): " + ", ".join(unused)


def pinned_value(stack: str, path: tuple[str, ...]) -> Any:
    """A value of the stack file, read straight from its YAML (None where absent)."""
    value: Any = stack_yaml(stack)["config"]
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def reason(stack: str, chart: str) -> str:
    return str(pinned_value(stack, CHART_PINS[chart][1]) or "").strip()


def reason_key(chart: str) -> str:
    return ".".join(CHART_PINS[chart][1])


@pytest.mark.parametrize("chart", list(CHART_PINS))
def test_a_chart_version_differs_between_stacks_only_for_a_stated_reason(chart):
    versions = {stack: str(pinned_value(stack, CHART_PINS[chart][0])) for stack in STACKS}
    newest = max(versions.values(), key=crd.version_key)
    ahead = ", ".join(stack for stack, version in versions.items() if version == newest)
    lagging = [f"{stack} pins {chart} {version} while {ahead} pin {newest}, and gives no reason ({reason_key(chart)})"
               for stack, version in versions.items() if version != newest and not reason(stack, chart)]
    assert not lagging, "\n".join(lagging)


def newest_upstream_jupyterhub() -> str:
    manifest = upstream.SHARED_DIR / "MANIFEST.json"
    if not manifest.exists():
        pytest.fail(f"{manifest} is missing: {upstream.HOW_TO_GET}", pytrace=False)
    versions = [entry["version"] for entry in json.loads(manifest.read_text(encoding="utf-8"))["entries"]
                if entry["kind"] == "chart" and entry["name"] == "jupyterhub" and re.fullmatch(rf"{JUPYTERHUB_MAJOR}\.\d+\.\d+", entry["version"])]
    assert versions, f"{manifest} has no JupyterHub {JUPYTERHUB_MAJOR}.x release (pre-releases do not count)"
    return max(versions, key=crd.version_key)


@pytest.mark.parametrize("stack", STACKS)
def test_jupyterhub_is_the_newest_upstream_release_of_its_major_or_the_stack_says_why(stack):
    newest = newest_upstream_jupyterhub()
    version = str(pinned_value(stack, CHART_PINS["jupyterhub"][0]))
    assert version == newest or reason(stack, "jupyterhub"), (
        f"{stack} pins JupyterHub {version}; the newest {JUPYTERHUB_MAJOR}.x in {upstream.SHARED_DIR} is {newest}: "
        f"upgrade, or give the reason in {reason_key('jupyterhub')}")


@pytest.mark.parametrize("chart", list(CHART_PINS))
def test_a_pin_reason_explains_a_difference_that_exists(chart):
    versions = {str(pinned_value(stack, CHART_PINS[chart][0])) for stack in STACKS}
    settled = len(versions) == 1 and (chart != "jupyterhub" or versions == {newest_upstream_jupyterhub()})
    stale = [stack for stack in STACKS if settled and reason(stack, chart)]
    assert not stale, f"{', '.join(stale)}: {reason_key(chart)} explains a difference no stack has any more: remove it"
