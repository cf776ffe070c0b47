"""Every Helm release of every stack, rendered by Helm v3.17.2 from its pinned upstream chart with
exactly the values the plan records: it renders, its objects pass strict schema validation at the
stack's Kubernetes version, its selectors select what the chart means them to, and checkov finds
nothing outside the skip list below."""

from __future__ import annotations

import copy
from fnmatch import fnmatch

import pytest

from mlp import upstream
from tests.conformance import render
from tests.conftest import STACKS

RELEASES = render.release_params()

# Custom kinds a release renders without rendering their CRD, so there is no schema to check them
# against here: (kind, reason). Empty today; CRDs of the platform's own custom resources are checked
# with the upstream CRD sets, not here.
UNVALIDATED_KINDS: dict[str, str] = {}

# checkov checks the rendered charts may fail: check ID -> (reason, where). `where` holds fnmatch
# patterns over "<release>/<checkov resource>"; a reason is only acceptable when no chart value
# can fix the finding. Everything else a chart fails is fixed through the release's values.
CHECKOV_SKIPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "CKV_K8S_43": ("Image should use digest: the charts pin their images by tag and neither the chart nor "
                   "upstream.lock.json carries their digests, so a digest set through values could not be checked "
                   "offline (Karpenter's chart pins digests itself and passes)", ("*",)),
    "CKV_K8S_38": ("Service account tokens: the hub, user scheduler, Karpenter and the load balancer controller "
                   "and the KubeRay, Kueue and Spark operators watch the API server with theirs; the JupyterHub proxy "
                   "and the device plugin templates have no value to turn automounting off", ("*",)),
    "CKV2_K8S_6": ("NetworkPolicy per pod: no chart offers one for its controller pods (JupyterHub only for hub, "
                   "proxy and user servers; not the load balancer controller, Karpenter or the three operators); a policy the platform declared itself would sit outside the release", ("*",)),
    "CKV_K8S_35": ("Secrets as environment variables: the JupyterHub chart hands CONFIGPROXY_AUTH_TOKEN to the hub "
                   "and proxy containers from its own Secret through secretKeyRef, with no value to mount it instead",
                   ("jupyterhub/Deployment.*.hub", "jupyterhub/Deployment.*.proxy")),
    "CKV_K8S_8": ("Liveness probe: the device plugin chart defines none and has no value for one (the plugin "
                  "serves only the kubelet's gRPC socket)", ("nvidia-device-plugin/*",)),
    "CKV_K8S_9": ("Readiness probe: the device plugin chart defines none and has no value for one",
                  ("nvidia-device-plugin/*",)),
    "CKV_K8S_23": ("Root containers: the device plugin writes its socket into the kubelet's root-owned "
                   "/var/lib/kubelet/device-plugins host folder", ("nvidia-device-plugin/*",)),
    "CKV_K8S_40": ("High UID: the device plugin runs as root for the kubelet's device-plugin folder (CKV_K8S_23); the Spark "
                   "operator's controller runs spark-submit, whose Hadoop login needs the passwd entry only the image's own "
                   "UID 185 has (the root filesystem is read-only, so its entrypoint cannot add one for another UID)",
                   ("nvidia-device-plugin/*", "spark-operator/Deployment.*.spark-operator-controller")),
    "CKV2_K8S_5": ("Secrets: Kueue's internal certificate management keeps its webhook and visibility serving certificates in a "
                   "Secret of its own namespace, which its manager reads and rewrites; the chart's only alternative is "
                   "cert-manager, which the platform does not run", ("kueue/RoleBinding.kueue-system.kueue-manager-secrets-rolebinding",)),
    "CKV_K8S_155": ("Webhook configurations: Kueue and the Spark operator's webhook generate their own serving certificates and "
                    "write the CA bundle into their own webhook configurations (the charts' alternative is cert-manager)",
                    ("kueue/ClusterRole.*.kueue-manager-role", "spark-operator/ClusterRole.*.spark-operator-webhook")),
    # The MPS control daemon only schedules onto nodes labelled nvidia.com/mps.capable=true, which only
    # MPS sharing sets up and the platform never does; its containers are privileged in the template itself.
    "CKV_K8S_16": ("Privileged: hard-coded on the MPS control daemon's containers", ("nvidia-device-plugin/*mps-control-daemon*",)),
    "CKV_K8S_20": ("Privilege escalation: implied by the MPS control daemon's hard-coded privileged containers",
                   ("nvidia-device-plugin/*mps-control-daemon*",)),
    "CKV_K8S_28": ("NET_RAW: implied by the MPS control daemon's hard-coded privileged containers",
                   ("nvidia-device-plugin/*mps-control-daemon*",)),
    "CKV_K8S_37": ("Capabilities: implied by the MPS control daemon's hard-coded privileged containers",
                   ("nvidia-device-plugin/*mps-control-daemon*",)),
    "CKV_K8S_22": ("Read-only root file system: the MPS control daemon's container security context is hard-coded "
                   "to `privileged: true` alone", ("nvidia-device-plugin/*mps-control-daemon*",)),
    "CKV_K8S_15": ("Image pull policy: the MPS control daemon's mount-shm init container has none in the template "
                   "(its other containers take image.pullPolicy)", ("nvidia-device-plugin/*mps-control-daemon*",)),
}


def _skip_reason(failure: render.CheckovFailure) -> str | None:
    reason, where = CHECKOV_SKIPS.get(failure.check_id, (None, ()))
    return reason if any(fnmatch(f"{failure.release}/{failure.resource}", pattern) for pattern in where) else None


@pytest.mark.parametrize(("stack", "name"), RELEASES)
def test_release_renders_from_its_pinned_chart(stack, name):
    rendered = render.render(stack, name)
    assert rendered.objects, f"{rendered.release.label}: `{' '.join(rendered.command)}` renders nothing"


@pytest.mark.parametrize(("stack", "name"), RELEASES)
def test_rendered_objects_pass_strict_schema_validation(stack, name):
    objects = render.objects(stack, name)
    version = render.kubernetes_version(stack)
    crds = render.rendered_crds(objects)
    failures = []
    for obj in objects:
        problems = render.schema_problems(obj, version, crds)
        if problems is None and obj.get("kind") not in UNVALIDATED_KINDS:
            failures.append(f"{render.describe(obj)}: no schema for {obj.get('apiVersion')} in Kubernetes {version} "
                            f"nor among the CRDs {name} renders; list it in UNVALIDATED_KINDS with a reason")
        failures.extend(f"{render.describe(obj)}: {problem}" for problem in problems or [])
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(("stack", "name"), RELEASES)
def test_workload_selectors_match_their_pod_templates(stack, name):
    failures = []
    for obj in render.objects(stack, name):
        for path, selector, template in render.pod_templates(obj):
            if selector is None and obj["kind"] in ("Job", "CronJob"):
                continue  # the Job controller generates the selector
            if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
                failures.append(f"{render.describe(obj)}: {path}.selector is empty")
                continue
            failures.extend(f"{render.describe(obj)}: {path}.selector {problem}"
                            for problem in render.selector_mismatches(selector, render.template_labels(template)))
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(("stack", "name"), RELEASES)
def test_services_and_disruption_budgets_select_a_workload_of_the_release(stack, name):
    """ExternalName Services and Services without a selector (endpoints managed by hand) select no pods by design."""
    objects = render.objects(stack, name)
    templates = [(obj["metadata"].get("namespace"), render.template_labels(template))
                 for obj in objects for _, _, template in render.pod_templates(obj)]
    failures = []
    for obj in objects:
        namespace = obj["metadata"].get("namespace")
        if obj["kind"] == "Service" and obj["spec"].get("type") != "ExternalName" and obj["spec"].get("selector"):
            selector = {"matchLabels": obj["spec"]["selector"]}
        elif obj["kind"] == "PodDisruptionBudget":
            selector = obj["spec"].get("selector") or {}
        else:
            continue
        if not any(ns == namespace and not render.selector_mismatches(selector, labels) for ns, labels in templates):
            failures.append(f"{render.describe(obj)}: selector {selector} matches no pod template {name} renders")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("stack", STACKS)
def test_checkov_finds_nothing_outside_the_skip_list(stack):
    scan = render.checkov(stack)
    assert scan.summary["parsing_errors"] == 0, scan.summary
    assert scan.summary["passed"] > 0, scan.summary
    unexplained = sorted(str(failure) for failure in scan.failures if _skip_reason(failure) is None)
    if unexplained:
        pytest.fail(f"{len(unexplained)} checkov finding(s) in the rendered releases of {stack} "
                    f"(fix them through the release values):\n" + "\n".join(unexplained), pytrace=False)


def test_every_checkov_skip_is_still_needed():
    """A skip no stack needs any more is removed, so the list stays short and true."""
    used = {failure.check_id for stack in STACKS for failure in render.checkov(stack).failures if _skip_reason(failure)}
    assert set(CHECKOV_SKIPS) <= used, f"skips that match no finding: {sorted(set(CHECKOV_SKIPS) - used)}"


# --- the checks themselves catch what they are for ------------------------------------------------

def test_a_chart_version_the_lock_does_not_pin_fails_with_how_to_pin_it():
    pinned = render.releases("dev")[0]
    unpinned = render.HelmRelease(**{**pinned.__dict__, "version": "0.0.0-unpinned"})
    with pytest.raises(upstream.UpstreamError, match=r"0\.0\.0-unpinned is not pinned .*add it to the lock"):
        render.chart_dir(unpinned)


def test_a_chart_pulled_from_another_repository_than_the_lock_pins_fails():
    pinned = next(r for r in render.releases("dev") if not r.chart.startswith("oci://"))
    moved = render.HelmRelease(**{**pinned.__dict__, "repository": "https://charts.example.com/"})
    with pytest.raises(upstream.UpstreamError, match="pulls from https://charts.example.com/"):
        render.chart_dir(moved)


def test_selector_check_catches_a_label_the_template_lacks():
    labels = {"app.kubernetes.io/name": "hub", "tier": "web"}
    assert not render.selector_mismatches({"matchLabels": {"app.kubernetes.io/name": "hub"}}, labels)
    assert render.selector_mismatches({"matchLabels": {"app.kubernetes.io/name": "proxy"}}, labels)
    assert render.selector_mismatches({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["web"]}]}, labels)
    assert render.selector_mismatches({"matchExpressions": [{"key": "track", "operator": "Exists"}]}, labels)


def test_a_label_given_twice_is_refused_like_the_api_server_refuses_it():
    with pytest.raises(Exception, match="mapping key 'app' already defined"):
        render.parse_manifests("kind: Pod\nmetadata:\n  labels:\n    app: hub\n    app: proxy\n")


def test_custom_resource_check_refuses_a_misspelt_field():
    objects = render.objects("dev", "aws-load-balancer-controller")
    crds = render.rendered_crds(objects)
    params = next(o for o in objects if o["kind"] == "IngressClassParams")
    assert render.schema_problems(params, render.kubernetes_version("dev"), crds) == []
    broken = copy.deepcopy(params)
    broken.setdefault("spec", {})["schemee"] = "internal"
    assert any("schemee" in problem for problem in render.schema_problems(broken, render.kubernetes_version("dev"), crds))


def test_a_missing_tool_fails_with_how_to_get_it(monkeypatch):
    monkeypatch.setattr(render, "HELM", render.PROJECT_ROOT / ".tools" / "helm-missing")
    with pytest.raises(pytest.fail.Exception, match=r"^\.tools/helm-missing is missing: run `make test`"):
        render.render("dev", render.releases("dev")[0].name)
    monkeypatch.undo()
    monkeypatch.setattr(render, "CHECKOV", render.PROJECT_ROOT / ".venv-checkov" / "bin" / "checkov-missing")
    with pytest.raises(pytest.fail.Exception, match=r"checkov-missing is missing: run `make test` \(or `make checkov`\)"):
        render.checkov("dev")
