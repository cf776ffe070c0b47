"""One argument-error path: whatever is wrong with a command line, `mlp` prints exactly one line
`mlp <command>: command line: [<option>: ]<message>` and exits 2; no usage dump, no doubled prefix."""

from __future__ import annotations

import pytest

from mlp import cli
from mlp.errors import ServiceError
from tests.conftest import run_mlp
from tests.mlp.fakeaws import without_credentials
from tests.mlp.inprocess import run_main


@pytest.mark.parametrize("args,line", [
    ([], "mlp: command line: the following arguments are required: COMMAND"),
    (["nope"], "mlp: command line: COMMAND: invalid choice: 'nope' (choose from 'plan', 'cost', 'diff', 'prices', 'report', 'gpu-agent', 'drift', 'preflight')"),
    (["plan"], "mlp plan: command line: the following arguments are required: stack"),
    (["cost", "--format", "xml", "x.json"], "mlp cost: command line: --format: invalid choice: 'xml' (choose from 'table', 'json', 'csv')"),
    (["cost", "x.json", "--bogus"], "mlp: command line: unrecognized arguments: --bogus"),
    (["diff", "a.json"], "mlp diff: command line: the following arguments are required: head"),
    (["prices"], "mlp prices: command line: the following arguments are required: ACTION"),
    (["prices", "refresh"], "mlp prices refresh: command line: the following arguments are required: --region"),
    (["report", "x.json", "--start", ""], "mlp report: command line: --start: expected a date like 2026-10-01, got ''"),
    (["gpu-agent", "--windows", "abc"], "mlp gpu-agent: command line: --windows: expected a whole number from 1 to 1000000000, got 'abc'"),
])
def test_argument_errors_are_one_line_and_exit_2(args, line):
    status, out, err = run_main(*args)
    assert (status, out, err) == (2, "", line + "\n")


def test_a_command_without_its_input_is_not_prefixed_twice():
    status, _, err = run_main("cost")
    assert status == 2 and err.count("mlp cost:") == 1 and err.count("\n") == 1


@pytest.mark.parametrize("args", [
    ["cost", "x.json", "--region", "Teem"],
    ["diff", "a.json", "b.json", "--region", "us-east-1; rm -rf /"],
    ["prices", "refresh", "--region", "US-EAST-1"],
    ["gpu-agent", "--cluster", "c", "--node-pool", "p", "--instance-type", "g5.xlarge", "--region", ""],
])
def test_regions_are_checked_for_every_command(args):
    status, _, err = run_main(*args)
    assert status == 2
    assert err.endswith(f"command line: --region: expected an AWS region like us-east-1, got {args[args.index('--region') + 1]!r}\n")
    assert err.count("\n") == 1


@pytest.mark.parametrize("value", ["us-east-1", "eu-central-2", "us-gov-west-1", "ap-southeast-5"])
def test_real_regions_pass(value):
    assert cli.region(value) == value


def test_prices_refresh_without_credentials_is_exit_2_like_report(tmp_path, monkeypatch):
    without_credentials(monkeypatch)
    status, out, err = run_main("prices", "refresh", "--region", "us-west-2", "--dir", str(tmp_path))
    assert (status, out) == (2, "")
    assert err == "mlp prices: AWS credentials: none found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n"
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_a_service_message_over_several_lines_is_printed_as_one(monkeypatch):
    def fail(args):
        raise ServiceError("Cost Explorer GetCostAndUsage: AccessDenied:\nUser is not\r\nauthorized")

    monkeypatch.setattr(cli, "_check_shared_options", lambda args: setattr(args, "handler", fail))
    status, _, err = run_main("cost", "x.json")
    assert (status, err) == (1, "mlp cost: Cost Explorer GetCostAndUsage: AccessDenied: User is not authorized\n")


def test_an_internal_error_is_one_line_exit_1(monkeypatch):
    def broken(args):
        raise KeyError("boom")

    monkeypatch.setattr(cli, "_check_shared_options", lambda args: setattr(args, "handler", broken))
    status, _, err = run_main("cost", "x.json")
    assert status == 1
    assert err == "mlp cost: internal error: KeyError: 'boom' (set MLP_DEBUG=1 for the traceback)\n"


def test_help_still_prints_usage_and_exits_0():
    result = run_mlp("cost", "--help")
    assert result.returncode == 0 and "usage: mlp cost" in result.stdout
