"""Settings upgrades lean on: why a stack pins a chart version of its own, and how long
Karpenter lets a node drain."""

from __future__ import annotations

from typing import Any, Callable, Optional

import pytest

from components.config import ConfigError, parse_config
from tests.conftest import stack_yaml


def _pool(value: Any) -> Callable[[dict], None]:
    return lambda config: config["mlplatform:cluster"]["nodePools"][0].update(terminationGracePeriod=value)


def _pins(value: Any) -> Callable[[dict], None]:
    return lambda config: config["mlplatform:cluster"]["charts"].update(pinReasons=value)


def _hub_pin(value: Any) -> Callable[[dict], None]:
    return lambda config: config["mlplatform:notebooks"].update(chartPinReason=value)


GRACE = "mlplatform:cluster.nodePools[0].terminationGracePeriod"
PINS = "mlplatform:cluster.charts.pinReasons"
HUB_PIN = "mlplatform:notebooks.chartPinReason"

# (edit, key the error must name or None when the value is good, words the message must contain)
CASES = [
    (_pool("24h"), None, ""),
    (_pool("90m"), None, ""),
    (_pool("2h30m"), None, ""),
    (_pool("45s"), None, ""),
    (_pool(None), None, ""),
    (_pool("Never"), GRACE, "a duration like 30s, 10m or 720h"),
    (_pool("1d"), GRACE, "got '1d'"),
    (_pool("24"), GRACE, "a duration"),
    (_pool(""), GRACE, "a duration"),
    (_pool(86400), GRACE, "got 86400"),
    (_pins({"karpenter": "1.9 changes the NodePool API; prod moves after staging has run it a week"}), None, ""),
    (_pins({"karpenter": "a", "nvidiaDevicePlugin": "b", "awsLoadBalancerController": "c"}), None, ""),
    (_pins({}), None, ""),
    (_pins({"kaprenter": "typo"}), f"{PINS}.kaprenter", "expected one of karpenter, nvidiaDevicePlugin, awsLoadBalancerController"),
    (_pins({"jupyterhub": "the hub's chart is notebooks.chartVersion"}), f"{PINS}.jupyterhub", "got 'jupyterhub'"),
    (_pins({"karpenter": ""}), f"{PINS}.karpenter", "expected a non-empty string"),
    (_pins({"karpenter": "   "}), f"{PINS}.karpenter", "expected a non-empty string"),
    (_pins({"karpenter": 1.9}), f"{PINS}.karpenter", "got 1.9"),
    (_pins(["karpenter"]), PINS, "expected a mapping"),
    (_hub_pin("4.2.0 is the last chart for this hub image"), None, ""),
    (_hub_pin(None), None, ""),
    (_hub_pin(""), HUB_PIN, "expected a non-empty string"),
    (_hub_pin(4), HUB_PIN, "got 4"),
]


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("edit,key,words", CASES, ids=[f"{case[1] or 'good'}-{i}" for i, case in enumerate(CASES)])
def test_upgrade_settings(stack: str, edit: Callable[[dict], None], key: Optional[str], words: str):
    config = stack_yaml(stack)["config"]
    edit(config)
    if key is None:
        parse_config(config, stack)
        return
    with pytest.raises(ConfigError) as raised:
        parse_config(config, stack)
    assert raised.value.key == key
    assert words in raised.value.message


def test_defaults_leave_everything_unpinned():
    raw = stack_yaml("dev")["config"]
    for pool in raw["mlplatform:cluster"]["nodePools"]:
        pool.pop("terminationGracePeriod", None)
    raw["mlplatform:cluster"]["charts"].pop("pinReasons", None)
    raw["mlplatform:notebooks"].pop("chartPinReason", None)
    config = parse_config(raw, "dev")
    assert all(pool.termination_grace_period is None for pool in config.cluster.node_pools)
    assert config.cluster.charts.pin_reasons == ()
    assert config.notebooks.chart_pin_reason is None


def test_values_reach_the_models():
    raw = stack_yaml("dev")["config"]
    _pool("2h30m")(raw)
    _pins({"nvidiaDevicePlugin": "0.18 until the GPU AMI moves"})(raw)
    _hub_pin("hub image needs 4.2")(raw)
    config = parse_config(raw, "dev")
    assert config.cluster.node_pools[0].termination_grace_period == "2h30m"
    assert config.cluster.charts.pin_reasons == (("nvidiaDevicePlugin", "0.18 until the GPU AMI moves"),)
    assert config.notebooks.chart_pin_reason == "hub image needs 4.2"
