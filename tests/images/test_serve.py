"""The serving image's entry point (images/serving/serve.py): models come from the lake as a
model.tar.gz or a prefix, never written outside their folder; the HTTP server answers SageMaker's
container contract (/ping, /invocations) and refuses what it cannot score with a 4xx."""

from __future__ import annotations

import importlib.util
import io
import os
import json
import tarfile
import threading
from http.client import HTTPConnection
from http.server import ThreadingHTTPServer

import boto3
import pytest

from mlp import PROJECT_ROOT

_spec = importlib.util.spec_from_file_location("serve", PROJECT_ROOT / "images" / "serving" / "serve.py")
serve = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(serve)


@pytest.fixture
def s3(moto_endpoint, aws_test_credentials):
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="models")
    return client


def _tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def test_uris_must_be_s3():
    assert serve.split_s3_uri("s3://models/registry/x/v1/") == ("models", "registry/x/v1/")
    with pytest.raises(ValueError, match="s3://bucket/key"):
        serve.split_s3_uri("https://models/x")


def test_a_model_tarball_is_unpacked_into_the_model_folder(s3, tmp_path):
    s3.put_object(Bucket="models", Key="registry/demand/v3/model.tar.gz", Body=_tarball({"MLmodel": b"flavors: {}", "model.pkl": b"x"}))
    target = serve.download_model(s3, "s3://models/registry/demand/v3/model.tar.gz", tmp_path / "model")
    assert sorted(p.name for p in target.iterdir()) == ["MLmodel", "model.pkl"]


def test_a_tarball_reaching_outside_the_model_folder_is_refused(s3, tmp_path):
    s3.put_object(Bucket="models", Key="evil.tar.gz", Body=_tarball({"../escaped": b"x"}))
    with pytest.raises(tarfile.TarError):
        serve.download_model(s3, "s3://models/evil.tar.gz", tmp_path / "model")
    assert not (tmp_path / "escaped").exists()


def test_a_model_prefix_is_copied_with_its_folders(s3, tmp_path):
    for key in ("registry/defect/v7/MLmodel", "registry/defect/v7/data/weights.bin"):
        s3.put_object(Bucket="models", Key=key, Body=b"x")
    target = serve.download_model(s3, "s3://models/registry/defect/v7/", tmp_path / "model")
    assert (target / "MLmodel").exists() and (target / "data" / "weights.bin").exists()
    with pytest.raises(ValueError, match="no model files"):
        serve.download_model(s3, "s3://models/registry/none/", tmp_path / "other")


@pytest.fixture
def server():
    calls = []

    def predict(frame):
        calls.append(frame)
        return [0.5]

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), serve.handler_for(predict))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], calls
    httpd.shutdown()
    httpd.server_close()


def _request(port: int, method: str, path: str, body: bytes = b"", content_type: str = "application/json", length: int | None = None):
    connection = HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": content_type, "Content-Length": str(len(body) if length is None else length)}
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    return response.status, json.loads(response.read() or b"{}")


def test_ping_answers_and_unknown_paths_are_404(server):
    port, _ = server
    assert _request(port, "GET", "/ping")[0] == 200
    assert _request(port, "GET", "/metrics")[0] == 404
    assert _request(port, "POST", "/predict", b"{}")[0] == 404


def test_what_cannot_be_scored_is_a_4xx_without_calling_the_model(server):
    port, calls = server
    status, body = _request(port, "POST", "/invocations", b"<xml/>", content_type="application/xml")
    assert status == 400 and "unsupported content type 'application/xml'" in body["error"]
    status, body = _request(port, "POST", "/invocations", b"", length=serve.MAX_REQUEST_BYTES + 1)
    assert status == 413
    assert calls == []


def test_predictions_are_returned_as_json():
    assert json.loads(serve.predictions_json([1, 2])) == {"predictions": [1, 2]}


# --- request capture on the cluster (docs/monitoring.md) ------------------------------------------

def test_sampled_requests_are_written_as_capture_records_the_drift_job_reads(tmp_path):
    from mlp.drift.capture import CaptureRows, read_capture_lines

    draws = iter([0.05, 0.5, 0.1])  # at 20%: the first and third requests are sampled
    writer = serve.CaptureWriter(tmp_path, 20, "defect-detection", sample=lambda: next(draws), clock=lambda: 1_764_410_400.0)
    requests = [(b"brightness,contrast\n0.4,1.2\n", "text/csv"), (b'{"instances": [[9, 9]]}', "application/json"),
                (b'{"instances": [{"brightness": 0.7, "contrast": 0.9}]}', "application/json")]
    written = [writer.record(body, kind, b'{"predictions": [0.1]}', "application/json") for body, kind in requests]
    assert written == [True, False, True]
    (capture_file,) = tmp_path.glob("*.jsonl")
    assert capture_file.name == "defect-detection-2025112910.jsonl"  # one file per UTC hour
    records = [json.loads(line) for line in capture_file.read_text().splitlines()]
    assert [r["captureData"]["endpointInput"]["encoding"] for r in records] == ["CSV", "JSON"]
    assert records[0]["eventMetadata"]["inferenceTime"] == "2025-11-29T10:00:00Z" and records[0]["eventVersion"] == "0"
    rows = CaptureRows(("brightness", "contrast"))
    read_capture_lines(capture_file.read_text().splitlines(), rows)
    assert rows.records == 2 and rows.values == {"brightness": [0.4, 0.7], "contrast": [1.2, 0.9]}


def test_other_bodies_are_base64_and_old_hours_are_deleted(tmp_path):
    old = tmp_path / "defect-detection-2025112907.jsonl"
    old.write_text("{}\n")
    os.utime(old, (1_764_396_000, 1_764_396_000))  # three hours before the clock below
    writer = serve.CaptureWriter(tmp_path, 100, "defect-detection", clock=lambda: 1_764_406_800.0)
    assert writer.record(b"\x89PNG", "image/png", b'{"predictions": [1]}', "application/json")
    (record,) = [json.loads(line) for line in (tmp_path / "defect-detection-2025112909.jsonl").read_text().splitlines()]
    assert record["captureData"]["endpointInput"] == {"observedContentType": "image/png", "mode": "INPUT", "data": "iVBORw==", "encoding": "BASE64"}
    assert not old.exists()
    with pytest.raises(ValueError, match="CAPTURE_SAMPLING_PERCENT"):
        serve.CaptureWriter(tmp_path, 120, "x")
    assert serve.CaptureWriter.from_environment({}) is None


def test_the_server_captures_what_it_answered(tmp_path, monkeypatch):
    monkeypatch.setattr(serve, "read_frame", lambda body, content_type: json.loads(body))  # pandas is the image's, not the tests'
    writer = serve.CaptureWriter(tmp_path, 100, "defect-detection")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), serve.handler_for(lambda frame: [0.5], writer))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        status, _ = _request(httpd.server_address[1], "POST", "/invocations", b'{"instances": [[1, 2]]}')
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert status == 200
    (line,) = next(tmp_path.glob("*.jsonl")).read_text().splitlines()
    assert json.loads(json.loads(line)["captureData"]["endpointOutput"]["data"]) == {"predictions": [0.5]}
