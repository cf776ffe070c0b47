"""`mlp preflight STACK`: before the first `pulumi up`, check the real account for everything the
stack file references and cannot create itself.

One line per check (`ok` or `FAIL`, what, the stack-file key, why). Placeholders are found offline
first; the AWS checks then need credentials for the stack's account. Exit status: 0 every check
passed, 2 a check failed (or bad input), 1 an AWS answer mlp could not use (a refusal, a timeout,
a garbled answer): that stops the run with one line naming the API.
"""

from __future__ import annotations

import argparse
import sys

from components.config import PlatformConfig
from mlp.preflight.account import account_checks, caller_account
from mlp.preflight.artifacts import artifact_checks
from mlp.preflight.capacity import ami_checks, offering_checks, quota_checks, split_cost_allocation
from mlp.preflight.lines import FAIL, Clients, Line, fail, ok
from mlp.preflight.placeholders import find_placeholders
from mlp.preflight.references import collect
from mlp.stackfile import display_path, load_stack, stack_file_path


def placeholder_lines(raw: dict) -> list[Line]:
    found = find_placeholders(raw)
    if not found:
        return [ok("placeholders", "config", "no example domains, account IDs, networks or company names")]
    return [fail("placeholder", p.key, f"{p.value!r} holds {p.why}: replace it with the real value") for p in found]


def aws_lines(config: PlatformConfig, clients: Clients, split_cost_allocation_enabled: bool) -> list[Line]:
    account = caller_account(clients)
    references = collect(config)
    lines = account_checks(clients, references, account, config.region)
    lines += artifact_checks(clients, references)
    lines += ami_checks(clients, config)
    lines += offering_checks(clients, config, list(config.network.availability_zones))
    lines += quota_checks(clients, config)
    lines.append(split_cost_allocation(split_cost_allocation_enabled))
    return lines


def run(args: argparse.Namespace) -> int:
    raw, config = load_stack(args.stack, args.config_file)
    lines = placeholder_lines(raw)
    for line in lines:
        print(line.render(), flush=True)
    if not args.offline:
        checked = aws_lines(config, Clients(config.region, args.endpoint_url), args.split_cost_allocation_enabled)
        for line in checked:
            print(line.render(), flush=True)
        lines += checked
    failed = sum(line.status == FAIL for line in lines)
    if failed:
        shown = display_path(stack_file_path(args.stack, args.config_file))
        print(f"mlp preflight: {shown}: {failed} of {len(lines)} checks failed (the FAIL lines above)", file=sys.stderr)
        return 2
    print(f"all {len(lines)} checks passed")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("preflight", help="check the AWS account for what a stack references before the first pulumi up")
    parser.add_argument("stack", help="stack name (stacks/Pulumi.<stack>.yaml)")
    parser.add_argument("--config-file", help="stack file to read instead of stacks/Pulumi.<stack>.yaml")
    parser.add_argument("--offline", action="store_true", help="only the placeholder check: no AWS calls, no credentials")
    parser.add_argument("--split-cost-allocation-enabled", action="store_true",
                        help="you have turned on split cost allocation data for EKS in the Billing console (no API reports it)")
    parser.add_argument("--endpoint-url", help="AWS endpoint override (tests, private endpoints)")
    parser.set_defaults(handler=run)

