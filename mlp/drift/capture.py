"""SageMaker's data-capture records, read into rows of feature values.

A real-time endpoint with data capture writes JSON Lines files under
`<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl`; each line is one captured request:

    {"captureData": {
        "endpointInput":  {"observedContentType": "text/csv", "mode": "INPUT",
                           "data": "5.1,3.5,1.4", "encoding": "CSV"},
        "endpointOutput": {"observedContentType": "text/csv; charset=utf-8", "mode": "OUTPUT",
                           "data": "0.93", "encoding": "CSV"}},
     "eventMetadata": {"eventId": "...", "inferenceTime": "2026-11-29T17:25:49Z"},
     "eventVersion": "0"}

`encoding` says how `data` is held: CSV (the CSV text itself), JSON (the JSON text itself) or
BASE64 (the raw payload, base64-encoded, for content types outside the endpoint's configured CSV
and JSON types). The model servers of Kubernetes endpoints write the same record
(docs/monitoring.md), so one reader serves both backends.

A payload may hold several rows (a CSV body of many lines; a JSON list, or `{"instances": [...]}`
as TensorFlow Serving and many servers take). A row is a list of values in feature order or an
object keyed by feature name.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Optional

ENCODINGS = ("CSV", "JSON", "BASE64")
# Keys under which JSON request bodies commonly carry a batch of rows.
BATCH_KEYS = ("instances", "inputs", "data")


class CaptureFormatError(ValueError):
    """A line that is not a SageMaker capture record (reported with its file and line)."""


@dataclass
class CaptureRows:
    """Feature values read from captured requests, column by column."""

    features: tuple[str, ...]
    values: dict[str, list[float]] = field(default_factory=dict)
    records: int = 0  # captured requests in the window
    rows: int = 0  # rows (instances) in them
    skipped_records: int = 0  # outside the window, or with no input captured
    unreadable_values: int = 0  # values that are no finite number, or a row of the wrong width

    def __post_init__(self) -> None:
        for name in self.features:
            self.values.setdefault(name, [])

    def add_row(self, row: Any) -> None:
        if isinstance(row, dict):
            cells = [row.get(name) for name in self.features]
        elif isinstance(row, (list, tuple)) and len(row) == len(self.features):
            cells = list(row)
        else:
            self.unreadable_values += 1
            return
        self.rows += 1
        for name, cell in zip(self.features, cells):
            number = _number(cell)
            if number is None:
                self.unreadable_values += 1
            else:
                self.values[name].append(number)


def _number(cell: Any) -> Optional[float]:
    if isinstance(cell, bool) or cell is None:
        return None
    try:
        number = float(cell.strip()) if isinstance(cell, str) else float(cell)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _payload_text(endpoint_input: dict) -> tuple[str, str]:
    """(text, kind) of a captured input: kind is csv or json, from the encoding or content type."""
    data = endpoint_input.get("data")
    encoding = str(endpoint_input.get("encoding", "")).upper()
    content_type = str(endpoint_input.get("observedContentType", "")).lower()
    if not isinstance(data, str):
        raise CaptureFormatError("captureData.endpointInput.data: expected a string")
    if encoding not in ENCODINGS:
        raise CaptureFormatError(f"captureData.endpointInput.encoding: expected one of {', '.join(ENCODINGS)}, got {encoding or 'nothing'!r}")
    if encoding == "BASE64":
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise CaptureFormatError("captureData.endpointInput.data: BASE64 data that is no base64-encoded UTF-8 text") from None
        kind = "json" if "json" in content_type else "csv"
        return data, kind
    return data, encoding.lower()


def payload_rows(endpoint_input: dict) -> Iterable[Any]:
    """The rows of one captured request body."""
    text, kind = _payload_text(endpoint_input)
    if kind == "csv":
        return [row for row in csv.reader(io.StringIO(text)) if row]
    try:
        body = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise CaptureFormatError("captureData.endpointInput.data: JSON data that does not parse") from None
    if isinstance(body, dict):
        batch = next((body[key] for key in BATCH_KEYS if isinstance(body.get(key), list)), None)
        return batch if batch is not None else [body]
    if isinstance(body, list):
        # A list of rows, or one row of plain values.
        return body if body and all(isinstance(item, (list, dict)) for item in body) else [body]
    raise CaptureFormatError("captureData.endpointInput.data: expected a JSON object or list")


def inference_time(record: dict) -> Optional[datetime]:
    text = (record.get("eventMetadata") or {}).get("inferenceTime")
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def read_capture_lines(lines: Iterable[str], rows: CaptureRows, since: Optional[datetime] = None) -> None:
    """Add the requests of one capture file to `rows`; raises CaptureFormatError with a line number."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("captureData"), dict):
                raise CaptureFormatError("expected a SageMaker capture record with captureData")
            when = inference_time(record)
            endpoint_input = record["captureData"].get("endpointInput")
            if (since is not None and when is not None and when < since) or not isinstance(endpoint_input, dict):
                rows.skipped_records += 1
                continue
            body = payload_rows(endpoint_input)
        except (json.JSONDecodeError, RecursionError):
            raise CaptureFormatError(f"line {number}: not JSON") from None
        except CaptureFormatError as error:
            raise CaptureFormatError(f"line {number}: {error}") from None
        rows.records += 1
        for row in body:
            rows.add_row(row)
