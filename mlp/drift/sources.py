"""Where `mlp drift` reads and writes: S3 locations of the lake, or local paths when run by hand.

Captures are read from every `.jsonl` object under a prefix changed within the window (a capture
file is written after the requests it holds, so a file older than the window holds none of
them); records inside a file are filtered again by their inference time. The baseline is a CSV
file with a header naming the features, as it was used for training.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Optional

from mlp.aws import call, need, pages
from mlp.errors import UserError
from mlp.files import decode, read_bytes, write_atomic

S3_URI = re.compile(r"s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>.*)")
# Captures and baselines are read whole; a window's files stay far below this each.
MAX_OBJECT_BYTES = 256 * 1024 * 1024
CAPTURE_SUFFIX = ".jsonl"


@dataclass(frozen=True)
class Location:
    """An S3 URI or a local path."""

    text: str

    @property
    def s3(self) -> Optional[tuple[str, str]]:
        match = S3_URI.fullmatch(self.text)
        return (match["bucket"], match["key"]) if match else None

    def child(self, name: str) -> "Location":
        if self.s3:
            return Location(self.text.rstrip("/") + "/" + name)
        return Location(str(Path(self.text) / name))


def location(value: str) -> Location:
    if value.startswith("s3://") and not S3_URI.fullmatch(value):
        raise ValueError(f"expected an S3 URI like s3://bucket/prefix/, got {value!r}")
    return Location(value)


def _get_object(s3: Any, bucket: str, key: str) -> bytes:
    answer = call(s3, "get_object", Bucket=bucket, Key=key)
    body = answer.get("Body")
    if body is None:
        return b""
    data = body.read(MAX_OBJECT_BYTES + 1)
    if len(data) > MAX_OBJECT_BYTES:
        raise UserError(f"s3://{bucket}/{key}", f"larger than the {MAX_OBJECT_BYTES // 2**20} MiB mlp drift reads per file")
    return data


def read(where: Location, s3: Any) -> bytes:
    if where.s3:
        return _get_object(s3, *where.s3)
    return read_bytes(where.text, where.text, limit=MAX_OBJECT_BYTES)


def capture_files(prefix: Location, since: Optional[datetime], s3: Any) -> Iterator[tuple[str, str]]:
    """(name, text) of every capture file under `prefix` changed at or after `since`."""
    if prefix.s3:
        bucket, key = prefix.s3
        api = "S3 ListObjectsV2"
        for page in pages(s3, "list_objects_v2", token="ContinuationToken", answer_token="NextContinuationToken", Bucket=bucket, Prefix=key):
            for item in need(page, "Contents", list, api, "", optional=True):
                name = need(item, "Key", str, api, "Contents[]")
                changed = item.get("LastModified")
                if not name.endswith(CAPTURE_SUFFIX) or (since is not None and isinstance(changed, datetime) and changed < since):
                    continue
                uri = f"s3://{bucket}/{name}"
                yield uri, decode(_get_object(s3, bucket, name), uri)
        return
    root = Path(prefix.text)
    if not root.is_dir():
        raise UserError(prefix.text, "no such directory of capture files")
    for path in sorted(root.rglob(f"*{CAPTURE_SUFFIX}")):
        if since is not None and datetime.fromtimestamp(path.stat().st_mtime, tz=since.tzinfo) < since:
            continue
        yield str(path), decode(read_bytes(path, str(path), limit=MAX_OBJECT_BYTES), str(path))


def read_baseline(where: Location, features: tuple[str, ...], s3: Any) -> dict[str, list[float]]:
    """The baseline's values of each feature; a missing column or a non-number is bad input."""
    text = decode(read(where, s3), where.text)
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [name for name in features if name not in header]
    if missing:
        raise UserError(where.text, f"the baseline has no column {missing[0]!r} (its header: {', '.join(header) or 'none'})")
    values: dict[str, list[float]] = {name: [] for name in features}
    for line, row in enumerate(reader, start=2):
        for name in features:
            try:
                values[name].append(float(row[name]))
            except (TypeError, ValueError):
                raise UserError(where.text, f"line {line}: expected a number, got {row[name]!r}", key=name) from None
    if not any(values.values()):
        raise UserError(where.text, "the baseline has no rows")
    return values


def write(where: Location, text: str, s3: Any, content_type: str = "application/json") -> None:
    """Write a small object; on S3 the bucket's default encryption (the lake key) applies."""
    if where.s3:
        bucket, key = where.s3
        call(s3, "put_object", Bucket=bucket, Key=key, Body=text.encode("utf-8"), ContentType=content_type)
        return
    Path(where.text).parent.mkdir(parents=True, exist_ok=True)
    write_atomic(where.text, text)
