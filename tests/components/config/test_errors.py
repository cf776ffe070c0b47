"""The error contract: one ConfigError `<key path>: <message>`, whatever the bad value was."""

from __future__ import annotations

import datetime
import math

import pytest

from components.config import ConfigError, parse_config
from components.config.errors import describe, format_key
from mlp.cli import main
from tests.conftest import stack_yaml


class _ReprFails:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def _cyclic() -> list:
    items: list = []
    items.append(items)
    return items


ODD_VALUES = [
    datetime.date(2025, 1, 13),
    datetime.datetime(2025, 1, 13, 8, 30),
    datetime.time(8, 30),
    b"\x00\xff",
    {1, 2},
    frozenset(),
    math.nan,
    math.inf,
    -math.inf,
    10**5000,  # str() of an int this long raises
    _ReprFails(),
    _cyclic(),
    {"when": datetime.date(2025, 1, 13)},
    ["x" * 1000],
    object(),
    type,
    complex(1, 2),
    None,
    True,
]


@pytest.mark.parametrize("value", ODD_VALUES, ids=lambda value: type(value).__name__)
def test_describe_never_raises_and_stays_short(value):
    text = describe(value)
    assert isinstance(text, str) and text
    assert len(text) <= 60


@pytest.mark.parametrize("value,text", [
    ("many", "'many'"),
    (7.5, "7.5"),
    (-5, "-5"),
    (True, "true"),
    (None, "null"),
    (math.nan, "nan"),
    (math.inf, "inf"),
    (["a", 1], '["a", 1]'),
    (datetime.date(2025, 1, 13), "2025-01-13 (a date)"),
])
def test_describe_reads_like_the_stack_file(value, text):
    assert describe(value) == text


def test_key_paths_name_list_items_and_mapping_keys():
    assert format_key(("mlplatform:cluster", "nodePools", 1, "limits", "gpus")) == "mlplatform:cluster.nodePools[1].limits.gpus"
    assert format_key(("mlplatform:budgets", "teamMonthlyLimits", "vision")) == "mlplatform:budgets.teamMonthlyLimits.vision"


def test_config_error_is_key_colon_message():
    error = ConfigError("mlplatform:network.vpcCidr", "expected a private (RFC 1918) range, got 8.8.0.0/16")
    assert str(error) == "mlplatform:network.vpcCidr: expected a private (RFC 1918) range, got 8.8.0.0/16"


@pytest.mark.parametrize("value,words", [
    (math.nan, "expected a finite number, got nan"),
    (math.inf, "expected a finite number, got inf"),
    (-math.inf, "expected a finite number, got -inf"),
    (True, "expected a number, got true"),
    ("1500", "expected a number, got '1500'"),
    (datetime.date(2025, 1, 13), "expected a number, got 2025-01-13 (a date)"),
    (b"1500", "expected a number, got b'1500'"),
])
def test_numbers_are_finite_and_booleans_are_not_numbers(value, words):
    config = stack_yaml("dev")["config"]
    config["mlplatform:budgets"]["monthlyLimit"] = value
    with pytest.raises(ConfigError) as raised:
        parse_config(config, "dev")
    assert raised.value.key == "mlplatform:budgets.monthlyLimit"
    assert raised.value.message == words


@pytest.mark.parametrize("value", [math.nan, math.inf, True, False, 80.5, "80", 10**400])
def test_whole_numbers_refuse_non_integers_and_booleans(value):
    config = stack_yaml("dev")["config"]
    config["mlplatform:cluster"]["nodePools"][0]["diskSizeGi"] = value
    with pytest.raises(ConfigError) as raised:
        parse_config(config, "dev")
    assert raised.value.key == "mlplatform:cluster.nodePools[0].diskSizeGi"
    assert "expected a whole number" in raised.value.message or "<=" in raised.value.message


def test_a_whole_float_is_a_whole_number():
    """JSON-encoded config (`pulumi up`) may give 80.0 for 80."""
    config = stack_yaml("dev")["config"]
    config["mlplatform:cluster"]["nodePools"][0]["diskSizeGi"] = 80.0
    pool = parse_config(config, "dev").cluster.node_pools[0]
    assert pool.disk_size_gi == 80 and isinstance(pool.disk_size_gi, int)


@pytest.mark.parametrize("text,words", [
    (".nan", "got nan"),
    (".inf", "got inf"),
    ("2025-01-13", "got 2025-01-13 (a date)"),
])
def test_odd_yaml_values_are_one_line_exit_2(text, words, write_stack, capsys):
    document = stack_yaml("dev")
    document["config"]["mlplatform:budgets"]["monthlyLimit"] = "SENTINEL"
    path = write_stack("dev", document)
    path.write_text(path.read_text().replace("SENTINEL", text))
    status = main(["plan", "dev", "--config-file", str(path)])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "mlplatform:budgets.monthlyLimit" in err and words in err


def test_deeply_nested_pulumi_config_json_is_one_config_error():
    # Pulumi hands structured config over as JSON strings; a pathological one must not escape
    # `pulumi up` as a RecursionError traceback.
    from components.config import ConfigError, decode_pulumi_config

    with pytest.raises(ConfigError) as raised:
        decode_pulumi_config({"mlplatform:cluster": "[" * 100_000 + "]" * 100_000})
    assert str(raised.value).startswith("mlplatform:cluster: ")
