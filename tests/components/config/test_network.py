"""The network section's NAT and endpoint settings: the NAT instance choice, its instance type,
and how many AZs get interface endpoints; each bad value is one error naming its key."""

from __future__ import annotations

import dataclasses

import pytest

from components.config import ConfigError, parse_config
from components.config.network import DEFAULT_NAT_INSTANCE_TYPE
from tests.conftest import stack_yaml


def _network(stack: str, **changes):
    config = stack_yaml(stack)["config"]
    config["mlplatform:network"].update(changes)
    for key in [key for key, value in changes.items() if value is None]:
        del config["mlplatform:network"][key]
    return parse_config(config, stack).network


def _error(stack: str, **changes) -> ConfigError:
    with pytest.raises(ConfigError) as raised:
        _network(stack, **changes)
    return raised.value


def test_nat_instance_is_a_third_choice_with_a_graviton_default():
    network = _network("staging", natGateways="instance")
    assert network.nat_gateways == "instance" and network.nat_instance == DEFAULT_NAT_INSTANCE_TYPE == "t4g.nano"
    assert _network("staging", natGateways="instance", natInstanceType="c7g.medium").nat_instance == "c7g.medium"
    assert _network("staging").nat_instance is None  # NAT gateways: no instance


def test_the_choices_are_listed_when_one_is_wrong():
    error = _error("dev", natGateways="two")
    assert (error.key, error.message) == ("mlplatform:network.natGateways", "expected one of single, one-per-az, instance, got 'two'")


@pytest.mark.parametrize("nat", ["single", "one-per-az"])
def test_an_instance_type_without_a_nat_instance_is_refused(nat):
    error = _error("staging", natGateways=nat, natInstanceType="t4g.nano")
    assert error.key == "mlplatform:network.natInstanceType"
    assert error.message == f"only applies with natGateways: instance, not {nat}"


@pytest.mark.parametrize("instance_type", ["t3.nano", "m6i.large", "t3a.micro"])
def test_the_nat_instance_must_be_graviton_because_it_runs_the_arm64_ami(instance_type):
    error = _error("dev", natInstanceType=instance_type)
    assert error.key == "mlplatform:network.natInstanceType"
    assert "Graviton (arm64)" in error.message and repr(instance_type) in error.message


def test_a_malformed_instance_type_is_refused_by_its_shape():
    error = _error("dev", natInstanceType="nano")
    assert error.key == "mlplatform:network.natInstanceType" and "instance type like" in error.message


def test_interface_endpoints_default_to_every_az_and_take_the_first_n():
    staging = _network("staging")
    assert staging.interface_endpoint_zones is None and staging.endpoint_zones == staging.availability_zones
    two = _network("staging", interfaceEndpointZones=2)
    assert two.endpoint_zones == staging.availability_zones[:2]
    assert _network("dev").endpoint_zones == ("us-east-1a",)


@pytest.mark.parametrize("stack,zones", [("dev", 0), ("dev", 3), ("staging", 4), ("prod", -1)])
def test_interface_endpoint_zones_must_be_between_one_and_the_stacks_azs(stack, zones):
    error = _error(stack, interfaceEndpointZones=zones)
    count = len(stack_yaml(stack)["config"]["mlplatform:network"]["availabilityZones"])
    assert (error.key, error.message) == ("mlplatform:network.interfaceEndpointZones", f"expected 1 to {count} (the stack's availability zones), got {zones}")


@pytest.mark.parametrize("value", ["1", 1.5, True])
def test_interface_endpoint_zones_is_a_whole_number(value):
    error = _error("dev", interfaceEndpointZones=value)
    assert error.key == "mlplatform:network.interfaceEndpointZones" and "whole number" in error.message


def test_the_stacks_choose_per_environment_in_data():
    dev, staging, prod = (parse_config(stack_yaml(stack)["config"], stack).network for stack in ("dev", "staging", "prod"))
    assert (dev.nat_gateways, dev.interface_endpoint_zones) == ("instance", 1)
    # Staging and prod keep gateways and endpoints in every AZ.
    assert (staging.nat_gateways, staging.endpoint_zones) == ("single", staging.availability_zones)
    assert (prod.nat_gateways, prod.endpoint_zones) == ("one-per-az", prod.availability_zones)


def test_the_descriptions_say_what_a_cheaper_choice_gives_up():
    fields = type(_network("dev")).__pydantic_fields__
    nat = fields["nat_gateways"].description
    assert "outage" in nat and "instance" in nat and "per-GB" in nat
    zones = fields["interface_endpoint_zones"].description
    assert "cross-AZ" in zones and "fail" in zones and "nothing falls back" in zones


def test_what_if_copies_revalidate_the_nat_settings():
    network = _network("staging")
    assert dataclasses.replace(network, nat_gateways="instance").nat_instance == "t4g.nano"
    with pytest.raises(Exception):
        dataclasses.replace(network, nat_instance_type="t4g.nano")  # gateways: an instance type makes no sense
