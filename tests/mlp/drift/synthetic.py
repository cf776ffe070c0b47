"""Synthetic SageMaker capture files and baselines with known drift, for the drift tests."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import datetime, timedelta, timezone

import numpy as np

FEATURES = ("price", "promo", "store_size")


def sample(rng: np.random.Generator, rows: int, price_shift: float = 0.0, size_scale: float = 1.0) -> np.ndarray:
    """Rows of (price, promo, store_size): normal, uniform and lognormal columns."""
    return np.column_stack([
        rng.normal(10.0 + price_shift, 2.0, rows),
        rng.uniform(0.0, 1.0, rows),
        rng.lognormal(3.0, 0.5 * size_scale, rows),
    ])


def baseline_csv(values: np.ndarray, features=FEATURES) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(features)
    writer.writerows([[f"{v:.6f}" for v in row] for row in values])
    return out.getvalue()


def record(row, encoding: str, when: datetime, features=FEATURES) -> dict:
    """One capture record, as SageMaker writes it, in the given input encoding."""
    if encoding == "CSV":
        endpoint_input = {"observedContentType": "text/csv", "mode": "INPUT", "data": ",".join(f"{v:.6f}" for v in row), "encoding": "CSV"}
    elif encoding == "JSON":
        body = json.dumps({"instances": [dict(zip(features, map(float, row)))]})
        endpoint_input = {"observedContentType": "application/json", "mode": "INPUT", "data": body, "encoding": "JSON"}
    else:
        body = ",".join(f"{v:.6f}" for v in row).encode()
        endpoint_input = {"observedContentType": "application/octet-stream", "mode": "INPUT",
                          "data": base64.b64encode(body).decode(), "encoding": "BASE64"}
    return {
        "captureData": {
            "endpointInput": endpoint_input,
            "endpointOutput": {"observedContentType": "text/csv; charset=utf-8", "mode": "OUTPUT", "data": "0.5", "encoding": "CSV"},
        },
        "eventMetadata": {"eventId": f"e-{hash(tuple(row)) & 0xffffffff:x}", "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ")},
        "eventVersion": "0",
    }


def capture_jsonl(values: np.ndarray, encodings=("CSV", "JSON", "BASE64"), when: datetime | None = None) -> str:
    when = when or datetime.now(timezone.utc) - timedelta(minutes=30)
    lines = [json.dumps(record(row, encodings[i % len(encodings)], when)) for i, row in enumerate(values)]
    return "\n".join(lines) + "\n"
