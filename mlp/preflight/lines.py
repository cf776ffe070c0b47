"""One line per check, and the AWS clients and look-ups every check shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from mlp import aws
from mlp.errors import ServiceError

OK = "ok"
FAIL = "FAIL"


@dataclass(frozen=True)
class Line:
    status: str  # OK or FAIL
    check: str  # what kind of thing: certificate, secret, role, image, ...
    key: str  # the stack-file key that references it
    detail: str

    def render(self) -> str:
        return f"{self.status:<4}  {self.check:<18} {self.key}: {self.detail}"


def ok(check: str, key: str, detail: str) -> Line:
    return Line(OK, check, key, detail)


def fail(check: str, key: str, detail: str) -> Line:
    return Line(FAIL, check, key, detail)


@dataclass
class Clients:
    """botocore clients per service and region, sharing one deadline (mlp/aws.py)."""

    region: str
    endpoint_url: Optional[str] = None
    deadline: aws.Deadline = field(default_factory=lambda: aws.Deadline(aws.SETTINGS.deadline_seconds))
    _made: dict = field(default_factory=dict)

    def get(self, service: str, region: Optional[str] = None) -> Any:
        key = (service, region or self.region)
        if key not in self._made:
            self._made[key] = aws.client(service, key[1], self.endpoint_url, deadline=self.deadline)
        return self._made[key]


def lookup(client: Any, operation: str, missing: tuple[str, ...], **request: Any) -> Optional[dict]:
    """`aws.call`, except that an error whose code says the thing does not exist is None: a check
    that fails, not a service that failed. Every other error stays a ServiceError (exit 1)."""
    try:
        return aws.call(client, operation, **request)
    except ServiceError as error:
        cause = error.__context__  # aws.call raises `from None`: the ClientError is still the context
        response = getattr(cause, "response", None)
        if isinstance(response, dict):
            code = str((response.get("Error") or {}).get("Code") or "")
            status = str((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or "")
            if code in missing or status in missing:
                return None
        raise
