"""Team folder settings: one EFS file system per environment, a folder per team, mounted in notebooks."""

from __future__ import annotations

from typing import Annotated, Optional

from pydantic import AfterValidator, Field, ValidationInfo, model_validator

from components.config.base import Bool, Int, Number, Pairs, Section, matching, no_duplicates, one_of, section
from components.config.cluster import AddonVersion
from components.config.errors import Invalid

THROUGHPUT_MODES = ("elastic", "bursting", "provisioned")
# The days EFS lifecycle policies accept (AFTER_<n>_DAY[S]).
TRANSITION_DAYS = (1, 7, 14, 30, 60, 90, 180, 270, 365)
# POSIX ids of team folders stay clear of system accounts, of the notebook user (1000) and of nobody (65534).
POSIX_ID_MIN = 50000
POSIX_ID_MAX = 2**31 - 1
AbsolutePath = matching(r"(/[A-Za-z0-9._-]+)+", "an absolute path like /home/jovyan/shared")


@section
class TeamFolderConfig(Section):
    """A team's folder: the POSIX identity every file operation through its access point runs as."""

    posix_id: Int = Field(
        ge=POSIX_ID_MIN, le=POSIX_ID_MAX,
        description=f"UID and GID of the team's files ({POSIX_ID_MIN} or more); never change it once the folder holds files.",
    )


@section
class TeamFoldersConfig(Section):
    """An EFS file system per environment with an access point, a volume and a claim per team; every
    notebook server of a team mounts its team's folder beside the private home."""

    addon_version: AddonVersion = Field(description="Version of the EKS add-on aws-efs-csi-driver, like v2.1.12-eksbuild.1.")
    throughput_mode: one_of(*THROUGHPUT_MODES) = Field(
        description="elastic (pay per GiB transferred), bursting (credits grow with stored data) or provisioned (pay per MiB/s-month).",
    )
    provisioned_throughput_mibps: Optional[Number] = Field(
        default=None, ge=1.0, le=10240.0, description="Provisioned throughput (MiB/s); required with throughputMode provisioned only.",
    )
    transition_to_ia_days: one_of(*TRANSITION_DAYS) = Field(description="Days without access after which a file moves to Infrequent Access.")
    transition_to_archive_days: Optional[one_of(*TRANSITION_DAYS)] = Field(
        default=None, description="Days without access after which a file moves to Archive (elastic throughput only; after transitionToIaDays).",
    )
    back_to_standard_on_access: Bool = Field(default=True, description="Whether a file read from IA or Archive moves back to Standard.")
    backup: Bool = Field(description="Whether AWS Backup takes the file system's daily automatic backups (35 days kept).")
    kms_deletion_window_days: Int = Field(default=30, ge=7, le=30, description="Waiting period before a deleted file-system key is gone.")
    mount_path: AbsolutePath = Field(default="/home/jovyan/shared", description="Where notebook servers mount their team's folder.")
    claim_gi: Int = Field(
        default=1, ge=1, le=1024,
        description="Size (GiB) each team's volume claims; EFS is elastic and ignores it, but team storage quotas count it.",
    )
    teams: Pairs[str, TeamFolderConfig] = Field(min_length=1, description="Every team's folder, by team name.")

    @model_validator(mode="after")
    def _consistent(self) -> "TeamFoldersConfig":
        if self.throughput_mode == "provisioned" and self.provisioned_throughput_mibps is None:
            raise Invalid("is required with throughputMode provisioned", "provisionedThroughputMibps")
        if self.throughput_mode != "provisioned" and self.provisioned_throughput_mibps is not None:
            raise Invalid(f"applies only to throughputMode provisioned, not {self.throughput_mode}", "provisionedThroughputMibps")
        if self.transition_to_archive_days is not None:
            if self.throughput_mode != "elastic":
                raise Invalid("EFS Archive needs throughputMode elastic", "transitionToArchiveDays")
            if self.transition_to_archive_days <= self.transition_to_ia_days:
                raise Invalid(f"must be later than transitionToIaDays ({self.transition_to_ia_days}), got {self.transition_to_archive_days}",
                              "transitionToArchiveDays")
        owners: dict[int, str] = {}
        for team, folder in self.teams:
            if folder.posix_id in owners:
                raise Invalid(f"{folder.posix_id} is also another team's ({owners[folder.posix_id]}); each team's files need their own owner",
                              "teams", team, "posixId")
            owners[folder.posix_id] = team
        return self

    @property
    def posix_ids(self) -> dict[str, int]:
        return {team: folder.posix_id for team, folder in self.teams}


def lifecycle_value(days: int) -> str:
    """EFS's name for a transition after `days` days."""
    return f"AFTER_{days}_DAY" if days == 1 else f"AFTER_{days}_DAYS"


def _for_every_team(team_folders: Optional[TeamFoldersConfig], info: ValidationInfo) -> Optional[TeamFoldersConfig]:
    """Every team has a folder and every folder a team (mlplatform:teams is validated first)."""
    if team_folders is None:
        return None
    teams = [team.name for team in info.data.get("teams", ())]
    no_duplicates("team", teams)
    for team, _ in team_folders.teams:
        if team not in teams:
            raise Invalid(f"unknown team (configured teams: {', '.join(teams)})", "teams", team)
    for team in teams:
        if team not in dict(team_folders.teams):
            raise Invalid(f"team {team!r} has no folder: give it a posixId", "teams")
    return team_folders


# The type of mlplatform:teamFolders in the stack config: the section, checked against the teams.
TeamFoldersSection = Annotated[TeamFoldersConfig, AfterValidator(_for_every_team)]
