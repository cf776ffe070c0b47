"""Report: each stack's idle floor, what the environment costs a month with nobody using it.

Not a test: it prints figures. The floor is `mlp cost --stack STACK`'s floor without a usage file:
every scaling group at its minimum, every Karpenter pool at zero, no requests, no stored data, no
notebook hours. It is what an environment costs before anyone does any work in it, which is
where dev stacks waste money. Per stack: the floor, by component, and its ten largest lines. The
bar (issue 12): dev at or under $150 a month, without weakening staging or prod.

    .venv/bin/python bench/floor_report.py [--stacks dev,staging,prod] [--lines 10]
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlp.cost import estimate, gc_paused  # noqa: E402
from mlp.plan import plan_stack  # noqa: E402

DEV_FLOOR_BAR = Decimal("150")


def floor_of(stack: str) -> tuple[Decimal, dict[str, Decimal], list[tuple[Decimal, str, str]]]:
    """(floor, floor by Component tag, every line with a floor as (cost, resource, line))."""
    with gc_paused():
        result = estimate(plan_stack(stack).resources, on=None)
    by_component: dict[str, Decimal] = {}
    lines = []
    for cost in result.costs:
        floor = result.totals_of(cost)[3]
        if not floor:
            continue
        component = result.tags_of(cost).get("Component", "(untagged)")
        by_component[component] = by_component.get(component, Decimal(0)) + floor
        for line in cost.components:
            if line.floor_cost:
                lines.append((line.floor_cost, cost.resource.name, line.name))
    return result.floor_total, by_component, sorted(lines, reverse=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", default="dev,staging,prod")
    parser.add_argument("--lines", type=int, default=10)
    args = parser.parse_args()
    for stack in args.stacks.split(","):
        floor, by_component, lines = floor_of(stack)
        bar = f"  (bar: <= ${DEV_FLOOR_BAR:,.2f}: {'met' if floor <= DEV_FLOOR_BAR else 'NOT met'})" if stack == "dev" else ""
        print(f"{stack}: idle floor ${floor:,.2f} a month{bar}")
        for component, amount in sorted(by_component.items(), key=lambda item: -item[1]):
            print(f"  {component:<14} ${amount:>10,.2f}")
        print(f"  largest {min(args.lines, len(lines))} lines:")
        for amount, resource, line in lines[:args.lines]:
            print(f"    ${amount:>9,.2f}  {resource}: {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
