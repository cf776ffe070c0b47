"""The `mlp` command. Exit status: 0 success, 2 bad input (one line naming file and key), 1 else.

Every error reaches the user through `main` as exactly one line on stderr, `mlp <command>:
<file or "command line">: <key>: <message>`: argparse's own errors too (no usage dump), and the
option values that several subcommands share (`--region`) are checked here once. The option
types below (regions, dates, seconds, counts) are the ones subcommands declare their options
with, so a bad value reads the same everywhere.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import re
import sys
import traceback
from datetime import date
from typing import Any, Callable

from mlp.errors import ServiceError, UserError

# Modules of the subcommands, imported only when used: the GPU agent's image ships without
# Pulumi, which `plan` needs. `mlp prices` is registered by mlp/prices_refresh.py.
COMMANDS = ("plan", "cost", "diff", "prices_refresh", "report", "gpu_agent", "drift", "preflight")
COMMAND_LINE = "command line"
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


class ArgumentError(UserError):
    """A command line argparse refused, raised by the (sub)parser named `prog`."""

    def __init__(self, prog: str, message: str, key: str | None = None):
        super().__init__(COMMAND_LINE, message, key)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing its usage and exiting: `main` prints one line."""

    def error(self, message: str) -> Any:
        named = re.match(r"argument ([^:]+): (.*)", message, re.S)
        if named:
            raise ArgumentError(self.prog, named.group(2), key=named.group(1).split("/")[-1])
        raise ArgumentError(self.prog, message)


# --- option types -----------------------------------------------------------------------------


def region(value: str) -> str:
    if not REGION.fullmatch(value):
        raise argparse.ArgumentTypeError(f"expected an AWS region like us-east-1, got {value!r}")
    return value


def iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-10-01, got {value!r}") from None


def seconds(minimum: float, maximum: float) -> Callable[[str], float]:
    """A finite number of seconds in [minimum, maximum]: `inf`, `nan` and `1e-9` are refused."""

    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and minimum <= number <= maximum):
            raise argparse.ArgumentTypeError(f"expected a number of seconds from {minimum:g} to {maximum:g}, got {value!r}")
        return number

    return parse


def percent(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not 0 <= number <= 100:  # NaN fails too
        raise argparse.ArgumentTypeError(f"expected a percentage from 0 to 100, got {value!r}")
    return number


def whole_number(minimum: int, maximum: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = minimum - 1
        if not minimum <= number <= maximum:
            raise argparse.ArgumentTypeError(f"expected a whole number from {minimum} to {maximum}, got {value!r}")
        return number

    return parse


# Options several subcommands declare, checked once after parsing whatever type they declared.
_SHARED_OPTIONS: dict[str, Callable[[str], Any]] = {"region": region}


def _check_shared_options(args: argparse.Namespace) -> None:
    for name, parse in _SHARED_OPTIONS.items():
        value = getattr(args, name, None)
        if isinstance(value, str):
            try:
                setattr(args, name, parse(value))
            except argparse.ArgumentTypeError as error:
                raise UserError(COMMAND_LINE, str(error), key=f"--{name.replace('_', '-')}") from None


def build_parser(commands: tuple[str, ...] = COMMANDS) -> argparse.ArgumentParser:
    parser = _Parser(prog="mlp", description="mlplatform: offline plans, cost estimates, diffs and reports")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in commands:
        importlib.import_module(f"mlp.{command}").register(subparsers)
    return parser


def _say(prog: str, error: Exception) -> None:
    text = re.sub(r"\s*[\r\n]+\s*", " ", str(error))  # one line, whatever a service put in its message
    if not text.startswith(f"{prog}:"):
        text = f"{prog}: {text}"
    print(text, file=sys.stderr)


def main(argv: list[str] | None = None, commands: tuple[str, ...] = COMMANDS) -> int:
    prog = "mlp"
    try:
        args = build_parser(commands).parse_args(argv)
        prog = f"mlp {args.command}"
        _check_shared_options(args)
        return args.handler(args)
    except UserError as error:
        _say(error.prog if isinstance(error, ArgumentError) else prog, error)
        return 2
    except ServiceError as error:
        _say(prog, error)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # a defect of mlp itself, not of the user's input
        if os.environ.get("MLP_DEBUG"):
            traceback.print_exc()
        _say(prog, RuntimeError(f"internal error: {type(error).__name__}: {error} (set MLP_DEBUG=1 for the traceback)"))
        return 1
