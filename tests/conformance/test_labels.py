"""The cost-label contract of DESIGN.md on Kubernetes objects, declared and rendered.

Kubernetes objects carry the cost facts as prefixed labels (`mlplatform.io/cost-center`,
`mlplatform.io/environment`, `mlplatform.io/team`, `mlplatform.io/component`) beside
`app.kubernetes.io/part-of` and `app.kubernetes.io/managed-by`, and the platform never sets a key a
chart or controller owns: JupyterHub selects its Deployments on `component` and KubeSpawner
overwrites `component` on user pods, so an unprefixed cost label is silently lost or breaks a
selector. Checked on:

- every object the plan declares itself (its labels and its pod template's);
- every label map the platform hands a chart through release values, and the pod templates the
  chart renders from them;
- JupyterHub's user servers and their volumes: the chart's own `jupyterhub_config.py`, as rendered
  into the hub ConfigMap, is executed against the rendered hub Secret's values to get KubeSpawner's
  configuration, then each profile and team choice is applied as KubeSpawner applies
  `kubespawner_override`.
"""

from __future__ import annotations

import base64
import sys
import types
from typing import Any, Iterator
from unittest import mock

import pytest
import yaml

from components.tagging import CostTagging
from tests.conformance import render
from tests.conftest import STACKS, planned
from tests.test_kubernetes_schema import _manifest

COST_LABELS = ("mlplatform.io/cost-center", "mlplatform.io/environment", "mlplatform.io/team", "mlplatform.io/component")
REQUIRED_LABELS = (*COST_LABELS, "app.kubernetes.io/part-of", "app.kubernetes.io/managed-by")
TAG_OF_LABEL = {"mlplatform.io/cost-center": "CostCenter", "mlplatform.io/environment": "Environment",
                "mlplatform.io/team": "Team", "mlplatform.io/component": "Component"}

# Keys charts and controllers own (DESIGN.md): the platform never sets them.
OWNED_KEYS = {
    "component": "JupyterHub selects its pods on it and KubeSpawner overwrites it on user pods and volumes",
    "app": "charts select their pods on it",
    "release": "charts select their pods on it",
    "heritage": "Helm and KubeSpawner set it",
    "chart": "charts set it",
    "app.kubernetes.io/instance": "Helm charts select their pods on it",
    "app.kubernetes.io/version": "charts set it",
    "helm.sh/chart": "Helm charts set it",
    # The contract's cost keys are prefixed; the bare names are the collisions it exists to avoid.
    "cost-center": "a cost label without its mlplatform.io/ prefix",
    "environment": "a cost label without its mlplatform.io/ prefix",
    "team": "a cost label without its mlplatform.io/ prefix",
}
OWNED_PREFIXES = {
    "hub.jupyter.org/": "JupyterHub's chart and KubeSpawner own the domain",
    "karpenter.sh/": "Karpenter owns the domain and refuses it in NodePool templates",
}
# In values handed to a chart, the chart's own recommended labels too: Helm charts render them on
# the same objects (a second copy of a key makes the manifest invalid YAML for the API server).
CHART_OWNED_KEYS = {
    "app.kubernetes.io/name": "Helm charts select their pods on it",
    "app.kubernetes.io/component": "charts set it",
    "app.kubernetes.io/managed-by": "Helm (or KubeSpawner) manages what the chart renders and says so",
}

# Label maps of declared objects that cannot hold all six keys: (kind, path) -> (required keys, reason).
DECLARED_EXCEPTIONS = {
    ("NodePool", "spec.template.metadata.labels"): (
        COST_LABELS,
        "node labels: Karpenter refuses keys in the kubernetes.io domains in a NodePool template, so the nodes "
        "carry the four cost labels without app.kubernetes.io/part-of and managed-by",
    ),
}
# Charts whose pod templates cannot carry the cost labels: chart name -> reason.
UNLABELLED_CHARTS = {
    "nvidia-device-plugin": "the chart has no value for pod labels (only selectorLabelsOverride, which would change "
                            "its immutable DaemonSet selectors)",
    "kueue": "the controller manager's pod template takes only the chart's selector labels; no value adds pod labels",
}


def owned_keys(labels: dict[str, str], extra: dict[str, str] | None = None) -> list[str]:
    """`key (why)` for each key of `labels` the platform must not set."""
    owned = {**OWNED_KEYS, **(extra or {})}
    found = [f"{key} ({owned[key]})" for key in labels if key in owned]
    found += [f"{key} ({why})" for key in labels for prefix, why in OWNED_PREFIXES.items() if key.startswith(prefix)]
    return found


def missing(labels: dict[str, str] | None, required: tuple[str, ...]) -> list[str]:
    return [key for key in required if key not in (labels or {})]


def expected_cost_labels(stack: str, component: str, team: str | None = None) -> dict[str, str]:
    tags = CostTagging.from_config(planned(stack).config).all_tags(component, team)
    return {label: tags[tag] for label, tag in TAG_OF_LABEL.items()}


def wrong_values(where: str, labels: dict[str, str], expected: dict[str, str]) -> list[str]:
    return [f"{where} has {key}={labels.get(key)!r}, expected {value!r}" for key, value in expected.items() if labels.get(key) != value]


# --- (i) objects the plan declares ------------------------------------------------------------------

def declared_label_maps(manifest: dict) -> Iterator[tuple[str, dict | None]]:
    yield "metadata.labels", (manifest.get("metadata") or {}).get("labels")
    if manifest.get("kind") == "CronJob":
        yield "spec.jobTemplate.metadata.labels", ((manifest["spec"].get("jobTemplate") or {}).get("metadata") or {}).get("labels")
    for path, _, template in render.pod_templates(manifest):
        yield f"{path}.template.metadata.labels", render.template_labels(template)
    if manifest.get("kind") == "NodePool":
        yield "spec.template.metadata.labels", render.template_labels((manifest.get("spec") or {}).get("template") or {})


def _declared_objects(stack: str) -> list[tuple[str, dict]]:
    return [(r.urn.rsplit("::", 1)[-1], _manifest(r.inputs)) for r in planned(stack).resources
            if r.type.startswith("kubernetes:") and r.type != render.RELEASE_TYPE]


@pytest.mark.parametrize("stack", STACKS)
def test_declared_objects_carry_the_cost_labels_and_no_owned_key(stack):
    config = planned(stack).config
    teams = {config.platform_team, *config.team_names}
    objects = _declared_objects(stack)
    assert objects
    failures = []
    for name, manifest in objects:
        for path, labels in declared_label_maps(manifest):
            required, _ = DECLARED_EXCEPTIONS.get((manifest.get("kind"), path), (REQUIRED_LABELS, ""))
            where = f"{manifest.get('kind')} {name} {path}"
            if absent := missing(labels, required):
                failures.append(f"{where} lacks {', '.join(absent)}")
            if owned := owned_keys(labels or {}):
                failures.append(f"{where} sets {'; '.join(owned)}")
            labels = labels or {}
            if labels.get("mlplatform.io/environment", config.environment) != config.environment:
                failures.append(f"{where} says environment {labels['mlplatform.io/environment']!r}, the stack is {config.environment!r}")
            if labels.get("mlplatform.io/team", config.platform_team) not in teams:
                failures.append(f"{where} bills team {labels['mlplatform.io/team']!r}, which the stack does not have")
    assert not failures, "\n".join(failures)


# --- (ii) label maps handed to charts, and what the charts render from them -------------------------

def value_label_maps(values: Any, path: str = "") -> Iterator[tuple[str, dict]]:
    """Every label map in release values: a mapping under a key ending in `labels` (chart values such as
    `podLabels`, `extraLabels`, `commonLabels`; KubeSpawner's `extra_labels`), selectors excepted."""
    if isinstance(values, dict):
        for key, value in values.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(value, dict) and str(key).lower().endswith("labels") and str(key) != "matchLabels":
                yield where, value
            else:
                yield from value_label_maps(value, where)
    elif isinstance(values, list):
        for index, item in enumerate(values):
            yield from value_label_maps(item, f"{path}[{index}]")


def _component_of(release: render.HelmRelease) -> str:
    """The cost component of a release: the area of the platform component that declares it."""
    areas = [part.split(":")[1] for part in release.urn.split("::")[2].split("$") if part.startswith("mlplatform:")]
    return areas[-1]


def _labelled_release_params() -> list:
    return [p for p in render.release_params() if render.release(*p.values).chart_name not in UNLABELLED_CHARTS]


@pytest.mark.parametrize(("stack", "name"), render.release_params())
def test_label_maps_in_release_values_set_no_chart_owned_key(stack, name):
    values = render.release(stack, name).values
    failures = [f"values.{where} sets {'; '.join(owned)}"
                for where, labels in value_label_maps(values) if (owned := owned_keys(labels, CHART_OWNED_KEYS))]
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(("stack", "name"), _labelled_release_params())
def test_rendered_pod_templates_carry_the_platform_cost_labels(stack, name):
    release = render.release(stack, name)
    expected = expected_cost_labels(stack, _component_of(release))
    failures = []
    for obj in render.objects(stack, name):
        for path, _, template in render.pod_templates(obj):
            failures += wrong_values(f"{render.describe(obj)} {path}.template.metadata.labels", render.template_labels(template), expected)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("chart", sorted(UNLABELLED_CHARTS))
def test_charts_excused_from_pod_labels_still_offer_no_value_for_them(chart):
    used = [r for stack in STACKS for r in render.releases(stack) if r.chart_name == chart]
    assert used, f"no stack installs {chart} any more: remove it from UNLABELLED_CHARTS"
    for release in used:
        chart_values = yaml.safe_load((render.pinned_chart(release) / "values.yaml").read_text()) or {}
        # Service label maps (Kueue's metricsService.labels) label no pod.
        offered = [where for where, _ in value_label_maps(chart_values)
                   if "selector" not in where.lower() and "service." not in where.lower()]
        assert not offered, f"{release.label}: the chart now offers {offered}; pass the cost labels there"


# --- (iii) JupyterHub's user servers and their volumes, as KubeSpawner labels them ------------------

class _Section(dict):
    """A traitlets config section: traits are attributes; an unset one reads as an empty list, as
    traitlets' lazy values let `jupyterhub_config.py` append to a trait it never set."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self.setdefault(name, [])

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


class _Config(dict):
    def __missing__(self, name: str) -> _Section:
        return self.setdefault(name, _Section())

    def __getattr__(self, name: str) -> _Section:
        if name.startswith("__"):
            raise AttributeError(name)
        return self[name]


def _module(name: str, **attributes: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    return module


class _KubernetesModels(types.ModuleType):
    """kubernetes_asyncio.client: every model is a plain dict of its fields."""

    def __getattr__(self, name: str) -> Any:
        return lambda **fields: {"model": name, **fields}


def jupyterhub_release(stack: str) -> render.HelmRelease:
    (release,) = [r for r in render.releases(stack) if r.chart_name == "jupyterhub"]
    return release


def kubespawner_config(stack: str) -> _Section:
    """`c.KubeSpawner` after the hub runs the chart's `jupyterhub_config.py` (hub.extraConfig included)
    on the rendered hub ConfigMap and Secret; the hub's own Python libraries are stand-ins."""
    objects = render.objects(stack, jupyterhub_release(stack).name)
    (config_map,) = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "hub"]
    (secret,) = [o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"] == "hub"]
    names = config_map["data"]
    secret_files = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    values = yaml.safe_load(secret_files["values.yaml"])

    z2jh = _module("z2jh")
    exec(compile(names["z2jh.py"], "z2jh.py", "exec"), z2jh.__dict__)
    unset = object()

    def get_secret_value(key, default=unset):
        if key in secret_files:
            return secret_files[key]
        if default is unset:
            raise KeyError(f"{key} not in the hub Secret")
        return default

    z2jh.__dict__.update(
        _load_config=lambda: values,
        _get_config_value=lambda key: names[key],
        get_secret_value=get_secret_value,
        # Kubernetes sets <SERVICE>_SERVICE_PORT in the hub's environment.
        get_name_env=lambda name, suffix="": "8081",
    )
    stand_ins = {
        "z2jh": z2jh,
        "jupyterhub": _module("jupyterhub"),
        "jupyterhub.utils": _module("jupyterhub.utils", url_path_join=lambda *parts: "/".join(p.strip("/") for p in parts)),
        "kubernetes_asyncio": _module("kubernetes_asyncio", client=_KubernetesModels("kubernetes_asyncio.client")),
        "tornado": _module("tornado"),
        "tornado.httpclient": _module("tornado.httpclient", AsyncHTTPClient=types.SimpleNamespace(configure=lambda *a, **k: None)),
    }
    c = _Config()
    with mock.patch.dict(sys.modules, stand_ins), mock.patch.object(sys, "path", list(sys.path)):
        exec(compile(names["jupyterhub_config.py"], "jupyterhub_config.py", "exec"),
             {"__name__": "jupyterhub_config", "__file__": "/usr/local/etc/jupyterhub/jupyterhub_config.py", "get_config": lambda: c})
    return c["KubeSpawner"]


def offered_profiles(stack: str, spawner: _Section) -> list[dict]:
    """The profile list a user in every team's group sees (the list may be a callable, per user)."""
    profiles = spawner.get("profile_list") or []
    if callable(profiles):
        auth = planned(stack).config.notebooks.auth
        groups = [group for _, group in auth.team_groups] + list(auth.admin_groups)
        user = types.SimpleNamespace(name="conformance", groups=[types.SimpleNamespace(name=g) for g in groups])
        profiles = profiles(types.SimpleNamespace(user=user))
    return profiles


def _merged(base: dict, *overrides: dict) -> dict:
    """KubeSpawner applies each kubespawner_override in turn and merges dict-valued traits."""
    merged = dict(base)
    for override in overrides:
        merged.update(override or {})
    return merged


@pytest.mark.parametrize("stack", STACKS)
def test_user_servers_and_their_volumes_carry_their_team_cost_labels(stack):
    spawner = kubespawner_config(stack)
    # singleuser.extraLabels and singleuser.storage.extraLabels: a server's labels before its team is chosen.
    failures = [problem for trait in ("extra_labels", "storage_extra_labels")
                for problem in wrong_values(f"KubeSpawner.{trait}", spawner.get(trait) or {}, expected_cost_labels(stack, "notebooks"))]
    profiles = offered_profiles(stack, spawner)
    assert profiles, "JupyterHub offers no profile"
    for profile in profiles:
        name = profile.get("slug") or profile.get("display_name")
        choices = ((profile.get("profile_options") or {}).get("team") or {}).get("choices") or {}
        if not choices:
            failures.append(f"profile {name!r} offers no team choice: its servers would be billed to the platform team")
        for team, choice in choices.items():
            expected = expected_cost_labels(stack, "notebooks", team)
            for trait in ("extra_labels", "storage_extra_labels"):
                override = (choice.get("kubespawner_override") or {}).get(trait) or {}
                where = f"profile {name!r} team {team!r} kubespawner_override.{trait}"
                # The override alone must be right: older KubeSpawners replace a dict trait instead of merging it.
                failures += wrong_values(where, override, expected)
                if owned := owned_keys(override):
                    failures.append(f"{where} sets {'; '.join(owned)}")
                effective = _merged(spawner.get(trait) or {}, (profile.get("kubespawner_override") or {}).get(trait), override)
                failures += wrong_values(f"{where} merged into KubeSpawner.{trait}", effective, expected)
    assert not failures, "\n".join(failures)
