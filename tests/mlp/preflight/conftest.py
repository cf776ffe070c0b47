"""A local AWS for `mlp preflight`: a moto_server for every API moto implements, behind a small
router on 127.0.0.1 that answers itself what moto lacks (EKS AMI public parameters in SSM, EC2
quotas in Service Quotas, CodeStar Connections) and forwards everything else to moto."""

from __future__ import annotations

import http.client
import http.server
import json
import os
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from tests.conftest import start_moto_server

# Not a documentation account ID: preflight must see ARNs in the credentials' own account.
ACCOUNT = "246813579024"


@dataclass
class Stub:
    """What the router answers for the APIs moto lacks; tests edit it."""

    parameters: dict[str, str] = field(default_factory=dict)  # SSM name -> value
    quotas: dict[str, float] = field(default_factory=dict)  # EC2 quota code -> applied value
    default_quotas: dict[str, float] = field(default_factory=dict)  # EC2 quota code -> default value
    connections: dict[str, str] = field(default_factory=dict)  # ARN -> status
    broken: set[str] = field(default_factory=set)  # X-Amz-Target operations answered with a 500
    requests: list[str] = field(default_factory=list)

    def answer(self, target: str, request: dict) -> tuple[int, dict]:
        operation = target.rsplit(".", 1)[-1]
        self.requests.append(operation)
        if operation in self.broken:
            return 500, {"__type": "InternalFailure", "message": "stub: broken on purpose"}
        if operation == "GetParameter":
            name = request["Name"]
            if name not in self.parameters:
                return 400, {"__type": "ParameterNotFound", "message": name}
            return 200, {"Parameter": {"Name": name, "Type": "String", "Value": self.parameters[name], "Version": 1}}
        if operation in ("GetServiceQuota", "GetAWSDefaultServiceQuota"):
            table = self.quotas if operation == "GetServiceQuota" else self.default_quotas
            code = request["QuotaCode"]
            if code not in table:
                return 400, {"__type": "NoSuchResourceException", "Message": code}
            return 200, {"Quota": {"ServiceCode": "ec2", "QuotaCode": code, "QuotaName": code, "Value": table[code]}}
        if operation == "GetConnection":
            arn = request["ConnectionArn"]
            if arn not in self.connections:
                return 400, {"__type": "ResourceNotFoundException", "Message": arn}
            return 200, {"Connection": {"ConnectionArn": arn, "ConnectionName": "github", "ProviderType": "GitHub",
                                        "ConnectionStatus": self.connections[arn]}}
        return 400, {"__type": "UnknownOperationException", "message": operation}


STUBBED_PREFIXES = ("AmazonSSM.", "ServiceQuotasV20190624.", "com.amazonaws.codestar.connections.")


@pytest.fixture(scope="session")
def preflight_aws():
    """(endpoint URL, moto URL, stub): the router and the moto_server behind it."""
    server, moto_port = start_moto_server({**os.environ, "MOTO_ACCOUNT_ID": ACCOUNT})
    stub = Stub()

    class Router(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            target = self.headers.get("X-Amz-Target") or ""
            if target.startswith(STUBBED_PREFIXES):
                status, answer = stub.answer(target, json.loads(body or b"{}"))
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            upstream = http.client.HTTPConnection("127.0.0.1", moto_port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "transfer-encoding")}
            upstream.request(self.command, self.path, body=body, headers=headers)
            reply = upstream.getresponse()
            payload = reply.read()
            self.send_response(reply.status)
            for name, value in reply.getheaders():
                if name.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            upstream.close()

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        def log_message(self, *args: Any) -> None:
            pass

    router = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Router)
    thread = threading.Thread(target=router.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{router.server_address[1]}", f"http://127.0.0.1:{moto_port}", stub
    router.shutdown()
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def aws_env(preflight_aws, aws_test_credentials):
    """The endpoint and stub, with fake credentials; the stub starts empty for every test."""
    endpoint, moto_url, stub = preflight_aws
    stub.parameters.clear(), stub.quotas.clear(), stub.default_quotas.clear(), stub.connections.clear(), stub.broken.clear()
    stub.requests.clear()
    # A fresh account for every test: moto's reset API.
    reset = http.client.HTTPConnection(urllib.parse.urlsplit(moto_url).netloc, timeout=30)
    reset.request("POST", "/moto-api/reset")
    assert reset.getresponse().read() is not None
    reset.close()
    return endpoint, stub


def client(endpoint: str, service: str, region: str = "us-east-1") -> Any:
    return boto3.client(service, region_name=region, endpoint_url=endpoint)
