"""`mlp diff` on the command line: which documents and usage files, which guardrails, which format.

Exit status: 0 done; 2 bad input; 3 a guardrail tripped (`--fail-on-budget`,
`--fail-above-usd`, `--fail-above-percent`): the output is written in full first, so CI can
post the comment and still fail the check; 1 anything else.
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

from mlp.cost import DEFAULT_GROUP_KEYS, gc_paused, parse_day, parse_group_keys, usage_schemas
from mlp.diff.compare import StackDiff, diff_resources
from mlp.diff.machine import as_json, generated_at, tool_version
from mlp.diff.markdown import render_markdown, render_summary, signed, trip_lines, usd
from mlp.diff.properties import preview_steps
from mlp.errors import UserError
from mlp.files import read_json
from mlp.state import resources_from_document
from mlp.state import check_group_keys
from mlp.usage import UsageFile, load_usage

GUARDRAIL_EXIT = 3

EPILOG = """\
one stack:    mlp diff BASE.json HEAD.json [--usage F | --base-usage F --head-usage F]
many stacks:  mlp diff --pair dev base/dev.json head/dev.json --pair prod base/prod.json head/prod.json \\
                  --base-usage-dir base/stacks --head-usage-dir head/stacks
              (each pair's usage file is usage.<NAME>.yaml in those directories, when it exists;
              one summary with a grand total, unchanged stacks collapsed to one line)
BASE/HEAD are stack exports or `pulumi preview --json` files (a preview's steps say what is
replaced or deleted). Guardrails exit 3 after writing the whole output:
  --fail-on-budget [expected|ceiling]  a budget the stack declares is exceeded by the expected
                                       cost (default) or also by the ceiling
  --fail-above-usd N                   a stack's, or the total, expected cost rises by more than N
  --fail-above-percent P               a stack's, or the total, expected cost rises by more than P%
Exit status: 0 done, 2 bad input, 3 a guardrail tripped, 1 anything else."""


def _number(text: str, option: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise UserError(option, f"expected a number, got {text!r}") from None
    if value < 0:
        raise UserError(option, f"expected a number of at least 0, got {text}")
    return value


def _usage(path: str | Path | None) -> UsageFile | None:
    return None if path is None else load_usage(path, usage_schemas())


def _in_dir(directory: str | None, name: str) -> Path | None:
    if directory is None:
        return None
    path = Path(directory) / f"usage.{name}.yaml"
    return path if path.is_file() else None


def _pairs(args: argparse.Namespace) -> list[tuple[str | None, str, str, Path | str | None, Path | str | None]]:
    """(name, base, head, base usage, head usage) of every stack to compare."""
    if args.pair and (args.base or args.head):
        raise UserError("command line", "give either BASE HEAD or --pair NAME BASE HEAD (repeatable), not both")
    if args.pair:
        names = [pair[0] for pair in args.pair]
        if len(set(names)) != len(names):
            raise UserError("command line", "--pair: each stack name may be given once")
        if args.usage or args.base_usage or args.head_usage:
            raise UserError("command line", "with --pair, give usage files by directory: --usage-dir, --base-usage-dir, --head-usage-dir")
        return [(name, base, head, _in_dir(args.base_usage_dir or args.usage_dir, name), _in_dir(args.head_usage_dir or args.usage_dir, name))
                for name, base, head in args.pair]
    if not (args.base and args.head):
        missing = "head" if args.base else "base, head"
        raise UserError("command line", f"the following arguments are required: {missing} (or --pair NAME BASE HEAD)" if not args.base else
                        f"the following arguments are required: {missing}")
    return [(None, args.base, args.head, args.base_usage or args.usage, args.head_usage or args.usage)]


def _document(path: str):
    raw = read_json(path, str(path))
    return resources_from_document(raw, str(path)), preview_steps(raw)


def _check_usage_entries(*usages: UsageFile | None) -> None:
    """A usage entry is a typo only if it names no resource on either side: a base file's entry for
    a resource the change adds (or a first deployment's empty base) is not one."""
    files = [u for u in {id(u): u for u in usages if u is not None}.values()]
    seen = set().union(*(u.seen for u in files)) if files else set()
    for usage in files:
        usage.check_every_entry_matched(also_seen=seen)


def guardrail_trips(stacks: list[StackDiff], fail_on_budget: str | None, above_usd: Decimal | None, above_percent: Decimal | None) -> list[str]:
    """What the options forbid and the change does, one line each."""
    trips = []
    for diff in stacks:
        label = f"stack `{diff.name}`" if diff.name else "the stack"
        for check in diff.budgets if fail_on_budget else []:
            if check.status == "over" or (fail_on_budget == "ceiling" and check.status == "ceiling over"):
                worst = "unbounded" if check.ceiling is None else usd(check.ceiling)
                trips.append(f"{label}: budget `{check.budget.name}` ({check.budget.scope}) of {usd(check.budget.limit)}: "
                             f"expected {usd(check.expected)}, ceiling {worst}")
        if above_usd is not None and diff.cost_change > above_usd:
            trips.append(f"{label}: expected monthly cost rises {signed(diff.cost_change)}, more than ${above_usd:,}")
        if above_percent is not None and diff.percent is not None and diff.percent > above_percent:
            trips.append(f"{label}: expected monthly cost rises {diff.percent}%, more than {above_percent}%")
    if len(stacks) > 1:
        base = sum((d.base.total for d in stacks), Decimal(0))
        change = sum((d.cost_change for d in stacks), Decimal(0))
        if above_usd is not None and change > above_usd:
            trips.append(f"all stacks: expected monthly cost rises {signed(change)}, more than ${above_usd:,}")
        if above_percent is not None and base and change / base * 100 > above_percent:
            trips.append(f"all stacks: expected monthly cost rises {(change / base * 100).quantize(Decimal('0.1'))}%, more than {above_percent}%")
    return trips


def run(args: argparse.Namespace) -> int:
    group_keys = parse_group_keys(args.by)
    on = parse_day(args.on)
    above_usd = None if args.fail_above_usd is None else _number(args.fail_above_usd, "--fail-above-usd")
    above_percent = None if args.fail_above_percent is None else _number(args.fail_above_percent, "--fail-above-percent")
    stacks = []
    with gc_paused():
        for name, base_path, head_path, base_usage, head_usage in _pairs(args):
            base, _ = _document(base_path)
            head, steps = _document(head_path)
            check_group_keys(group_keys, base + head)
            # One file for both sides is one object, so an entry only the head's resources match still counts as used.
            priced_base = _usage(base_usage)
            priced_head = priced_base if head_usage == base_usage else _usage(head_usage)
            stacks.append(diff_resources(base, head, None, group_keys, args.region, priced_base, priced_head, on, steps, name))
            _check_usage_entries(priced_base, priced_head)
    trips = guardrail_trips(stacks, args.fail_on_budget, above_usd, above_percent)
    code = GUARDRAIL_EXIT if trips else 0
    when = generated_at()
    if args.format == "json":
        sys.stdout.write(json.dumps(as_json(stacks, trips, when, code), indent=2) + "\n")
    elif args.pair:
        sys.stdout.write(render_summary([(d.name or "", d) for d in stacks], trips, footer(stacks, when)))
    else:
        sys.stdout.write(trip_lines(trips) + render_markdown(stacks[0], args.title) + "\n" + footer(stacks, when) + "\n")
    for trip in trips:
        print(f"mlp diff: guardrail tripped: {trip}", file=sys.stderr)
    return code


def footer(stacks: list[StackDiff], when: str) -> str:
    catalogues = sorted({f"{d.head.catalogue.region} prices as of {d.head.catalogue.as_of or 'n/a'}" for d in stacks})
    return f"<sub>mlp diff {tool_version()} · generated {when} · priced on {stacks[0].head.on} · {'; '.join(catalogues)} · {stacks[0].head.catalogue.currency}</sub>"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("diff", help="resources and monthly cost a change adds, changes, replaces and removes, per stack and in total",
                                   epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", nargs="?", help="stack export or preview of the base (e.g. the target branch)")
    parser.add_argument("head", nargs="?", help="stack export or preview of the head (e.g. the pull request)")
    parser.add_argument("--pair", nargs=3, action="append", metavar=("NAME", "BASE", "HEAD"), help="a stack to compare (repeatable)")
    parser.add_argument("--format", choices=("markdown", "json"), default="markdown")
    parser.add_argument("--usage", help="usage file both sides are priced with (stacks/usage.<env>.yaml)")
    parser.add_argument("--base-usage", help="usage file the base is priced with (default --usage)")
    parser.add_argument("--head-usage", help="usage file the head is priced with (default --usage)")
    parser.add_argument("--usage-dir", help="with --pair: directory of usage.<NAME>.yaml for both sides")
    parser.add_argument("--base-usage-dir", help="with --pair: directory of the base's usage.<NAME>.yaml")
    parser.add_argument("--head-usage-dir", help="with --pair: directory of the head's usage.<NAME>.yaml")
    parser.add_argument("--by", help=f"tag keys to group the change by (default {','.join(DEFAULT_GROUP_KEYS)})")
    parser.add_argument("--region", help="price in this region instead of the documents'")
    parser.add_argument("--on", metavar="YYYY-MM-DD", help="price both sides as of this day (default today)")
    parser.add_argument("--title", help="heading of a single stack's comment, e.g. the stack name")
    parser.add_argument("--fail-on-budget", nargs="?", const="expected", choices=("expected", "ceiling"),
                        help="exit 3 when a declared budget is exceeded by the expected cost (or, with `ceiling`, by the ceiling too)")
    parser.add_argument("--fail-above-usd", metavar="N", help="exit 3 when the expected monthly cost rises by more than N")
    parser.add_argument("--fail-above-percent", metavar="P", help="exit 3 when the expected monthly cost rises by more than P percent")
    parser.set_defaults(handler=run)
