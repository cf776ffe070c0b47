"""Benchmark: wall time of `mlp plan` per stack, and resources declared per second.

Not a test: it prints figures. Each stack is planned in-process several times (the first run
includes importing the program); the figures are the median of the warm runs.

    .venv/bin/python bench/plan_speed.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlp.plan import plan_stack  # noqa: E402

STACKS = ("dev", "staging", "prod")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="warm runs per stack (default 5)")
    args = parser.parse_args()

    print(f"{'stack':<8} {'resources':>9} {'first run s':>11} {'median s':>9} {'min s':>7} {'resources/s':>11}")
    for stack in STACKS:
        started = time.perf_counter()
        plan = plan_stack(stack)
        first = time.perf_counter() - started
        timings = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            plan = plan_stack(stack)
            timings.append(time.perf_counter() - started)
        count = len(plan.resources)
        median = statistics.median(timings)
        print(f"{stack:<8} {count:>9} {first:>11.3f} {median:>9.3f} {min(timings):>7.3f} {count / median:>11.0f}")

    # What a user waits for: the whole command, interpreter start and imports included.
    root = Path(__file__).resolve().parent.parent
    for stack in STACKS:
        timings = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "mlp", "plan", stack], cwd=root, capture_output=True, check=True)
            timings.append(time.perf_counter() - started)
        print(f"`mlp plan {stack}` command: median {statistics.median(timings):.2f} s over {args.repeat} runs")


if __name__ == "__main__":
    main()
