"""A faulty AWS on 127.0.0.1, for what moto cannot do: hang, throttle, fail with 5xx, answer with
a garbled or empty body, or send the same page token again.

`FakeAws(answer)` serves JSON-protocol APIs (Cost Explorer, Budgets, Pricing: the operation is
the `X-Amz-Target` header) and STS's query protocol. `answer(operation, request)` returns what
to send: a dict (sent as a JSON body, 200), or a `Reply` with a status, raw body or a delay. The
server counts requests and refuses more than `max_requests`, so a client that loops fails
instead of running forever; it stops when the `with` block ends.
"""

from __future__ import annotations

import http.server
import json
import threading
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable

import boto3

ACCOUNT_ID = "123456789012"
STS_IDENTITY = (f"<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult>"
                f"<Arn>arn:aws:iam::{ACCOUNT_ID}:user/test</Arn><UserId>AIDTEST</UserId><Account>{ACCOUNT_ID}</Account>"
                f"</GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>")


@dataclass
class Reply:
    status: int = 200
    body: bytes | dict | str = b""
    delay: float = 0.0  # seconds before answering (longer than the client's read timeout: a hang)
    content_type: str = "application/x-amz-json-1.1"


def throttled() -> Reply:
    return Reply(400, {"__type": "ThrottlingException", "message": "Rate exceeded"})


class FakeAws:
    def __init__(self, answer: Callable[[str, dict], Any], max_requests: int = 100):
        self.answer = answer
        self.max_requests = max_requests
        self.requests: list[tuple[str, dict]] = []
        self._stopping = threading.Event()

    def __enter__(self) -> str:
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target")
                if target:
                    operation, request = target.split(".", 1)[1], json.loads(body or b"{}")
                else:  # query protocol (STS)
                    form = dict(urllib.parse.parse_qsl(body.decode()))
                    operation, request = form.get("Action", "?"), form
                fake.requests.append((operation, request))
                if len(fake.requests) > fake.max_requests:
                    reply = Reply(500, {"__type": "InternalFailure", "message": "the fake refuses: too many requests"})
                elif operation == "GetCallerIdentity":
                    reply = Reply(200, STS_IDENTITY, content_type="text/xml")
                else:
                    reply = fake.answer(operation, request)
                    reply = reply if isinstance(reply, Reply) else Reply(200, reply)
                if reply.delay and fake._stopping.wait(reply.delay):
                    return
                payload = reply.body if isinstance(reply.body, bytes) else (
                    reply.body.encode() if isinstance(reply.body, str) else json.dumps(reply.body).encode())
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    self.send_header("x-amzn-RequestId", "fake")
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting
                    pass

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_port}"

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def count(self, operation: str) -> int:
        return sum(name == operation for name, _ in self.requests)


def without_credentials(monkeypatch) -> None:
    """No AWS credentials anywhere boto3 looks (environment, files, instance metadata)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # it caches the credentials an earlier test found
