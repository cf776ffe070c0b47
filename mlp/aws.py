"""Every AWS client `mlp` uses, configured one way, and every answer it reads, checked.

- Clients (`client`) have connect and read timeouts, botocore's standard retry mode with a
  bounded number of attempts (exponential backoff with jitter, throttling included), and an
  overall deadline shared by all the calls of one command: no server can make `mlp` hang.
- Calls (`call`) and paginated calls (`pages`) turn every failure into one line naming the API:
  no credentials is bad input (exit 2, like a missing file); a refusal, a timeout, an
  unreadable answer or a page token that comes back a second time (which would loop forever)
  is a ServiceError (exit 1).
- Answers are read through `need` and `amount`: a field that is missing, of the wrong type, or
  an amount that is no finite decimal ("NaN", "", 1e400) is a ServiceError naming the API and
  the field, never a number in a report.

Only the standard library and botocore are imported, and botocore only when a client is made:
the GPU agent's image ships this module with nothing else of mlp's dependencies.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Iterator

from mlp.errors import ServiceError, UserError

MAX_AMOUNT = Decimal(10) ** 15  # dollars, counts, GPU-hours: anything larger is a broken answer


@dataclass(frozen=True)
class AwsSettings:
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_attempts: int = 4  # the first try and three retries, backing off up to ~7 s in all
    deadline_seconds: float = 180.0  # for all the calls of one command
    max_pages: int = 1000


SETTINGS = AwsSettings()


class AnswerError(ServiceError):
    """An AWS answer without a field mlp needs, or with one that makes no sense."""

    def __init__(self, api: str, field: str, message: str):
        super().__init__(f"{api}: {field}: {message}")


class _DeadlinePassed(Exception):
    pass


class Deadline:
    """One overall time limit for the AWS calls of a command, checked before every attempt."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def check(self, **_: Any) -> None:
        if time.monotonic() > self.at:
            raise _DeadlinePassed()


def client(service: str, region: str | None = None, endpoint_url: str | None = None,
           settings: AwsSettings | None = None, deadline: Deadline | None = None) -> Any:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import NoRegionError

    settings = settings or SETTINGS
    config = Config(connect_timeout=settings.connect_timeout, read_timeout=settings.read_timeout,
                    retries={"mode": "standard", "total_max_attempts": settings.max_attempts})
    try:
        made = boto3.client(service, region_name=region, endpoint_url=endpoint_url, config=config)
    except NoRegionError:
        raise UserError("AWS region", "none configured: pass --region or set AWS_REGION") from None
    made.meta.events.register("before-send", (deadline or Deadline(settings.deadline_seconds)).check)
    made._mlp_settings = settings  # for messages
    return made


def api_name(aws_client: Any, operation: str) -> str:
    """`Cost Explorer GetCostAndUsage`: the service and operation as AWS documents them."""
    meta = aws_client.meta
    return f"{meta.service_model.service_id} {meta.method_to_api_mapping.get(operation, operation)}"


def call(aws_client: Any, operation: str, **request: Any) -> dict:
    """One API call; its answer is a mapping, or the failure is one line naming the API."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
    )
    from botocore.parsers import ResponseParserError

    api = api_name(aws_client, operation)
    try:
        answer = getattr(aws_client, operation)(**request)
    except (NoCredentialsError, PartialCredentialsError):
        raise UserError("AWS credentials", "none found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") from None
    except _DeadlinePassed:
        seconds = getattr(aws_client, "_mlp_settings", SETTINGS).deadline_seconds
        raise ServiceError(f"{api}: no complete answer within the {seconds:g} s mlp allows its AWS calls") from None
    except ClientError as error:
        details = error.response.get("Error") or {}
        attempts = (error.response.get("ResponseMetadata") or {}).get("RetryAttempts")
        tried = f" (after {attempts + 1} attempts)" if attempts else ""
        raise ServiceError(f"{api}: {details.get('Code') or 'error'}: {details.get('Message') or error}{tried}") from None
    except ResponseParserError as error:
        raise ServiceError(f"{api}: an answer mlp cannot read: {str(error)[:200]}") from None
    except (AttributeError, TypeError, KeyError, IndexError, ValueError) as error:
        # botocore's parsers assume a well-formed body: `null`, `[]` or bytes that are no UTF-8
        # break them with errors of their own.
        raise ServiceError(f"{api}: an answer mlp cannot read ({type(error).__name__} in the AWS SDK's parser)") from None
    except ConnectionError as error:  # connect and read timeouts, refused connections
        raise ServiceError(f"{api}: no answer: {error}") from None
    except BotoCoreError as error:
        raise ServiceError(f"{api}: {error}") from None
    if not isinstance(answer, dict):
        raise AnswerError(api, "(answer)", f"expected an object, got {type(answer).__name__}")
    return answer


def pages(aws_client: Any, operation: str, token: str = "NextToken", answer_token: str | None = None, **request: Any) -> Iterator[dict]:
    """Every page of a paginated call. A page token seen before would start the same pages
    again (forever): that is an error, as is a page count beyond `max_pages`."""
    api = api_name(aws_client, operation)
    answer_token = answer_token or token
    seen: set[str] = set()
    limit = getattr(aws_client, "_mlp_settings", SETTINGS).max_pages
    for _ in range(limit):
        answer = call(aws_client, operation, **request)
        yield answer
        next_token = answer.get(answer_token)
        if next_token is None or next_token == "":
            return
        if not isinstance(next_token, str):
            raise AnswerError(api, answer_token, f"expected a page token, got {type(next_token).__name__}")
        if next_token in seen:
            raise AnswerError(api, answer_token, "the same page token came back twice: stopping instead of reading the same pages forever")
        seen.add(next_token)
        request[token] = next_token
    raise AnswerError(api, answer_token, f"more than {limit} pages: stopping")


_KINDS = {dict: "an object", list: "a list", str: "a string"}


def need(value: Any, key: str | int, kind: type, api: str, where: str, optional: bool = False) -> Any:
    """`value[key]`, which must be of `kind` (an empty one if optional and absent)."""
    field = f"{where}[{key}]" if isinstance(key, int) else (f"{where}.{key}" if where else key)
    found = value.get(key) if isinstance(value, dict) else None
    if found is None and optional:
        return kind()
    if not isinstance(found, kind):
        expected = _KINDS.get(kind, kind.__name__)
        raise AnswerError(api, field, f"missing (expected {expected})" if found is None else
                          f"expected {expected}, got {type(found).__name__} {str(found)[:40]!r}")
    return found


def amount(value: Any, api: str, field: str, minimum: Decimal | None = None) -> Decimal:
    """A decimal amount of an answer: a finite number of sane size (AWS sends them as strings)."""
    number = None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            number = None
    if number is None or not number.is_finite() or abs(number) > MAX_AMOUNT or (minimum is not None and number < minimum):
        bound = f" >= {minimum}" if minimum is not None else ""
        raise AnswerError(api, field, f"expected a decimal amount{bound}, got {str(value)[:40]!r}")
    return number
