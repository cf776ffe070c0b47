"""The `mlplatform:teamFolders` section: every team has a folder with its own POSIX identity, the
throughput and lifecycle settings are ones EFS accepts together, and each bad value is one error
naming its key."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from components.config import ConfigError, parse_config
from components.config.team_folders import TRANSITION_DAYS, lifecycle_value
from tests.conftest import stack_yaml

SECTION = "mlplatform:teamFolders"


def error_of(edit: Callable[[dict], Any], stack: str = "dev") -> ConfigError:
    config = stack_yaml(stack)["config"]
    edit(config[SECTION])
    with pytest.raises(ConfigError) as raised:
        parse_config(config, stack)
    return raised.value


def test_the_section_is_optional_and_parses_every_stack():
    config = stack_yaml("dev")["config"]
    del config[SECTION]
    assert parse_config(config, "dev").team_folders is None
    for stack in ("dev", "staging", "prod"):
        parsed = parse_config(stack_yaml(stack)["config"], stack).team_folders
        assert set(parsed.posix_ids) == {team["name"] for team in stack_yaml(stack)["config"]["mlplatform:teams"]}
    assert parse_config(stack_yaml("prod")["config"], "prod").team_folders.backup is True


def test_lifecycle_values_are_the_names_efs_takes():
    assert [lifecycle_value(days) for days in TRANSITION_DAYS[:3]] == ["AFTER_1_DAY", "AFTER_7_DAYS", "AFTER_14_DAYS"]


BAD = [
    (lambda s: s["teams"].pop("vision"), "mlplatform:teamFolders.teams", "'vision' has no folder"),
    (lambda s: s["teams"].update(marketing={"posixId": 50009}), "mlplatform:teamFolders.teams.marketing", "unknown team"),
    (lambda s: s["teams"]["vision"].update(posixId=50001), "mlplatform:teamFolders.teams.vision.posixId", "another team's"),
    (lambda s: s["teams"]["vision"].update(posixId=1000), "mlplatform:teamFolders.teams.vision.posixId", ">= 50000"),
    (lambda s: s.update(throughputMode="provisioned"), "mlplatform:teamFolders.provisionedThroughputMibps", "required with throughputMode provisioned"),
    (lambda s: s.update(provisionedThroughputMibps=64), "mlplatform:teamFolders.provisionedThroughputMibps", "only to throughputMode provisioned"),
    (lambda s: s.update(throughputMode="bursting", transitionToArchiveDays=90), "mlplatform:teamFolders.transitionToArchiveDays", "elastic"),
    (lambda s: s.update(transitionToArchiveDays=14), "mlplatform:teamFolders.transitionToArchiveDays", "later than transitionToIaDays"),
    (lambda s: s.update(transitionToIaDays=45), "mlplatform:teamFolders.transitionToIaDays", "one of"),
    (lambda s: s.update(addonVersion="2.1.12"), "mlplatform:teamFolders.addonVersion", "eksbuild"),
    (lambda s: s.update(mountPath="shared"), "mlplatform:teamFolders.mountPath", "absolute path"),
    (lambda s: s.pop("backup"), "mlplatform:teamFolders.backup", "required"),
]


@pytest.mark.parametrize("edit,key,words", BAD)
def test_bad_team_folders_config_is_one_error_naming_its_key(edit, key, words):
    error = error_of(edit)
    assert error.key == key and words in error.message, (error.key, error.message)
