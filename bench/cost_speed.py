"""Benchmark: `mlp cost` throughput on synthetic stack exports of 1k, 10k and 100k resources.

Not a test: it prints figures. The synthetic exports repeat the real prod plan's resources
(every type the platform declares, in its proportions; cluster-wide singletons such as
CustomResourceDefinitions once) under unique URNs, so launch-template,
node-class and autoscaling lookups are exercised as in real state. Each size is measured as
read (JSON -> resources), estimate (pricers, volume tiers over the stack's totals), and JSON
rendering (with each line's price source and verification), with the garbage collector paused
as `mlp cost` pauses it; the last column shows how time per resource changes with size (1.00 =
linear scaling). The bar: at least 20,000 resources/s at 100,000 resources.

    .venv/bin/python bench/cost_speed.py [--sizes 1000,10000,100000] [--repeat N]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlp.cost import as_json, estimate, gc_paused, usage_schemas  # noqa: E402
from mlp.plan import plan_stack  # noqa: E402
from mlp.state import load_document  # noqa: E402
from mlp.usage import load_usage  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


# Cluster-wide singletons: a stack has them once however large it grows (a CustomResourceDefinition
# of Ray or Spark is close to a megabyte of schema; repeating it would measure JSON parsing of
# schemas, not a stack).
SINGLETON_TYPES = ("pulumi:pulumi:Stack", "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition")


def synthetic_export(template: dict, size: int) -> dict:
    """`size` resources: the template's providers and singletons once, then its other resources
    repeated, each copy renamed (URN, id, and the names other resources refer to) so nothing
    collides."""
    resources = template["deployment"]["resources"]
    providers = [r for r in resources if r["type"].startswith("pulumi:providers:") or r["type"] in SINGLETON_TYPES]
    others = [r for r in resources if r not in providers]
    out = list(providers)
    copy_index = 0
    while len(out) < size:
        for resource in others:
            if len(out) >= size:
                break
            clone = copy.deepcopy(resource)
            suffix = f"-c{copy_index}"
            clone["urn"] += suffix
            if "id" in clone:
                clone["id"] = f"{clone['id']}{suffix}"
            out.append(clone)
        copy_index += 1
    return {**template, "deployment": {**template["deployment"], "resources": out}}


def measure(path: Path, usage_path: Path, repeat: int) -> tuple[float, float, float]:
    reads, estimates, renders = [], [], []
    for _ in range(repeat):
        usage = load_usage(usage_path, usage_schemas())
        # As `mlp cost` runs: the collector paused while the document is read, priced and shown.
        with gc_paused():
            started = time.perf_counter()
            resources = load_document(path)
            read_done = time.perf_counter()
            result = estimate(resources, usage)
            estimated = time.perf_counter()
            json.dumps(as_json(result))
            rendered = time.perf_counter()
        del resources, result
        reads.append(read_done - started)
        estimates.append(estimated - read_done)
        renders.append(rendered - estimated)
    return statistics.median(reads), statistics.median(estimates), statistics.median(renders)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="resource counts (default 1000,10000,100000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; the median is shown (default 3)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    template = plan_stack("prod").document
    usage_path = ROOT / "stacks" / "usage.prod.yaml"
    print(f"template: prod plan, {len(template['deployment']['resources'])} resources; usage {usage_path.relative_to(ROOT)}")
    print(f"{'resources':>9} {'read s':>8} {'estimate s':>10} {'render s':>9} {'total s':>8} {'resources/s':>11} {'us/resource':>11} {'vs smallest':>11}")
    baseline = None
    with tempfile.TemporaryDirectory() as directory:
        for size in sizes:
            path = Path(directory) / f"export-{size}.json"
            path.write_text(json.dumps(synthetic_export(template, size)))
            read, priced, rendered = measure(path, usage_path, args.repeat)
            total = read + priced + rendered
            per_resource = total / size * 1e6
            baseline = baseline or per_resource
            print(f"{size:>9} {read:>8.3f} {priced:>10.3f} {rendered:>9.3f} {total:>8.3f} {size / total:>11,.0f} {per_resource:>11.1f} {per_resource / baseline:>10.2f}x")


if __name__ == "__main__":
    main()
