"""The serving image's entry point: one MLflow pyfunc model, served or batch-scored.

Modes, chosen by how the platform starts the container:
- `serve` argument (SageMaker's container contract): the model SageMaker unpacked in /opt/ml/model,
  HTTP on port 8080: `GET /ping` answers 200 once the model is loaded, `POST /invocations` predicts.
- no argument, INPUT_URI and OUTPUT_URI set (a batch job, components/batch_jobs.py): download the
  model from MODEL_URI, score every CSV or Parquet object under INPUT_URI, write one Parquet file of
  predictions per input object under OUTPUT_URI, exit 0 (any failure exits 1 with one line).
- no argument otherwise (a model server on the cluster, components/endpoints_kubernetes.py):
  download the model from MODEL_URI (an S3 prefix, or a model.tar.gz) and serve on $PORT.

Only /tmp is writable in the platform's pods (read-only root filesystem), so models land there.

Request capture on the cluster (docs/monitoring.md, "Kubernetes endpoints capture too"): where the
platform sets CAPTURE_DIR, CAPTURE_SAMPLING_PERCENT and CAPTURE_ENDPOINT, the server appends one
SageMaker capture record per sampled request to an hourly JSON Lines file there, and deletes files
older than two hours (the shipper sidecar has uploaded them by then).
"""

from __future__ import annotations

import base64
import io
import json
import os
import random
import sys
import tarfile
import threading
import time
import uuid
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

SAGEMAKER_MODEL_DIR = Path("/opt/ml/model")
SAGEMAKER_PORT = 8080
LOCAL_MODEL_DIR = Path("/tmp/model")
# SageMaker real-time requests are at most 6 MB (25 MB with streaming is not used here).
MAX_REQUEST_BYTES = 25 * 1024 * 1024
CSV = "text/csv"
JSON = "application/json"


# Files of the capture buffer are kept this long after their hour ends; the shipper flushes within it.
CAPTURE_KEEP_SECONDS = 2 * 3600


class CaptureWriter:
    """Samples requests into SageMaker's capture record format, one file per hour."""

    def __init__(self, directory: Path, sampling_percent: float, endpoint: str, sample: Callable[[], float] = random.random,
                 clock: Callable[[], float] = time.time):
        if not 0 <= sampling_percent <= 100:
            raise ValueError(f"CAPTURE_SAMPLING_PERCENT: expected 0 to 100, got {sampling_percent}")
        self.directory, self.share, self.endpoint = directory, sampling_percent / 100, endpoint
        self._sample, self._clock, self._lock, self._hour = sample, clock, threading.Lock(), None

    @classmethod
    def from_environment(cls, environ: dict[str, str]) -> "CaptureWriter | None":
        if not environ.get("CAPTURE_DIR"):
            return None
        return cls(Path(environ["CAPTURE_DIR"]), float(environ.get("CAPTURE_SAMPLING_PERCENT", "0")), environ.get("CAPTURE_ENDPOINT", "endpoint"))

    @staticmethod
    def _side(body: bytes, content_type: str, mode: str) -> dict[str, str]:
        kind = content_type.split(";")[0].strip().lower()
        encoding = "CSV" if kind == CSV else "JSON" if kind == JSON else "BASE64"
        try:
            data = body.decode() if encoding != "BASE64" else base64.b64encode(body).decode()
        except UnicodeDecodeError:
            encoding, data = "BASE64", base64.b64encode(body).decode()
        return {"observedContentType": content_type, "mode": mode, "data": data, "encoding": encoding}

    def record(self, request: bytes, request_type: str, response: bytes, response_type: str) -> bool:
        """Append the exchange if it is sampled; True when it was written."""
        if self._sample() >= self.share:
            return False
        now = self._clock()
        line = json.dumps({
            "captureData": {"endpointInput": self._side(request, request_type, "INPUT"),
                            "endpointOutput": self._side(response, response_type, "OUTPUT")},
            "eventMetadata": {"eventId": str(uuid.uuid4()),
                              "inferenceTime": datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")},
            "eventVersion": "0",
        })
        hour = datetime.fromtimestamp(now, timezone.utc).strftime("%Y%m%d%H")
        with self._lock:
            if hour != self._hour:
                self._hour = hour
                self._prune(now)
            with open(self.directory / f"{self.endpoint}-{hour}.jsonl", "a", encoding="utf-8") as out:
                out.write(line + "\n")
        return True

    def _prune(self, now: float) -> None:
        for old in self.directory.glob(f"{self.endpoint}-*.jsonl"):
            if old.stat().st_mtime < now - CAPTURE_KEEP_SECONDS:
                old.unlink(missing_ok=True)


class ModelError(Exception):
    """A request or model the server cannot score; its message goes back to the caller."""


def split_s3_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"expected an s3://bucket/key URI, got {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def _safe_extract(archive: tarfile.TarFile, target: Path) -> None:
    # The "data" filter refuses absolute paths, links out of the target and device files.
    archive.extractall(target, filter="data")


def download_model(s3: Any, uri: str, target: Path) -> Path:
    """Copy the model at `uri` (a .tar.gz object or a prefix) into `target`; returns the model directory."""
    bucket, key = split_s3_uri(uri)
    target.mkdir(parents=True, exist_ok=True)
    if key.endswith((".tar.gz", ".tgz")):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
            _safe_extract(archive, target)
        return target
    prefix = key if key.endswith("/") or not key else key + "/"
    found = False
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            relative = item["Key"][len(prefix):]
            if not relative or relative.endswith("/"):
                continue
            destination = (target / relative).resolve()
            if target.resolve() not in destination.parents:
                raise ValueError(f"object {item['Key']} would be written outside {target}")
            destination.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, item["Key"], str(destination))
            found = True
    if not found:
        raise ValueError(f"no model files under {uri}")
    return target


def read_frame(body: bytes, content_type: str):
    """The request body as a pandas DataFrame (CSV without header, or JSON records / split / instances)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind not in (CSV, JSON):
        raise ModelError(f"unsupported content type {kind!r} (expected {CSV} or {JSON})")
    import pandas as pd

    if kind == CSV:
        return pd.read_csv(io.BytesIO(body), header=None)
    try:
        document = json.loads(body)
    except ValueError as error:
        raise ModelError(f"the body is not JSON: {error}") from None
    if isinstance(document, dict) and "dataframe_split" in document:
        split = document["dataframe_split"]
        return pd.DataFrame(split.get("data", []), columns=split.get("columns"))
    if isinstance(document, dict) and "dataframe_records" in document:
        return pd.DataFrame.from_records(document["dataframe_records"])
    if isinstance(document, dict) and "instances" in document:
        return pd.DataFrame(document["instances"])
    if isinstance(document, list):
        return pd.DataFrame(document)
    raise ModelError("expected a JSON list of rows, or an object with dataframe_split, dataframe_records or instances")


def predictions_json(predictions: Any) -> bytes:
    if hasattr(predictions, "to_dict"):  # DataFrame or Series
        predictions = predictions.to_dict(orient="records") if hasattr(predictions, "columns") else predictions.tolist()
    elif hasattr(predictions, "tolist"):
        predictions = predictions.tolist()
    return json.dumps({"predictions": predictions}).encode()


def handler_for(predict: Callable[[Any], Any], capture: "CaptureWriter | None" = None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: HTTPStatus, body: bytes, content_type: str = JSON) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path in ("/ping", "/health"):
                self._answer(HTTPStatus.OK, b"{}")
            else:
                self._answer(HTTPStatus.NOT_FOUND, b'{"error": "not found"}')

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            if self.path not in ("/invocations", "/invocations/") or length > MAX_REQUEST_BYTES:
                # The body stays unread: the connection cannot carry another request.
                self.close_connection = True
            if self.path not in ("/invocations", "/invocations/"):
                self._answer(HTTPStatus.NOT_FOUND, b'{"error": "not found"}')
                return
            if length > MAX_REQUEST_BYTES:
                self._answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, json.dumps({"error": f"at most {MAX_REQUEST_BYTES} bytes"}).encode())
                return
            try:
                body, content_type = self.rfile.read(length), self.headers.get("Content-Type", JSON)
                answer = predictions_json(predict(read_frame(body, content_type)))
                self._answer(HTTPStatus.OK, answer)
                if capture is not None:
                    try:
                        capture.record(body, content_type, answer, JSON)
                    except OSError as error:  # a full capture buffer never fails a prediction
                        self.log_error("capture not written: %s", error)
            except ModelError as error:
                self._answer(HTTPStatus.BAD_REQUEST, json.dumps({"error": str(error)}).encode())
            except Exception as error:  # the model's own failure: the caller gets a 500, the log the detail
                self.log_error("prediction failed: %s: %s", type(error).__name__, error)
                self._answer(HTTPStatus.INTERNAL_SERVER_ERROR, json.dumps({"error": "prediction failed"}).encode())

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            sys.stderr.write("%s %s\n" % (self.address_string(), format % args))

    return Handler


def score_batch(s3: Any, predict: Callable[[Any], Any], input_uri: str, output_uri: str) -> int:
    """Score every CSV/Parquet object under input_uri; returns how many objects were scored."""
    import pandas as pd

    in_bucket, in_prefix = split_s3_uri(input_uri)
    out_bucket, out_prefix = split_s3_uri(output_uri)
    scored = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=in_bucket, Prefix=in_prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            body = s3.get_object(Bucket=in_bucket, Key=key)["Body"].read()
            if key.endswith(".parquet"):
                frame = pd.read_parquet(io.BytesIO(body))
            elif key.endswith(".csv"):
                frame = pd.read_csv(io.BytesIO(body))
            else:
                continue
            predictions = predict(frame)
            result = predictions if hasattr(predictions, "columns") else pd.DataFrame({"prediction": list(predictions)})
            buffer = io.BytesIO()
            result.to_parquet(buffer, index=False)
            name = key[len(in_prefix):].lstrip("/").rsplit(".", 1)[0].replace("/", "_")
            s3.put_object(Bucket=out_bucket, Key=f"{out_prefix.rstrip('/')}/{name}.parquet", Body=buffer.getvalue())
            scored += 1
    if not scored:
        raise ValueError(f"no .csv or .parquet objects under {input_uri}")
    return scored


def load_predict(model_dir: Path) -> Callable[[Any], Any]:
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(str(model_dir)).predict


def main(argv: list[str], environ: dict[str, str]) -> int:
    import boto3

    try:
        if argv[:1] == ["serve"]:
            model_dir, port = SAGEMAKER_MODEL_DIR, SAGEMAKER_PORT
        else:
            s3 = boto3.client("s3", region_name=environ.get("AWS_REGION"))
            model_dir = download_model(s3, environ["MODEL_URI"], LOCAL_MODEL_DIR)
            port = int(environ.get("PORT", SAGEMAKER_PORT))
            if environ.get("INPUT_URI") and environ.get("OUTPUT_URI"):
                count = score_batch(s3, load_predict(model_dir), environ["INPUT_URI"], environ["OUTPUT_URI"])
                print(f"scored {count} objects into {environ['OUTPUT_URI']}", file=sys.stderr)
                return 0
        predict = load_predict(model_dir)
        capture = CaptureWriter.from_environment(environ)
    except KeyError as error:
        print(f"serve: environment variable {error.args[0]} is required", file=sys.stderr)
        return 1
    except Exception as error:
        print(f"serve: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    server = ThreadingHTTPServer(("0.0.0.0", port), handler_for(predict, capture))
    print(f"serving {model_dir} on port {port}", file=sys.stderr)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], dict(os.environ)))
