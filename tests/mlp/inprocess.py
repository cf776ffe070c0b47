"""The `mlp` command run in-process, as `python -m mlp` would run it: status, stdout, stderr."""

from __future__ import annotations

import contextlib
import io

from mlp.cli import main


def run_main(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(args))
    return status, out.getvalue(), err.getvalue()
