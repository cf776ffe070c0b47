"""Shared test harness: offline plans of the real stacks, plans of edited configs, the CLI.

Every plan runs the real program under Pulumi's mocks through `mlp.plan.plan_stack`, which
resets the root resource before each run and never previews (see DESIGN.md's pitfalls).
"""

from __future__ import annotations

import copy
import functools
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from mlp import PROJECT_ROOT
from mlp.plan import Plan, plan_stack
from mlp.state import StateResource

STACKS = ("dev", "staging", "prod")


@functools.lru_cache(maxsize=None)
def planned(stack: str) -> Plan:
    """The offline plan of a real stack file, computed once per test session."""
    return plan_stack(stack)


def stack_yaml(stack: str) -> dict[str, Any]:
    """A fresh, editable copy of a stack file's parsed YAML."""
    return copy.deepcopy(yaml.safe_load((PROJECT_ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text()))


@pytest.fixture(params=STACKS)
def stack(request) -> str:
    return request.param


@pytest.fixture
def plan_of() -> Callable[[str], Plan]:
    return planned


@pytest.fixture
def write_stack(tmp_path: Path) -> Callable[[str, dict], Path]:
    """Write an edited stack document to a temporary stack file; returns its path."""

    def write(stack: str, document: dict) -> Path:
        path = tmp_path / f"Pulumi.{stack}.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return path

    return write


@pytest.fixture
def plan_edited(write_stack) -> Callable[[str, Callable[[dict], None]], Plan]:
    """Plan a stack whose config was changed by `edit(config_mapping)`."""

    def plan(stack: str, edit: Callable[[dict], None]) -> Plan:
        document = stack_yaml(stack)
        edit(document["config"])
        return plan_stack(stack, str(write_stack(stack, document)))

    return plan


def run_mlp(*args: str, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess:
    """Run the real `mlp` command in a subprocess, as a user or CI would."""
    return subprocess.run([sys.executable, "-m", "mlp", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def stack_default_tags(stack: str) -> dict[str, str]:
    """The default tags of the stack's AWS provider, the one in the stack's region (a stack may add
    one for another region, like the billing exports' us-east-1 provider, with the same tags)."""
    from mlp.offline import provider_default_tags

    region = planned(stack).config.region
    (provider,) = [r for r in planned(stack).document["deployment"]["resources"]
                   if r["type"] == "pulumi:providers:aws" and r["inputs"].get("region") == region]
    return provider_default_tags(provider)


def of_type(resources: list[StateResource], type_token: str) -> list[StateResource]:
    return [r for r in resources if r.type == type_token]


def start_moto_server(env: dict[str, str] | None = None) -> tuple[subprocess.Popen, int]:
    """A real moto_server on a free port of 127.0.0.1, once it accepts connections: (process, port)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, port
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError("moto_server did not start")
            time.sleep(0.1)


@pytest.fixture(scope="session")
def moto_endpoint():
    """A real moto_server on 127.0.0.1 for the AWS APIs mlp calls; its URL."""
    server, port = start_moto_server()
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def aws_test_credentials(monkeypatch):
    """Fake credentials so boto3 signs requests to moto and never finds real ones."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
