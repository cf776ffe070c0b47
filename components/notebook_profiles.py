"""What a notebook user picks from and who pays for it: the profiles KubeSpawner offers, each with a
"team" choice that sets the server's data-lake identity, cost labels and storage class, and the
hub hook that offers each user only the teams of their groups."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

from components.config import NotebookProfileConfig
from components.iam import PodSubject
from components.nodepools import GPU_RESOURCE
from components.tagging import CostTagging

COMPONENT = "notebooks"
NAMESPACE = "notebooks"


def team_service_account(team: str) -> str:
    return f"notebook-{team}"


def team_pod_subject(team: str) -> PodSubject:
    """The notebook servers that run with `team`'s data-lake role."""
    return PodSubject(NAMESPACE, team_service_account(team))


@dataclass(frozen=True)
class TeamFolderMounts:
    """The team folders (components/team_folders.py) notebook servers mount: each team's claim in
    this namespace, and where servers see it."""

    claims: dict[str, str]
    mount_path: str


# The pod volume of a server's team folder (KubeSpawner merges volumes by key, beside the home's).
TEAM_FOLDER_VOLUME = "team-folder"


@dataclass(frozen=True)
class Placement:
    """What the chart values need from the cluster, as plain data."""

    storage_class_name: str
    ingress_class_name: str
    system_node_selector: dict[str, str]
    gpu_node_selector: dict[str, str] = field(default_factory=dict)
    gpu_toleration: Optional[dict[str, Any]] = None
    team_folders: Optional[TeamFolderMounts] = None
    ingress_group: Optional[str] = None


def profile_image(profile: NotebookProfileConfig, repository_urls: dict[str, str]) -> str:
    if profile.image is not None:
        return profile.image
    return f"{repository_urls[profile.repository]}:{profile.tag}"


def _memory(gibibytes: int) -> str:
    # KubeSpawner's byte specifications are binary: "8G" is 8 GiB.
    return f"{gibibytes}G"


def team_storage_class(team: str) -> str:
    return f"notebooks-{team}"


def team_override(team: str, tagging: CostTagging, folders: Optional[TeamFolderMounts] = None) -> dict[str, Any]:
    """What choosing a team changes on a user server: its data access and who pays for it.

    KubeSpawner merges dict overrides into the configured value, so the team's cost labels replace
    the platform team's while the chart's own labels (`hub.jupyter.org/network-access-hub`) stay."""
    labels = tagging.cost_labels(COMPONENT, team)
    override: dict[str, Any] = {
        "service_account": team_service_account(team),
        "environment": {"MLPLATFORM_TEAM": team},
        "extra_labels": labels,
        "storage_extra_labels": labels,
        # The home volume is billed to the team: its class tags EBS volumes with the team's tags.
        "storage_class": team_storage_class(team),
    }
    if folders is not None and team in folders.claims:
        # The chart keeps the home volume under its own key: these merge in beside it.
        override["volumes"] = {TEAM_FOLDER_VOLUME: {"name": TEAM_FOLDER_VOLUME, "persistentVolumeClaim": {"claimName": folders.claims[team]}}}
        override["volume_mounts"] = {TEAM_FOLDER_VOLUME: {"name": TEAM_FOLDER_VOLUME, "mountPath": folders.mount_path}}
        override["environment"]["MLPLATFORM_TEAM_FOLDER"] = folders.mount_path
    return override


def profile_entry(profile: NotebookProfileConfig, teams: tuple[str, ...], placement: Placement, repository_urls: dict[str, str],
                  tagging: CostTagging) -> dict[str, Any]:
    """One entry of KubeSpawner's profile_list."""
    override: dict[str, Any] = {
        "image": profile_image(profile, repository_urls),
        "cpu_guarantee": profile.cpu,
        "cpu_limit": profile.cpu,
        "mem_guarantee": _memory(profile.memory_gi),
        "mem_limit": _memory(profile.memory_gi),
    }
    if profile.start_timeout_seconds is not None:
        override["start_timeout"] = profile.start_timeout_seconds
    if profile.kind == "gpu":
        if placement.gpu_toleration is None:
            raise ValueError(f"profile {profile.name!r} needs a GPU pool, but the cluster has no GPU toleration")
        gpus = {GPU_RESOURCE: profile.gpus}
        override.update({
            "extra_resource_guarantees": gpus,
            "extra_resource_limits": gpus,
            "tolerations": [placement.gpu_toleration],
            "node_selector": dict(placement.gpu_node_selector),
        })
    if profile.kind == "rstudio":
        # The RStudio image runs RStudio Server behind jupyter-rsession-proxy.
        override["default_url"] = "/rstudio"
    entry: dict[str, Any] = {
        "display_name": profile.display_name,
        "slug": profile.name,
        "description": profile.description,
        "kubespawner_override": override,
        "profile_options": {
            "team": {
                "display_name": "Team (data-lake access)",
                "choices": {
                    team: {"display_name": team, "kubespawner_override": team_override(team, tagging, placement.team_folders)}
                    for team in teams
                },
            }
        },
    }
    if profile.default:
        entry["default"] = True
    return entry


def team_profiles_hook(team_groups: dict[str, str]) -> str:
    """Hub config (Python, run by the hub) offering each user only the teams of their groups."""
    return "\n".join([
        "# Generated by mlplatform: offer each user only the teams whose group they belong to.",
        "import copy",
        "",
        f"_TEAM_GROUPS = {json.dumps(team_groups, sort_keys=True)}",
        "_ALL_PROFILES = c.KubeSpawner.profile_list",
        "",
        "",
        "def _profiles_for_user(spawner):",
        "    groups = {group.name for group in spawner.user.groups}",
        "    teams = {team for team, group in _TEAM_GROUPS.items() if group in groups}",
        "    offered = []",
        "    for profile in copy.deepcopy(_ALL_PROFILES):",
        "        choices = profile['profile_options']['team']['choices']",
        "        profile['profile_options']['team']['choices'] = {t: c for t, c in choices.items() if t in teams}",
        "        if profile['profile_options']['team']['choices']:",
        "            offered.append(profile)",
        "    return offered",
        "",
        "",
        "c.KubeSpawner.profile_list = _profiles_for_user",
        "",
    ])
