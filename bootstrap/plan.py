"""Plan the bootstrap stack offline, like `mlp plan` plans the platform: the program runs under
Pulumi's mocks (no cloud, no credentials, no Pulumi CLI) and what it declares is printed, or
written as a stack-export document.

    python -m bootstrap.plan [STACK] [--out FILE]      # STACK: bootstrap/Pulumi.<STACK>.yaml (main)
"""

from __future__ import annotations

import argparse
import json
import runpy
import sys
from collections import Counter
from pathlib import Path

import pulumi
from pulumi.runtime import settings as pulumi_settings

from bootstrap import permissions
from bootstrap.config import NAMESPACE, parse
from mlp.errors import UserError
from mlp.offline import OfflineRun, PlatformMocks, RecordingMonitor, _dependency_order, export_document
from mlp.files import read_yaml

HERE = Path(__file__).resolve().parent
PROJECT = "mlplatform-bootstrap"


def stack_config(stack: str, config_file: str | None = None) -> dict:
    path = Path(config_file) if config_file else HERE / f"Pulumi.{stack}.yaml"
    document = read_yaml(path)
    if not isinstance(document, dict) or not isinstance(document.get("config"), dict):
        raise UserError(str(path), "expected a mapping with a 'config' mapping", key="config")
    return document["config"]


def run(stack: str = "main", config_file: str | None = None) -> OfflineRun:
    raw = stack_config(stack, config_file)
    parse(raw.get(f"{NAMESPACE}:settings") or {})  # a bad value fails here, naming its key
    pulumi_settings.ROOT.set(None)
    pulumi.runtime.set_all_config({key: value if isinstance(value, str) else json.dumps(value) for key, value in raw.items()})
    mocks = PlatformMocks(raw["aws:region"])
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)

    @pulumi.runtime.test
    def program():
        runpy.run_path(str(HERE / "__main__.py"), run_name="__main__")

    program()
    return OfflineRun(stack, _dependency_order(monitor.recorded), mocks.invokes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bootstrap.plan", description=__doc__.splitlines()[0])
    parser.add_argument("stack", nargs="?", default="main")
    parser.add_argument("--config-file")
    parser.add_argument("--out", help="write the stack-export document here")
    args = parser.parse_args(argv)
    try:
        planned = run(args.stack, args.config_file)
    except UserError as error:
        print(f"bootstrap plan: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # a ConfigError from the models
        if type(error).__name__ == "ConfigError":
            print(f"bootstrap plan: bootstrap/Pulumi.{args.stack}.yaml: {error}", file=sys.stderr)
            return 2
        raise
    counts = Counter(r.type for r in planned.resources if r.custom)
    for type_token, count in sorted(counts.items()):
        print(f"{count:4}  {type_token}")
    protected = [f"{r.type.rsplit(':', 1)[1]} {r.name}" for r in planned.resources if r.protect]
    print(f"{sum(counts.values())} resources; protected: {', '.join(protected)}")
    policies = planned.by_type("aws:iam/policy:Policy")
    largest = max((len(r.inputs.get("policy", "")) for r in policies), default=0)
    print(f"{len(policies)} deploy policies, the largest {largest} of {permissions.MAX_POLICY_CHARS} characters")
    if args.out:
        from mlp.files import write_atomic

        write_atomic(args.out, json.dumps(export_document(planned), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
