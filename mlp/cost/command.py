"""`mlp cost` on the command line: read or plan the document, estimate it, print it."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from mlp.cost.core import usage_schemas
from mlp.cost.estimator import estimate, gc_paused
from mlp.cost.grouping import DEFAULT_GROUP_KEYS
from mlp.cost.output import as_json, render_csv, render_table
from mlp.errors import UserError
from mlp.terminal import output_console
from mlp.state import check_group_keys
from mlp.usage import load_usage


def parse_group_keys(text: str | None) -> tuple[str, ...]:
    if text is None:
        return DEFAULT_GROUP_KEYS
    keys = tuple(k.strip() for k in text.split(",") if k.strip())
    if not keys:
        raise UserError("--by", "expected one or more tag keys separated by commas, e.g. Team,Component")
    return keys


def parse_day(text: str | None) -> date | None:
    """`--on YYYY-MM-DD`: the day to price for (the EKS support calendar); today when absent."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError("--on", f"expected a date as YYYY-MM-DD, got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    group_keys = parse_group_keys(args.by)
    on = parse_day(args.on)
    if bool(args.state) == bool(args.stack):
        raise UserError("mlp cost", "give either a state file (stack export or `pulumi preview --json`) or --stack STACK")
    usage = load_usage(args.usage, usage_schemas())
    # Imported when run: planning needs Pulumi, and the rest of the package (which `mlp diff`
    # and `mlp report` import) does not.
    from mlp.plan import load_document, plan_stack
    from mlp.queues import queue_ceilings, queues_json, queues_table

    with gc_paused():
        # Team queues need the stack's config (budgets are not in a document), so only a planned stack shows them.
        plan = plan_stack(args.stack, args.config_file) if args.stack else None
        resources = plan.resources if plan else load_document(args.state)
        ceilings = queue_ceilings(plan.config) if plan else []
        check_group_keys(group_keys, resources)
        result = estimate(resources, usage, args.region, group_keys, on=on)
        usage.check_every_entry_matched()
        if args.format == "json":
            document = as_json(result)
            if plan:
                document["teamQueues"] = queues_json(ceilings)
            sys.stdout.write(json.dumps(document, indent=2) + "\n")
        elif args.format == "csv":
            sys.stdout.write(render_csv(result))
        else:
            console = output_console()
            render_table(result, console)
            if ceilings:
                console.print(queues_table(plan.stack, plan.config, ceilings))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("cost", help="monthly cost estimate of a stack export, a preview, or a planned stack")
    parser.add_argument("state", nargs="?", help="a `pulumi stack export` document or a `pulumi preview --json` file")
    parser.add_argument("--stack", help="plan this stack offline (dev, staging, prod) and estimate it")
    parser.add_argument("--config-file", help="with --stack: the stack file to read instead of stacks/Pulumi.<stack>.yaml")
    parser.add_argument("--usage", help="usage file (stacks/usage.<env>.yaml)")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")
    parser.add_argument("--by", help=f"tag keys to group by, comma-separated (default {','.join(DEFAULT_GROUP_KEYS)})")
    parser.add_argument("--region", help="price in this region instead of the document's")
    parser.add_argument("--on", metavar="YYYY-MM-DD", help="price as of this day (EKS standard or extended support; default today)")
    parser.set_defaults(handler=run)
