"""The `mlplatform:distributed` section: queues name real pools and teams, GPUs only on GPU pools,
the teams' nominal quotas fit inside each Karpenter pool's limits (Kueue cannot ask Karpenter for
more), a queue at its ceiling fits its namespace quota, and with `enforceBudgets: true` a queue
priced above its team's budget is refused. Each bad config is one error naming its key; `mlp plan`
exits 2 with one line."""

from __future__ import annotations

from typing import Any, Callable

import pytest
import yaml

from components.config import ConfigError, parse_config
from tests.conftest import run_mlp, stack_yaml

SECTION = "mlplatform:distributed"


def dev_with(edit: Callable[[dict], Any]) -> dict:
    config = stack_yaml("dev")["config"]
    edit(config[SECTION])
    return config


def error_of(edit: Callable[[dict], Any], stack: str = "dev") -> ConfigError:
    config = stack_yaml(stack)["config"]
    edit(config[SECTION])
    with pytest.raises(ConfigError) as raised:
        parse_config(config, stack)
    return raised.value


def queues(section: dict) -> dict:
    return section["queues"]


def test_the_section_is_optional():
    config = stack_yaml("dev")["config"]
    del config[SECTION]
    assert parse_config(config, "dev").distributed is None


def test_overrides_change_only_what_they_name():
    queue = parse_config(stack_yaml("dev")["config"], "dev").distributed.team_queue("vision")
    assert (queue.quota("gpu").cpu, queue.quota("gpu").memory_gi, queue.quota("gpu").gpus) == (4, 16, 2)
    assert (queue.quota("cpu").cpu, queue.quota("cpu").memory_gi) == (8, 32)
    assert queue.borrowing_limit_percent == 25
    assert queue.quota("no-such-pool").cpu == 0


CASES = [
    # (id, edit, key, words of the message)
    ("unknown-pool", lambda s: queues(s)["default"]["quotas"].__setitem__("tpu", {"cpu": 1, "memoryGi": 1}),
     f"{SECTION}.queues.default.quotas.tpu", "unknown node pool (cluster.nodePools: cpu, gpu)"),
    ("unknown-team", lambda s: queues(s)["teams"].__setitem__("nlp", {"borrowingLimitPercent": 0}),
     f"{SECTION}.queues.teams.nlp", "unknown team"),
    ("gpus-on-a-cpu-pool", lambda s: queues(s)["default"]["quotas"]["cpu"].__setitem__("gpus", 1),
     f"{SECTION}.queues.default.quotas.cpu.gpus", "pool 'cpu', which has none"),
    ("cpu-only-on-a-gpu-pool", lambda s: queues(s)["teams"]["vision"]["quotas"]["gpu"].__setitem__("gpus", 0),
     f"{SECTION}.queues.teams.vision.quotas.gpu.gpus", "CPU work belongs on a CPU pool"),
    # dev's GPU pool runs at most 8 GPUs: forecasting's 1 and vision's 8 would not fit.
    ("gpus-beyond-the-pool", lambda s: queues(s)["teams"]["vision"]["quotas"]["gpu"].__setitem__("gpus", 8),
     f"{SECTION}.queues.teams.vision.quotas.gpu.gpus",
     "nominal gpus quotas on pool 'gpu' add up to 9 (forecasting 1, vision 8), above the pool's limit of 8 (mlplatform:cluster.nodePools[1].limits.gpus)"),
    # dev's CPU pool runs at most 64 vCPUs; both teams take the default.
    ("cpu-beyond-the-pool", lambda s: queues(s)["default"]["quotas"]["cpu"].__setitem__("cpu", 40),
     f"{SECTION}.queues.default.quotas.cpu.cpu", "add up to 80 (forecasting 40, vision 40), above the pool's limit of 64"),
    ("memory-beyond-the-pool", lambda s: queues(s)["default"]["quotas"]["cpu"].__setitem__("memoryGi", 200),
     f"{SECTION}.queues.default.quotas.cpu.memoryGi", "nominal memoryGi quotas on pool 'cpu' add up to 400"),
    # With 100% borrowing a dev team could hold 8+8 vCPUs on the CPU pool and 4+4 on the GPU pool:
    # 24, above its namespace quota of 16.
    ("beyond-the-namespace-quota", lambda s: queues(s)["default"].__setitem__("borrowingLimitPercent", 100),
     f"{SECTION}.queues.default", "the queue of team 'forecasting' can hold 24 cpu (nominal quota plus borrowing, over all pools), above its namespace quota of 16"),
    ("empty-default", lambda s: queues(s)["default"].__setitem__("quotas", {"cpu": {"cpu": 0, "memoryGi": 0}}),
     f"{SECTION}.queues.default.quotas", "gives every team a queue of nothing"),
    ("borrowing-bound", lambda s: queues(s)["default"].__setitem__("borrowingLimitPercent", 5000),
     f"{SECTION}.queues.default.borrowingLimitPercent", "<= 1000"),
    ("unknown-key", lambda s: s.__setitem__("enforceBudget", True), f"{SECTION}.enforceBudget", "unknown key"),
    ("idle-bound", lambda s: s["guardrails"].__setitem__("maxIdleTimeoutSeconds", 10),
     f"{SECTION}.guardrails.maxIdleTimeoutSeconds", ">= 60"),
    ("chart-range", lambda s: s["charts"].__setitem__("kueue", "^0.19"), f"{SECTION}.charts.kueue", "an exact chart version"),
]


@pytest.mark.parametrize("edit, key, words", [pytest.param(e, k, w, id=i) for i, e, k, w in CASES])
def test_a_bad_queue_is_one_error_naming_its_key(edit, key, words):
    error = error_of(edit)
    assert error.key == key, error
    assert words in error.message, error.message


def test_an_over_budget_queue_is_refused_with_the_figures_when_budgets_are_enforced():
    error = error_of(lambda s: s.__setitem__("enforceBudgets", True))
    assert error.key == f"{SECTION}.queues.default"
    # forecasting: 10 vCPUs x $0.063 (r5) + 1 GPU x $4.096 (g5.16xlarge), 730 h; budget $400.
    assert "the queue of team 'forecasting' can cost up to $3,449.98 a month at its ceiling" in error.message
    assert "above its budget of $400.00" in error.message
    assert error.message.endswith("(enforceBudgets: true)")


def test_a_queue_within_budget_passes_when_budgets_are_enforced():
    assert parse_config(stack_yaml("prod")["config"], "prod").distributed.enforce_budgets is True


def test_mlp_plan_exits_2_with_one_line_naming_the_key(tmp_path):
    document = stack_yaml("dev")
    document["config"][SECTION]["queues"]["teams"]["vision"]["quotas"]["gpu"]["gpus"] = 8
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    result = run_mlp("plan", "dev", "--config-file", str(path))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{SECTION}.queues.teams.vision.quotas.gpu.gpus" in lines[0] and "above the pool's limit of 8" in lines[0]
