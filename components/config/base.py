"""The ground every config model stands on: the frozen `Section` base and the value types
several capabilities share (CIDRs, tag keys and values, durations, images, S3 URIs, cron).

Models are pydantic dataclasses, so they stay ordinary frozen dataclasses for the code that
reads them (`dataclasses.replace` builds a what-if copy in tests) while pydantic validates
stack documents. A value type declares its JSON Schema beside its check, so the generated
schema and the validation cannot drift apart; `x-expected` carries the human wording of a
pattern into the generated reference (see generate.py).
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Literal, Optional, TypeVar

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    PlainValidator,
    Strict,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic.dataclasses import dataclass as pydantic_dataclass
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import ArgsKwargs

from components.config.errors import ConfigError, Invalid, describe

K = TypeVar("K")
T = TypeVar("T")
V = TypeVar("V")


def camel_case(name: str) -> str:
    """`max_5xx_errors` -> `max5xxErrors`: stack files spell keys in camelCase."""
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


# Unknown keys are errors, so a typo never passes silently; numbers must be finite.
SECTION_CONFIG = ConfigDict(extra="forbid", alias_generator=camel_case, populate_by_name=True, allow_inf_nan=False)


def section(cls: Optional[type] = None, *, config: ConfigDict = SECTION_CONFIG) -> Any:
    """Declare a config model: a frozen, keyword-only pydantic dataclass."""

    def build(target: type) -> type:
        return pydantic_dataclass(frozen=True, kw_only=True, config=config)(target)

    return build(cls) if cls is not None else build


# A field that is worked out from other sections rather than written in the stack file.
DERIVED = SkipJsonSchema()


@section
class Section:
    """A mapping of the stack file. An empty value (`key:` with nothing after it) means the
    same as leaving the key out, as Pulumi itself treats it."""

    @model_validator(mode="before")
    @classmethod
    def _read_mapping(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, (ArgsKwargs, cls)):
            return data  # built in Python, not read from a stack file
        if not isinstance(data, dict):
            raise Invalid(f"expected a mapping, got {describe(data)}")
        cls._check_keys(data)
        return cls._prepare({key: value for key, value in data.items() if value is not None}, info)

    @classmethod
    def fields_by_key(cls) -> dict[str, tuple[str, Any]]:
        """Stack-file key -> (attribute name, pydantic FieldInfo)."""
        # Older pydantic releases leave generated aliases off FieldInfo: apply the generator here.
        generate = cls.__pydantic_config__.get("alias_generator") or (lambda name: name)  # type: ignore[attr-defined]
        return {field.alias or generate(name): (name, field) for name, field in cls.__pydantic_fields__.items()}  # type: ignore[attr-defined]

    @classmethod
    def document_keys(cls) -> tuple[str, ...]:
        return tuple(
            key for key, (_, field) in cls.fields_by_key().items() if not any(isinstance(meta, SkipJsonSchema) for meta in field.metadata)
        )

    @classmethod
    def _check_keys(cls, data: dict) -> None:
        check_known_keys(cls, data)

    @classmethod
    def _prepare(cls, data: dict, info: ValidationInfo) -> dict:
        """Defaults that depend on other keys of the same mapping, filled in before validation."""
        return data

    def _require(self, *keys: str, why: str = "") -> None:
        """Keys optional in general but needed here; one still at its default was not given."""
        fields = self.fields_by_key()
        for key in keys:
            name, field = fields[key]
            if getattr(self, name) == field.default:
                raise Invalid(f"is required{why}", key)


def check_known_keys(model: Any, data: dict) -> None:
    known = model.document_keys()
    unknown = sorted(str(key) for key in data if key not in known)
    if unknown:
        raise Invalid(f"unknown key (known keys here: {', '.join(sorted(known))})", unknown[0])


def check_order(low_name: str, low: float, high_name: str, high: float) -> None:
    if low > high:
        raise Invalid(f"must be >= {low_name} ({low}), got {high}", high_name)


def no_duplicates(what: str, names: list, *where: str) -> None:
    """Names of the items of a list (at `where`) must differ."""
    for i, name in enumerate(names):
        if name in names[:i]:
            raise Invalid(f"duplicate {what} {name!r}", *where, i, "name")


# --- numbers and switches --------------------------------------------------------------------


# No count, size or period of a stack file comes near these; a value beyond them is a typo, and
# beyond them floats stop counting in whole units (2^53) and AWS's and Kubernetes' int32 fields
# overflow.
MAX_WHOLE_NUMBER = 2**31 - 1
MAX_NUMBER = 1e15


def _whole_number(value: Any) -> int:
    # YAML gives ints; JSON-encoded config may give 30.0. Booleans are ints in Python: refuse.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid(f"expected a whole number, got {describe(value)}")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise Invalid(f"expected a whole number, got {describe(value)}")
    if abs(value) > MAX_WHOLE_NUMBER:
        raise Invalid(f"expected a whole number of at most {MAX_WHOLE_NUMBER}, got {describe(value)}")
    return int(value)


def _finite_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid(f"expected a number, got {describe(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise Invalid(f"expected a finite number, got {describe(value)}")
    if abs(number) > MAX_NUMBER:
        raise Invalid(f"expected a number of at most {MAX_NUMBER:.0e}, got {describe(value)}")
    return number


Int = Annotated[int, BeforeValidator(_whole_number)]
Number = Annotated[float, BeforeValidator(_finite_number)]
Bool = Annotated[bool, Strict()]


def one_of(*choices: Any) -> Any:
    """A value from a fixed list; the message lists them all."""

    def check(value: Any) -> Any:
        if not isinstance(value, bool) and isinstance(value, (str, int, float)) and value in choices:
            return choices[choices.index(value)]
        raise Invalid(f"expected one of {', '.join(map(str, choices))}, got {describe(value)}")

    return Annotated[Literal[choices], BeforeValidator(check)]


# --- strings ---------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"expected a non-empty string, got {describe(value)}")
    return value


Text = Annotated[str, PlainValidator(_text), WithJsonSchema({"type": "string", "pattern": r"\S"})]


def string_schema(regex: str, expected: str) -> dict:
    # JSON Schema patterns are searched, not matched, and know no named groups.
    plain = re.sub(r"\(\?P<\w+>", "(?:", regex)
    return {"type": "string", "pattern": f"^(?:{plain})$", "x-expected": expected}


def matching(regex: str, expected: str, also: Optional[Callable[[str], None]] = None) -> Any:
    """A string matching `regex` in full; `expected` says in words what that is."""
    compiled = re.compile(regex)

    def check(value: Any) -> str:
        if not isinstance(value, str) or not compiled.fullmatch(value):
            raise Invalid(f"expected {expected}, got {describe(value)}")
        if also is not None:
            also(value)
        return value

    return Annotated[str, PlainValidator(check), WithJsonSchema(string_schema(regex, expected))]


def one_line(max_length: int, what: str) -> Any:
    return matching(rf"[^\x00-\x1f]{{1,{max_length}}}", f"a one-line {what} of at most {max_length} characters")


# RFC 1123 label short enough to sit inside IAM role, namespace and bucket names.
DnsLabel = matching(r"[a-z]([-a-z0-9]{0,30}[a-z0-9])?", "a lowercase DNS label (a-z, 0-9, '-', at most 32 characters)")
ChartVersion = matching(r"\d+\.\d+\.\d+", "an exact chart version like 4.2.0 (no ranges)")
# Go durations as Karpenter reads them (`30s`, `10m`, `1h30m`).
Duration = matching(r"(\d+(h|m|s))+", "a duration like 30s, 10m or 720h")
DurationOrNever = matching(r"(\d+(h|m|s))+|Never", "a duration like 720h, or Never")


def _not_reserved(what: str) -> Callable[[str], None]:
    def check(value: str) -> None:
        if value.lower().startswith("aws:"):
            raise Invalid(f"{what} may not start with the reserved prefix 'aws:'")

    return check


# AWS tag rules: letters, digits, spaces and _.:/=+-@; keys <= 128, values <= 256; no aws: prefix.
_TAG_CHARACTERS = r"[\w .:/=+\-@]"
TagValue = matching(
    _TAG_CHARACTERS + "{1,256}",
    "an AWS tag value: 1-256 characters of letters, digits, spaces and _ . : / = + - @",
    also=_not_reserved("tag values"),
)
TagKey = matching(
    _TAG_CHARACTERS + "{1,128}",
    "an AWS tag key: 1-128 characters of letters, digits, spaces and _ . : / = + - @",
    also=_not_reserved("tag keys"),
)


# --- collections -----------------------------------------------------------------------------


def _no_duplicate_items(items: tuple) -> tuple:
    for i, item in enumerate(items):
        if item in items[:i]:
            raise Invalid(f"duplicate value {describe(item)}", i)
    return items


class _UniqueItemsSchema:
    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict:
        schema = handler(core_schema)
        schema["uniqueItems"] = True
        return schema


# A list in the stack file, a tuple in Python; repeating a value is a mistake, not a no-op.
Unique = Annotated[tuple[T, ...], AfterValidator(_no_duplicate_items), _UniqueItemsSchema()]


def _pairs_from_python(value: Any) -> Any:
    return dict(value) if isinstance(value, tuple) else value


def _sorted_pairs(value: Any) -> tuple:
    # Some pydantic releases apply a generic alias's validators twice: leave pairs as they are.
    return value if isinstance(value, tuple) else tuple(sorted(value.items()))


# A mapping in the stack file; sorted (key, value) pairs in Python, hashable and in a stable order.
Pairs = Annotated[dict[K, V], BeforeValidator(_pairs_from_python), AfterValidator(_sorted_pairs)]


# --- network ---------------------------------------------------------------------------------

_CIDR_EXPECTED = "an IPv4 CIDR block like 10.0.0.0/16"
_CIDR_SCHEMA = string_schema(r"\d{1,3}(\.\d{1,3}){3}/\d{1,2}", _CIDR_EXPECTED)


def _network(value: Any) -> ipaddress.IPv4Network:
    if isinstance(value, ipaddress.IPv4Network):
        return value
    try:
        if not isinstance(value, str) or "/" not in value:
            raise ValueError
        return ipaddress.IPv4Network(value, strict=True)
    except ValueError:
        raise Invalid(f"expected {_CIDR_EXPECTED}, got {describe(value)}") from None


Cidr = Annotated[ipaddress.IPv4Network, PlainValidator(_network), WithJsonSchema(_CIDR_SCHEMA)]
# The same, kept as its normalised text where it is only ever handed on to AWS.
CidrText = Annotated[str, PlainValidator(lambda value: str(_network(value))), WithJsonSchema(_CIDR_SCHEMA)]

# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)


def _log_retention(value: Any) -> int:
    days = _whole_number(value)
    if days not in LOG_RETENTION_DAYS:
        raise Invalid(f"expected a CloudWatch Logs retention period ({', '.join(map(str, LOG_RETENTION_DAYS))}), got {days}")
    return days


LogRetention = Annotated[int, PlainValidator(_log_retention), WithJsonSchema({"type": "integer", "enum": list(LOG_RETENTION_DAYS)})]


# --- images, S3 locations, schedules ---------------------------------------------------------


@dataclass(frozen=True)
class ImageRef:
    """A container image: a platform ECR repository plus tag or digest, or a full image URI."""

    repository: Optional[str]  # platform repository name (config.registries), None for a full URI
    uri: Optional[str]  # full URI when not a platform repository
    tag: Optional[str]
    digest: Optional[str]

    @property
    def reference(self) -> str:
        """`:tag` or `@sha256:...`, appended to the repository URL."""
        return f"@{self.digest}" if self.digest else f":{self.tag}"

    @property
    def ecr_repository_arn_parts(self) -> Optional[tuple[str, str, str]]:
        """(region, account, repository) of a full private-ECR URI, else None."""
        if self.uri is None:
            return None
        match = _ECR_URI.fullmatch(self.uri)
        return (match["region"], match["account"], match["repository"]) if match else None


_ECR_URI = re.compile(r"(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repository>[a-z0-9][a-z0-9._/-]*)")
_IMAGE_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_IMAGE_REF = (
    r"(?:(?P<host>[a-zA-Z0-9.-]+(:\d+)?)/)?(?P<name>[a-z0-9][a-z0-9._/-]*)"
    rf"(?::(?P<tag>{_IMAGE_TAG}))?(?:@(?P<digest>sha256:[a-f0-9]{{64}}))?"
)
_IMAGE_EXPECTED = "an image like serving:1.4.2, serving@sha256:<digest> or a full image URI"


def parse_image(value: Any) -> ImageRef:
    if isinstance(value, ImageRef):
        return value
    match = re.fullmatch(_IMAGE_REF, value) if isinstance(value, str) else None
    if not match:
        raise Invalid(f"expected {_IMAGE_EXPECTED}, got {describe(value)}")
    if not match["tag"] and not match["digest"]:
        raise Invalid(f"the image must be pinned by a tag or digest, got {describe(value)}")
    if match["tag"] == "latest" and not match["digest"]:
        raise Invalid("the tag 'latest' moves; pin the image by a version tag or a digest")
    host = match["host"]
    if host and ("." in host or ":" in host or host == "localhost"):
        return ImageRef(repository=None, uri=f"{host}/{match['name']}", tag=match["tag"], digest=match["digest"])
    name = f"{host}/{match['name']}" if host else match["name"]
    return ImageRef(repository=name, uri=None, tag=match["tag"], digest=match["digest"])


def image_ref(value: Any, key: str) -> ImageRef:
    """Parse an image reference outside a model, reporting a bad one at `key`."""
    try:
        return parse_image(value)
    except Invalid as error:
        raise ConfigError(key, error.message) from None


Image = Annotated[ImageRef, PlainValidator(parse_image), WithJsonSchema(string_schema(_IMAGE_REF, _IMAGE_EXPECTED))]
ImageTag = matching(_IMAGE_TAG, "an image tag (letters, digits, '_', '.', '-')")


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str  # object key, or a prefix ending in '/'

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def is_prefix(self) -> bool:
        return self.key.endswith("/")


S3_URI_PATTERN = r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(\S+)"
_S3_EXPECTED = "an S3 URI like s3://bucket/path/model.tar.gz"


def parse_s3_uri(value: Any) -> S3Location:
    if isinstance(value, S3Location):
        return value
    match = re.fullmatch(S3_URI_PATTERN, value) if isinstance(value, str) else None
    if not match:
        raise Invalid(f"expected {_S3_EXPECTED}, got {describe(value)}")
    return S3Location(bucket=match[1], key=match[2])


S3Uri = Annotated[S3Location, PlainValidator(parse_s3_uri), WithJsonSchema(string_schema(S3_URI_PATTERN, _S3_EXPECTED))]

_CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_CRON_EXPECTED = f"a cron schedule of five fields (like '0 3 * * *') or one of {', '.join(_CRON_MACROS)}"


def _cron(value: Any) -> str:
    """A schedule Kubernetes CronJobs accept: five cron fields or a macro like @daily."""
    from croniter import croniter

    if isinstance(value, str) and (value in _CRON_MACROS or (len(value.split()) == 5 and croniter.is_valid(value))):
        return value
    raise Invalid(f"expected {_CRON_EXPECTED}, got {describe(value)}")


Cron = Annotated[
    str,
    PlainValidator(_cron),
    WithJsonSchema(string_schema(r"@\w+|(\S+\s+){4}\S+", _CRON_EXPECTED)),
]
