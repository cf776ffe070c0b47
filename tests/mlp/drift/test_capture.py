"""Reading SageMaker capture records: every encoding, batches, the window, bad lines."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import pytest

from mlp.drift.capture import CaptureFormatError, CaptureRows, payload_rows, read_capture_lines

FEATURES = ("a", "b")
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


def line(endpoint_input: dict, when: datetime = NOW) -> str:
    return json.dumps({
        "captureData": {"endpointInput": endpoint_input,
                        "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": "1", "encoding": "CSV"}},
        "eventMetadata": {"eventId": "x", "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ")},
        "eventVersion": "0",
    })


def test_csv_input_may_hold_several_rows():
    rows = list(payload_rows({"observedContentType": "text/csv", "mode": "INPUT", "data": "1,2\n3,4\n", "encoding": "CSV"}))
    assert rows == [["1", "2"], ["3", "4"]]


@pytest.mark.parametrize("body, expected", [
    ({"a": 1, "b": 2}, [{"a": 1, "b": 2}]),
    ({"instances": [[1, 2], [3, 4]]}, [[1, 2], [3, 4]]),
    ({"inputs": [{"a": 1, "b": 2}]}, [{"a": 1, "b": 2}]),
    ([[1, 2], [3, 4]], [[1, 2], [3, 4]]),
    ([1, 2], [[1, 2]]),
])
def test_json_bodies_of_one_row_or_a_batch(body, expected):
    rows = list(payload_rows({"observedContentType": "application/json", "mode": "INPUT", "data": json.dumps(body), "encoding": "JSON"}))
    assert rows == expected


def test_base64_is_decoded_then_read_by_content_type():
    data = base64.b64encode(json.dumps({"a": 5, "b": 6}).encode()).decode()
    rows = list(payload_rows({"observedContentType": "application/x-custom+json", "mode": "INPUT", "data": data, "encoding": "BASE64"}))
    assert rows == [{"a": 5, "b": 6}]
    csv_data = base64.b64encode(b"7,8").decode()
    assert list(payload_rows({"observedContentType": "application/octet-stream", "data": csv_data, "encoding": "BASE64"})) == [["7", "8"]]


def test_records_before_the_window_and_outputs_only_are_skipped():
    rows = CaptureRows(features=FEATURES)
    lines = [
        line({"observedContentType": "text/csv", "mode": "INPUT", "data": "1,2", "encoding": "CSV"}),
        line({"observedContentType": "text/csv", "mode": "INPUT", "data": "9,9", "encoding": "CSV"}, when=NOW - timedelta(days=2)),
        json.dumps({"captureData": {"endpointOutput": {"data": "1", "encoding": "CSV"}}}),
        "",
    ]
    read_capture_lines(lines, rows, since=NOW - timedelta(hours=1))
    assert (rows.records, rows.rows, rows.skipped_records) == (1, 1, 2)
    assert rows.values == {"a": [1.0], "b": [2.0]}


def test_values_that_are_no_finite_number_are_counted_not_used():
    rows = CaptureRows(features=FEATURES)
    read_capture_lines([
        line({"observedContentType": "text/csv", "data": "1,nan\nx,2\n1,2,3", "encoding": "CSV"}),
        line({"observedContentType": "application/json", "data": json.dumps({"a": True, "b": None}), "encoding": "JSON"}),
    ], rows)
    assert rows.values == {"a": [1.0], "b": [2.0]}
    # nan, x, the three-column row, true and null
    assert rows.unreadable_values == 5
    assert rows.rows == 3


@pytest.mark.parametrize("text, message", [
    ("not json", "line 1: not JSON"),
    (json.dumps({"other": 1}), "captureData"),
    (line({"data": "1,2", "encoding": "XML"}), "encoding: expected one of CSV, JSON, BASE64"),
    (line({"data": "%%%", "encoding": "BASE64"}), "no base64-encoded UTF-8"),
    (line({"observedContentType": "application/json", "data": "{", "encoding": "JSON"}), "does not parse"),
    (line({"data": 5, "encoding": "CSV"}), "expected a string"),
])
def test_a_line_that_is_no_capture_record_is_refused_with_its_number(text, message):
    with pytest.raises(CaptureFormatError, match=message):
        read_capture_lines([text], CaptureRows(features=FEATURES))
