"""Stack config validation: every bad value is one error naming its key, before any resource."""

from __future__ import annotations

from typing import Callable

import pytest

from components.config import ConfigError, parse_config
from mlp.cli import main
from tests.conftest import STACKS, run_mlp, stack_yaml


def _set(path: str, value) -> Callable[[dict], None]:
    """An edit that sets a `mlplatform:teams[0].name`-style path of the stack's config."""
    import re

    tokens = [int(index) if index else name for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path)]

    def edit(config: dict) -> None:
        node = config
        for token in tokens[:-1]:
            node = node[token]
        node[tokens[-1]] = value

    return edit


def _delete(path: str) -> Callable[[dict], None]:
    def edit(config: dict) -> None:
        top, _, rest = path.partition(".")
        if not rest:
            del config[top]
        else:
            del config[top][rest]

    return edit


def _add(key: str, value) -> Callable[[dict], None]:
    def edit(config: dict) -> None:
        config[key] = value

    return edit


def _nested_add(top: str, key: str, value) -> Callable[[dict], None]:
    def edit(config: dict) -> None:
        config[top][key] = value

    return edit


# (stack, edit, key the error must name, words the message must contain)
BAD_CONFIGS = [
    ("dev", _add("mlplatform:netwrok", {}), "mlplatform:netwrok", "unknown key"),
    ("dev", _nested_add("mlplatform:network", "natGateway", "single"), "mlplatform:network.natGateway", "unknown key"),
    ("dev", _delete("mlplatform:costCenter"), "mlplatform:costCenter", "required"),
    ("dev", _delete("aws:region"), "aws.region", "required"),
    ("dev", _add("aws:profiles", "default"), "aws:profiles", "unknown key"),
    ("dev", _add("gcp:project", "x"), "gcp:project", "namespace"),
    ("dev", _set("mlplatform:environment", "prod"), "mlplatform:environment", "must match"),
    ("dev", _set("mlplatform:network.vpcCidr", "10.40.0.0/33"), "mlplatform:network.vpcCidr", "CIDR"),
    ("dev", _set("mlplatform:network.vpcCidr", "8.8.0.0/16"), "mlplatform:network.vpcCidr", "private"),
    ("dev", _set("mlplatform:network.privateSubnetCidrs[0]", "10.99.0.0/19"), "mlplatform:network.privateSubnetCidrs[0]", "outside vpcCidr"),
    ("dev", _set("mlplatform:network.privateSubnetCidrs[1]", "10.40.0.0/20"), "mlplatform:network.privateSubnetCidrs[1]", "overlaps"),
    ("dev", _set("mlplatform:network.availabilityZones", ["us-east-1a"]), "mlplatform:network.availabilityZones", "2 or 3"),
    ("dev", _set("mlplatform:network.availabilityZones[1]", "us-west-2b"), "mlplatform:network.availabilityZones[1]", "availability zone of us-east-1"),
    ("staging", _set("mlplatform:network.publicSubnetCidrs", ["10.50.0.0/24", "10.50.1.0/24"]), "mlplatform:network.publicSubnetCidrs", "one CIDR per availability zone"),
    ("dev", _set("mlplatform:network.natGateways", "two"), "mlplatform:network.natGateways", "single, one-per-az"),
    ("dev", _set("mlplatform:network.flowLogRetentionDays", 10), "mlplatform:network.flowLogRetentionDays", "retention period"),
    ("dev", _set("mlplatform:datalake.zones[0].noncurrentVersionExpiryDays", -5), "mlplatform:datalake.zones[0].noncurrentVersionExpiryDays", ">= 1"),
    ("dev", _set("mlplatform:datalake.zones[1].noncurrentVersionExpiryDays", 7.5), "mlplatform:datalake.zones[1].noncurrentVersionExpiryDays", "whole number"),
    ("prod", _set("mlplatform:datalake.zones[0].glacierAfterDays", 20), "mlplatform:datalake.zones[0].glacierAfterDays", "greater than infrequentAccessAfterDays"),
    ("dev", _set("mlplatform:datalake.protect", "yes"), "mlplatform:datalake.protect", "true or false"),
    ("dev", _set("mlplatform:datalake.bucketPrefix", "Acme_ML"), "mlplatform:datalake.bucketPrefix", "bucket name prefix"),
    ("dev", _set("mlplatform:teams[0].name", "Data_Science"), "mlplatform:teams[0].name", "DNS label"),
    ("dev", _set("mlplatform:teams[1].name", "forecasting"), "mlplatform:teams[1].name", "duplicate"),
    ("dev", _set("mlplatform:costCenter", "C" * 257), "mlplatform:costCenter", "1-256 characters"),
    ("dev", _set("mlplatform:costCenter", "CC#41"), "mlplatform:costCenter", "AWS tag value"),
    ("prod", _set("mlplatform:teams[1].costCenter", "aws:billing"), "mlplatform:teams[1].costCenter", "aws:"),
    ("dev", _set("mlplatform:platformTeam", "vision"), "mlplatform:platformTeam", "also listed in teams"),
    ("dev", _set("mlplatform:network", "10.0.0.0/16"), "mlplatform:network", "expected a mapping"),
    ("dev", _set("mlplatform:budgets.teamMonthlyLimits", {"fraud": 100}), "mlplatform:budgets.teamMonthlyLimits.fraud", "unknown team"),
    ("dev", _set("mlplatform:budgets.teamMonthlyLimits", {"vision": 5000}), "mlplatform:budgets.teamMonthlyLimits.vision", "must be <= monthlyLimit"),
    ("dev", _set("mlplatform:budgets.alertEmails", ["finops"]), "mlplatform:budgets.alertEmails[0]", "email address"),
    ("dev", _set("mlplatform:budgets.monthlyLimit", 0), "mlplatform:budgets.monthlyLimit", ">= 1.0"),
    ("dev", _set("mlplatform:cluster.gpuAgent.publishSeconds", 65), "mlplatform:cluster.gpuAgent.publishSeconds", "multiple of sampleSeconds"),
    ("dev", _set("mlplatform:cluster.gpuAgent.image", "agent:2.0"), "mlplatform:cluster.gpuAgent.image", "not one of the platform's ECR repositories"),
    ("dev", _set("mlplatform:cluster.gpuAgent.image", "gpu-agent:latest"), "mlplatform:cluster.gpuAgent.image", "pin the image"),
]


def _config(stack: str, edit: Callable[[dict], None]) -> dict:
    config = stack_yaml(stack)["config"]
    edit(config)
    return config


@pytest.mark.parametrize("stack", STACKS)
def test_real_stacks_parse(stack):
    config = parse_config(stack_yaml(stack)["config"], stack)
    assert config.environment == stack
    assert config.network.availability_zones
    assert {"models", "curated"} <= {zone.name for zone in config.datalake.zones}


def test_table_has_at_least_fifteen_cases():
    assert len(BAD_CONFIGS) >= 15
    assert len({key for _, _, key, _ in BAD_CONFIGS}) >= 15


@pytest.mark.parametrize("stack,edit,key,words", BAD_CONFIGS, ids=[case[2] + ":" + case[3] for case in BAD_CONFIGS])
def test_bad_config_names_its_key(stack, edit, key, words):
    with pytest.raises(ConfigError) as raised:
        parse_config(_config(stack, edit), stack)
    assert raised.value.key == key
    assert words in raised.value.message


@pytest.mark.parametrize("stack,edit,key,words", BAD_CONFIGS, ids=[case[2] + ":" + case[3] for case in BAD_CONFIGS])
def test_bad_config_is_exit_2_with_one_line(stack, edit, key, words, write_stack, capsys):
    document = stack_yaml(stack)
    edit(document["config"])
    path = write_stack(stack, document)
    status = main(["plan", stack, "--config-file", str(path)])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1, err
    assert str(path) in err and key in err
    assert "Traceback" not in err


def test_bad_config_from_the_real_command_line(write_stack):
    document = stack_yaml("prod")
    document["config"]["mlplatform:network"]["natGateways"] = "many"
    path = write_stack("prod", document)
    result = run_mlp("plan", "prod", "--config-file", str(path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"mlp plan: {path}: mlplatform:network.natGateways: expected one of single, one-per-az, instance, got 'many'"
    ]
    assert result.stdout == ""


def test_pulumi_style_json_values_parse_like_yaml():
    """Under `pulumi up` structured values arrive as JSON strings; the same config must result."""
    from components.config import decode_pulumi_config
    from mlp.stackfile import as_pulumi_config

    raw = stack_yaml("prod")["config"]
    assert parse_config(decode_pulumi_config(as_pulumi_config(raw)), "prod") == parse_config(raw, "prod")


def test_gpu_pools_need_the_gpu_agent():
    config = stack_yaml("dev")["config"]
    del config["mlplatform:cluster"]["gpuAgent"]
    with pytest.raises(ConfigError) as raised:
        parse_config(config, "dev")
    assert raised.value.key == "mlplatform:cluster.gpuAgent" and "idle GPUs" in raised.value.message


def test_team_cost_center_is_optional_and_kept():
    config = parse_config(stack_yaml("prod")["config"], "prod")
    assert config.team("vision").cost_center == "CC-4220-VISION"
    assert parse_config(stack_yaml("dev")["config"], "dev").team("vision").cost_center is None
