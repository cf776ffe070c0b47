"""A notebook server of every team profile, as the rendered JupyterHub release would spawn it, mounts
its team's shared folder beside the private home.

The hub reads its configuration from the values Secret the chart renders; the chart's own
`jupyterhub_config.py` turns `singleuser.storage` into KubeSpawner's `volumes` / `volume_mounts` (the
block of that file is run here as it is, against the rendered Secret); KubeSpawner then applies the
chosen profile's override and the chosen team's override, merging dicts into the configured ones
(`KubeSpawner._apply_overrides`: "If the value is a dictionary, it is *merged* with the existing
value"). The pod's volumes are the dict's values. Every claim a server mounts must exist in the
release's namespace in the stack's plan, pre-bound to the team's EFS access point.
"""

from __future__ import annotations

import base64
import copy
import types

import pytest
import yaml

from components.notebook_profiles import TEAM_FOLDER_VOLUME
from components.team_folders import claim_name
from tests.conformance import render
from tests.conftest import STACKS, planned

RELEASE = "jupyterhub"
CONFIG_FILE = "files/hub/jupyterhub_config.py"
# The part of the chart's hub config that builds the user pods' volumes from singleuser.storage.
VOLUMES_START = "volumes = {}\n"
VOLUMES_END = "c.KubeSpawner.volume_mounts = volume_mounts\n"


def hub_values(stack: str) -> dict:
    """The chart values the hub reads at start-up, from the Secret the release renders."""
    (secret,) = [o for o in render.objects(stack, RELEASE) if o["kind"] == "Secret" and "values.yaml" in (o.get("data") or {})]
    return yaml.safe_load(base64.b64decode(secret["data"]["values.yaml"]))


def chart_volumes(stack: str, values: dict) -> tuple[dict, dict]:
    """KubeSpawner's configured volumes and volume mounts, computed by the chart's own code."""
    source = (render.chart_dir(render.release(stack, RELEASE)) / CONFIG_FILE).read_text()
    start, end = source.index(VOLUMES_START), source.index(VOLUMES_END) + len(VOLUMES_END)

    def get_config(key, default=None):  # z2jh.get_config over the rendered values
        value = values
        for level in key.split("."):
            if not isinstance(value, dict) or level not in value:
                return default
            value = value[level]
        return value

    def set_config_if_not_none(parent, name, key):
        if get_config(key) is not None:
            setattr(parent, name, get_config(key))

    c = types.SimpleNamespace(KubeSpawner=types.SimpleNamespace())
    exec(compile(source[start:end], CONFIG_FILE, "exec"), {"c": c, "get_config": get_config, "get_name": lambda name: name,
                                                            "set_config_if_not_none": set_config_if_not_none})
    return c.KubeSpawner.volumes, c.KubeSpawner.volume_mounts


def recursive_update(target: dict, new: dict) -> None:
    """kubespawner.utils.recursive_update: None removes a key, dicts merge, anything else replaces."""
    for key, value in new.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            recursive_update(target[key], value)
        else:
            target[key] = value


def spawn(volumes: dict, mounts: dict, *overrides: dict) -> tuple[list[dict], list[dict]]:
    """The pod's volumes and mounts after KubeSpawner applies the profile's and the choice's overrides."""
    spawner = {"volumes": copy.deepcopy(volumes), "volume_mounts": copy.deepcopy(mounts)}
    for override in overrides:
        for key, value in override.items():
            if isinstance(value, dict) and isinstance(spawner.get(key), dict):
                recursive_update(spawner[key], value)
            else:
                spawner[key] = value
    # KubeSpawner turns dict-valued volumes into the list of their values, sorted by key; lists stay as given.
    def values(items):
        return [items[key] for key in sorted(items)] if isinstance(items, dict) else list(items)

    return values(spawner["volumes"]), values(spawner["volume_mounts"])


@pytest.mark.parametrize("stack", STACKS)
def test_every_team_profiles_server_mounts_its_team_folder_beside_the_home(stack):
    values = hub_values(stack)
    volumes, mounts = chart_volumes(stack, values)
    home_mount = values["singleuser"]["storage"]["homeMountPath"]
    settings = planned(stack).config.team_folders
    claims = {(c.inputs["metadata"]["namespace"], c.inputs["metadata"]["name"])
              for c in planned(stack).run.by_type("kubernetes:core/v1:PersistentVolumeClaim")}
    namespace = render.release(stack, RELEASE).namespace
    profiles = values["singleuser"]["profileList"]
    assert profiles
    for profile in profiles:
        choices = profile["profile_options"]["team"]["choices"]
        assert set(choices) == set(planned(stack).config.team_names), profile["slug"]
        for team, choice in choices.items():
            pod_volumes, pod_mounts = spawn(volumes, mounts, profile["kubespawner_override"], choice["kubespawner_override"])
            where = f"{stack} profile {profile['slug']} team {team}"
            # The private home: the chart's per-user claim, still there after the overrides.
            assert [v["persistentVolumeClaim"]["claimName"] for v in pod_volumes if v["name"] != TEAM_FOLDER_VOLUME] == ["{pvc_name}"], where
            assert [m["mountPath"] for m in pod_mounts if m["name"] != TEAM_FOLDER_VOLUME] == [home_mount], where
            # The team's folder: its own claim, in the hub's namespace, at the configured path.
            (folder,) = [v for v in pod_volumes if v["name"] == TEAM_FOLDER_VOLUME]
            assert folder["persistentVolumeClaim"]["claimName"] == claim_name(team), where
            assert (namespace, claim_name(team)) in claims, where
            (folder_mount,) = [m for m in pod_mounts if m["name"] == TEAM_FOLDER_VOLUME]
            assert folder_mount["mountPath"] == settings.mount_path, where


def test_a_choice_override_that_replaced_the_volumes_would_be_caught():
    """The check above sees the home disappear if an override replaced the chart's volumes."""
    volumes = {"volume-{user_server}": {"name": "volume-{user_server}", "persistentVolumeClaim": {"claimName": "{pvc_name}"}}}
    mounts = {"volume-{user_server}": {"name": "volume-{user_server}", "mountPath": "/home/jovyan"}}
    replaced, _ = spawn(volumes, mounts, {"volumes": [{"name": TEAM_FOLDER_VOLUME, "persistentVolumeClaim": {"claimName": "x"}}]})
    assert [v["name"] for v in replaced] == [TEAM_FOLDER_VOLUME]
    merged, merged_mounts = spawn(volumes, mounts, {"volumes": {TEAM_FOLDER_VOLUME: {"name": TEAM_FOLDER_VOLUME, "persistentVolumeClaim": {"claimName": "x"}}},
                                                    "volume_mounts": {TEAM_FOLDER_VOLUME: {"name": TEAM_FOLDER_VOLUME, "mountPath": "/home/jovyan/shared"}}})
    assert [v["name"] for v in merged] == [TEAM_FOLDER_VOLUME, "volume-{user_server}"]
    assert [m["mountPath"] for m in merged_mounts] == ["/home/jovyan/shared", "/home/jovyan"]
