"""The Athena-sourced report of the synthetic export in every format, written by the real CLI."""

from __future__ import annotations

import json

import boto3
import pytest
import requests

from components.billing import athena_names
from mlp.finance.athena import build_query
from tests.conftest import planned, run_mlp
from tests.mlp.finance.export import athena_answer, line_items, run_report_query

PERIOD = ("--start", "2026-09-01", "--end", "2026-11-01")


@pytest.fixture(scope="module")
def export_rows():
    names = athena_names("mlplatform")
    from datetime import date

    return run_report_query(build_query(names["database"], names["table"], "prod", date(2026, 9, 1), date(2026, 11, 1)), line_items())


@pytest.fixture
def athena_files(export_rows, moto_endpoint, aws_test_credentials, tmp_path, monkeypatch):
    """(JSON report, CSV text, HTML text) of one seeded export, each from its own `mlp report` run."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    requests.post(f"{moto_endpoint}/moto-api/reset")
    boto3.client("athena", region_name="us-west-2", endpoint_url=moto_endpoint).create_work_group(Name=athena_names("mlplatform")["workgroup"])
    state = tmp_path / "prod.json"
    state.write_text(json.dumps(planned("prod").document))
    outputs = {}
    for format in ("json", "csv", "html"):
        requests.post(f"{moto_endpoint}/moto-api/static/athena/query-results", json=athena_answer(export_rows)).raise_for_status()
        out = tmp_path / f"report.{format}"
        result = run_mlp("report", str(state), "--source", "athena", *PERIOD, "--endpoint-url", moto_endpoint, "--format", format, "--out", str(out))
        assert result.returncode == 0 and result.stdout == "", result.stderr
        with open(out, encoding="utf-8", newline="") as written:  # as written: CSV rows end in CRLF
            outputs[format] = written.read()
    return json.loads(outputs["json"]), outputs["csv"], outputs["html"]
