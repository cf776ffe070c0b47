"""What every section shares: unknown keys refused, empty means absent, frozen values, the
shared value types."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest

from components.config import ConfigError, NetworkConfig, PlatformConfig, parse_config
from tests.conftest import stack_yaml


def _error(stack: str, edit) -> ConfigError:
    config = stack_yaml(stack)["config"]
    edit(config)
    with pytest.raises(ConfigError) as raised:
        parse_config(config, stack)
    return raised.value


def test_an_unknown_key_lists_the_known_ones():
    error = _error("dev", lambda config: config["mlplatform:cluster"]["nodePools"][0].update(terminationGracePeriods="1h"))
    assert error.key == "mlplatform:cluster.nodePools[0].terminationGracePeriods"
    assert error.message.startswith("unknown key (known keys here: ")
    assert "terminationGracePeriod," in error.message


def test_python_names_are_not_stack_file_keys():
    error = _error("dev", lambda config: config["mlplatform:network"].update(nat_gateways="single"))
    assert error.key == "mlplatform:network.nat_gateways" and "unknown key" in error.message


def test_derived_fields_are_not_stack_file_keys():
    error = _error("dev", lambda config: config["mlplatform:cluster"].update(teams=["vision"]))
    assert error.key == "mlplatform:cluster.teams" and "unknown key" in error.message


def test_an_empty_value_means_the_default():
    config = stack_yaml("dev")["config"]
    config["mlplatform:network"]["flowLogTrafficType"] = None
    assert parse_config(config, "dev").network.flow_log_traffic_type == "ALL"


def test_an_empty_required_value_is_required():
    error = _error("dev", lambda config: config["mlplatform:network"].update(vpcCidr=None))
    assert (error.key, error.message) == ("mlplatform:network.vpcCidr", "is required")


def test_a_repeated_list_value_is_named():
    error = _error("dev", lambda config: config["mlplatform:budgets"].update(alertEmails=["a@acme.example", "a@acme.example"]))
    assert error.key == "mlplatform:budgets.alertEmails[1]" and "duplicate value 'a@acme.example'" in error.message


def test_cidrs_are_networks_and_public_cidrs_their_text():
    config = parse_config(stack_yaml("dev")["config"], "dev")
    assert isinstance(config.network.vpc_cidr, ipaddress.IPv4Network)
    assert all(isinstance(block, ipaddress.IPv4Network) for block in config.network.private_subnet_cidrs)
    assert config.cluster.endpoint.public_access_cidrs and all(isinstance(block, str) for block in config.cluster.endpoint.public_access_cidrs)


def test_mappings_are_sorted_pairs():
    config = parse_config(stack_yaml("dev")["config"], "dev")
    limits = config.budgets.team_monthly_limits
    assert isinstance(limits, tuple) and list(limits) == sorted(limits)


def test_config_is_frozen_and_hashable():
    config = parse_config(stack_yaml("dev")["config"], "dev")
    assert hash(config) == hash(parse_config(stack_yaml("dev")["config"], "dev"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.network.nat_gateways = "one-per-az"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.environment = "prod"  # type: ignore[misc]


def test_a_python_copy_keeps_section_checks():
    """dataclasses.replace builds what-if copies; a section's own rules still hold for them."""
    network = parse_config(stack_yaml("dev")["config"], "dev").network
    assert dataclasses.replace(network, nat_gateways="one-per-az").nat_gateways == "one-per-az"
    with pytest.raises(ValueError):
        dataclasses.replace(network, private_subnet_cidrs=network.public_subnet_cidrs)
    assert isinstance(network, NetworkConfig)


def test_a_python_copy_of_the_platform_keeps_its_teams_on_the_cluster():
    config = parse_config(stack_yaml("prod")["config"], "prod")
    copy = dataclasses.replace(config, cluster=dataclasses.replace(config.cluster))
    assert isinstance(copy, PlatformConfig)
    assert [team for team, _ in copy.cluster.team_quotas] == list(config.team_names)
    assert copy == config
