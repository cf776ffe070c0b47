"""The `mlp` command. Exit status: 0 success, 2 bad input (one line naming file and key), 1 else."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback

from mlp.errors import ServiceError, UserError

# Modules of the subcommands, imported only when used: the GPU agent's image ships without
# Pulumi, which `plan` needs.
COMMANDS = ("plan", "cost", "diff", "prices", "report", "gpu_agent")


def build_parser(commands: tuple[str, ...] = COMMANDS) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlp", description="mlplatform: offline plans, cost estimates, diffs and reports")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in commands:
        importlib.import_module(f"mlp.{command}").register(subparsers)
    return parser


def main(argv: list[str] | None = None, commands: tuple[str, ...] = COMMANDS) -> int:
    args = build_parser(commands).parse_args(argv)
    try:
        return args.handler(args)
    except UserError as error:
        print(f"mlp {args.command}: {error}", file=sys.stderr)
        return 2
    except ServiceError as error:
        print(f"mlp {args.command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # a defect of mlp itself, not of the user's input
        if os.environ.get("MLP_DEBUG"):
            traceback.print_exc()
        print(f"mlp {args.command}: internal error: {type(error).__name__}: {error} (set MLP_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1
