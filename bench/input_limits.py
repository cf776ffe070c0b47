"""Benchmark: what the input limits cost. For the largest inputs `mlp` accepts and the hostile ones
it refuses (alias bomb, deep nesting, a 20 MB list, a huge Pulumi document, a NaN-laden document),
how long reading takes, how far peak memory rises (the kernel's high-water mark of a forked
child, Linux), and the outcome.

Not a test: it prints figures; nothing here asserts a time.

    .venv/bin/python bench/input_limits.py [--resources 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlp import files, yamlload  # noqa: E402
from mlp.errors import UserError  # noqa: E402
from mlp.state import load_document  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def measure(label: str, read: Callable[[], object], size: int) -> None:
    """Run `read` in a forked child: its time, and how far its peak resident memory rose above
    what it started with (the kernel's high-water mark, so no tracer slows the run)."""
    receive, send = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(receive)
        baseline = _status_kib("VmRSS")
        started = time.perf_counter()
        try:
            read()
            outcome = "accepted"
        except UserError as error:
            outcome = f"refused: {str(error).split(': ', 1)[1][:80]}"
        seconds = time.perf_counter() - started
        report = json.dumps({"seconds": seconds, "peak": (_status_kib("VmHWM") - baseline) / 1024, "outcome": outcome})
        os.write(send, report.encode())
        os._exit(0)
    os.close(send)
    with os.fdopen(receive) as stream:
        result = json.loads(stream.read() or '{"seconds": 0, "peak": 0, "outcome": "crashed"}')
    os.waitpid(pid, 0)
    print(f"{label:<40} {size / 1e6:>8.2f} MB {result['seconds']:>8.3f} s {result['peak']:>8.1f} MB  {result['outcome']}")


def yaml_list(target_bytes: int) -> str:
    line = "- {name: resource-000000, monthly_hrs: 730}\n"
    return line * (target_bytes // len(line))


def alias_bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def synthetic_export(resources: int) -> dict:
    """Buckets and node groups with tags, about 700 bytes each."""
    provider = "urn:pulumi:prod::mlplatform::pulumi:providers:aws::default"
    items = [{"urn": provider, "type": "pulumi:providers:aws", "custom": True, "id": "p",
              "inputs": {"region": "us-east-1", "defaultTags": json.dumps({"tags": {"Environment": "prod", "Team": "ml-platform"}})}}]
    for i in range(resources - 1):
        kind = ("aws:s3/bucket:Bucket", "aws:eks/nodeGroup:NodeGroup")[i % 2]
        inputs = {"bucket": f"b{i}", "tags": {"Component": "datalake", "Team": "vision"}} if i % 2 == 0 else {
            "scalingConfig": {"desiredSize": 2, "minSize": 1, "maxSize": 4}, "instanceTypes": ["m5.large"], "diskSize": 50.0,
            "tags": {"Component": "compute"}}
        items.append({"urn": f"urn:pulumi:prod::mlplatform::{kind}::r{i}", "type": kind, "custom": True, "id": f"r{i}",
                      "inputs": inputs, "outputs": {"arn": f"arn:aws:s3:::b{i}"}, "provider": f"{provider}::p"})
    return {"version": 3, "deployment": {"resources": items}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=100_000, help="resources of the largest accepted stack export")
    options = parser.parse_args()
    print(f"limits: YAML {files.MAX_YAML_BYTES / files.MIB:g} MiB, {yamlload.MAX_NODES:,} values with aliases expanded, "
          f"{yamlload.MAX_DEPTH} levels; JSON {files.MAX_JSON_BYTES / files.MIB:g} MiB, {files.MAX_JSON_DEPTH} levels\n")
    print(f"{'input':<40} {'size':>11} {'time':>10} {'peak +':>11}  outcome")
    with tempfile.TemporaryDirectory() as folder:
        def case(label: str, name: str, data: bytes | str, reader: Callable[[Path], object]) -> None:
            path = Path(folder) / name
            path.write_bytes(data if isinstance(data, bytes) else data.encode())
            measure(label, lambda: reader(path), path.stat().st_size)

        case("real stack file (prod)", "Pulumi.prod.yaml", (ROOT / "stacks" / "Pulumi.prod.yaml").read_bytes(), files.read_yaml)
        largest = yaml_list(files.MAX_YAML_BYTES - 64)
        case("largest accepted YAML (1 MiB list)", "big.yaml", largest, files.read_yaml)
        case("YAML list of 20 MB", "huge.yaml", yaml_list(20 * 10**6), files.read_yaml)
        case("alias bomb (9 levels, 387M values)", "bomb.yaml", alias_bomb(), files.read_yaml)
        case("YAML nested 100,000 levels", "deep.yaml", "[" * 100_000 + "]" * 100_000, files.read_yaml)
        case("YAML mapping nested 1,000 levels", "deepmap.yaml", "".join("  " * i + f"k{i}:\n" for i in range(1000)), files.read_yaml)
        case("YAML duplicate key", "dup.yaml", "config:\n  a: 1\nconfig:\n  b: 2\n", files.read_yaml)
        case("UTF-16 stack file (PowerShell)", "utf16.yaml", (ROOT / "stacks" / "Pulumi.prod.yaml").read_text().encode("utf-16"), files.read_yaml)

        document = json.dumps(synthetic_export(options.resources))
        case(f"stack export of {options.resources:,} resources", "export.json", document, load_document)
        case("JSON nested 100,000 levels", "deep.json", "[" * 100_000 + "]" * 100_000, files.read_json)
        case("stack export with NaN", "nan.json", document[: 10**6].rsplit('"diskSize": 50.0', 1)[0] + '"diskSize": NaN}]}}', load_document)
        huge = Path(folder) / "huge.json"
        with open(huge, "wb") as stream:  # sparse: refused by its size alone
            stream.truncate(files.MAX_JSON_BYTES + 1)
        measure("JSON document over 256 MiB", lambda: files.read_json(huge), huge.stat().st_size)


if __name__ == "__main__":
    main()
