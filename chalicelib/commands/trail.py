"""Past S3 AccessDenied records, from CloudTrail files or from CloudTrail `LookupEvents`.

Files may be CloudTrail log files (`{"Records": [...]}`, gzipped as S3 delivers them, or not),
one EventBridge envelope or bare record, a JSON array of either, or JSON lines. A directory is
read recursively. `LookupEvents` only returns management events (90 days): object calls such as
GetObject appear only in a trail with data events, so point `--events` at its log files.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.model import InputError, Json
from chalicelib.publish.timestamps import parse_utc

if TYPE_CHECKING:
    from mypy_boto3_cloudtrail import CloudTrailClient

DENIED_CODES = frozenset({"AccessDenied"})
S3_SOURCE = "s3.amazonaws.com"


@dataclass(frozen=True, slots=True, kw_only=True)
class TrailRecord:
    """One denied call: the bare CloudTrail record, and where it was read."""

    record: Json
    origin: str  # file path (with the record's position) or "LookupEvents"

    @property
    def event_id(self) -> str:
        return str(self.record.get("eventID") or "")


def read_files(
    paths: Iterable[Path], *, since: datetime | None = None, denied_only: bool = True
) -> Iterator[TrailRecord]:
    """Every S3 AccessDenied record in `paths`, oldest file first, at or after `since`.

    `denied_only=False` yields every record of the period (replay counts the others, skipped).

    Raises `InputError` naming `--events` for a file that cannot be read or parsed.
    """
    for path in _expand(paths):
        for position, record in enumerate(_records(_load(path), path)):
            if _wanted(record, since, denied_only=denied_only):
                yield TrailRecord(record=record, origin=f"{path}#{position}")


def lookup_events(client: CloudTrailClient, *, since: datetime) -> Iterator[TrailRecord]:
    """S3 AccessDenied records from `LookupEvents` (management events only), since `since`."""
    paginator = client.get_paginator("lookup_events")
    pages = paginator.paginate(
        LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": S3_SOURCE}],
        StartTime=since,
    )
    for page in pages:
        for event in page.get("Events", []):
            try:
                record = json.loads(event.get("CloudTrailEvent") or "")
            except ValueError:
                continue
            if isinstance(record, dict) and _wanted(record, since):
                yield TrailRecord(record=record, origin="LookupEvents")


def _expand(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            raise InputError("--events", f"{path}: no such file or directory")
    return found


def _load(path: Path) -> Any:
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8")
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError) as error:
        raise InputError("--events", f"{path}: cannot read: {error}") from None
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:  # JSON lines
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError as error:
        raise InputError(
            "--events", f"{path}: not JSON, JSON lines or a log file: {error}"
        ) from None


def _records(document: Any, path: Path) -> Iterator[Json]:
    """Bare CloudTrail records from a log file, an envelope, a record, or a list of them."""
    if isinstance(document, list):
        for item in document:
            yield from _records(item, path)
    elif isinstance(document, dict):
        if isinstance(document.get("Records"), list):
            yield from _records(document["Records"], path)
        elif isinstance(document.get("detail"), dict):
            yield document["detail"]
        elif isinstance(document.get("requestPayload"), dict):  # a Lambda on-failure record
            yield from _records(document["requestPayload"], path)
        elif "eventName" in document or "eventSource" in document:
            yield document
        else:
            raise InputError("--events", f"{path}: not a CloudTrail record, envelope or log file")
    else:
        raise InputError("--events", f"{path}: not a CloudTrail record, envelope or log file")


def _wanted(record: Json, since: datetime | None, *, denied_only: bool = True) -> bool:
    denied = record.get("eventSource") == S3_SOURCE and record.get("errorCode") in DENIED_CODES
    if denied_only and not denied:
        return False
    if since is None:
        return True
    when = parse_utc(record.get("eventTime"))
    return when is None or when >= since
