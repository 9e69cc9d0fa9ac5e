"""Past S3 AccessDenied records, from CloudTrail files or from CloudTrail `LookupEvents`.

Files may be CloudTrail log files (`{"Records": [...]}`, gzipped as S3 delivers them, or not),
one EventBridge envelope or bare record, a JSON array of either, or JSON lines. A directory is
read recursively. `LookupEvents` only returns management events (90 days): object calls such as
GetObject appear only in a trail with data events, so point `--events` at its log files.

A trail bucket also holds files that are not events: CloudTrail-Digest files (`.../CloudTrail-
Digest/...json.gz`, objects with `digestStartTime`/`digestS3Object`), and whatever else a sync
brings along. Given a `FileStats`, `read_files` skips and counts them instead of failing: a digest
file wherever it is, any other file that holds no CloudTrail record when it was found in a
directory (a file named on its own that is not events stays an error: the user meant it).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..lean_dataclass import dataclass
from ..model import InputError, Json
from ..publish.timestamps import parse_utc
from .options import file_text
from .spool import Spool

if TYPE_CHECKING:
    from mypy_boto3_cloudtrail import CloudTrailClient

DENIED_CODES = frozenset({"AccessDenied"})
S3_SOURCE = "s3.amazonaws.com"
DIGEST_DIRECTORY = "CloudTrail-Digest"
DIGEST_KEYS = frozenset({"digestStartTime", "digestEndTime", "digestS3Object", "digestS3Bucket"})

# Kinds of skipped files (`FileStats.skipped_files`).
SKIP_DIGEST = "digest"
SKIP_NOT_EVENTS = "not-events"
SKIP_UNREADABLE = "unreadable"


@dataclass(slots=True)
class FileStats:
    """What `read_files` left out: files that hold no events (by kind), records before `since`."""

    skipped_files: Counter[str] = field(default_factory=Counter)
    skipped_paths: list[str] = field(default_factory=list)
    before_since: int = 0

    def skip(self, kind: str, path: Path) -> None:
        self.skipped_files[kind] += 1
        self.skipped_paths.append(str(path))


@dataclass(frozen=True, slots=True, kw_only=True)
class TrailRecord:
    """One denied call: the bare CloudTrail record, and where it was read."""

    record: Json
    origin: str  # file path (with the record's position) or "LookupEvents"

    @property
    def event_id(self) -> str:
        return str(self.record.get("eventID") or "")


class TrailSpool:
    """Trail records kept for the run that follows their reading, in the order added, in a
    bounded memory (a `Spool` of compact JSON texts): a replay of millions of denials holds one
    parsed record at a time, not millions (some 3.5 KB each as Python objects, about 0.7 KB as
    text). Its records are JSON values (they were read as JSON), so a record read back equals
    the one added. Iterate it once at a time."""

    def __init__(self) -> None:
        self._texts = Spool()

    def add(self, item: TrailRecord) -> None:
        """Keep `item`; `SpoolError` when the temporary file cannot take it."""
        self._texts.add(self.text(item))

    def add_text(self, text: str) -> None:
        """Keep the item of `text` (`TrailSpool.text`, made in another process)."""
        self._texts.add(text)

    @staticmethod
    def text(item: TrailRecord) -> str:
        """`item` as the spool keeps it."""
        return _COMPACT.encode([item.origin, item.record])

    def __len__(self) -> int:
        return len(self._texts)

    def __iter__(self) -> Iterator[TrailRecord]:
        for text in self._texts:
            origin, record = json.loads(text)
            yield TrailRecord(record=record, origin=origin)

    def close(self) -> None:
        self._texts.close()

    def __enter__(self) -> TrailSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_COMPACT = json.JSONEncoder(separators=(",", ":"), check_circular=False)


def read_files(
    paths: Iterable[Path],
    *,
    since: datetime | None = None,
    denied_only: bool = True,
    stats: FileStats | None = None,
) -> Iterator[TrailRecord]:
    """Every S3 AccessDenied record in `paths`, oldest file first, at or after `since`.

    `denied_only=False` yields every record of the period (replay counts the others, skipped).
    With `stats`, digest files and (inside a directory) files that hold no events are skipped
    and counted there, as are the records before `since`.

    Raises `InputError` naming `--events` for a file that cannot be read or parsed.
    """
    for path, in_tree in expand(paths):
        read = read_file(
            path, in_tree=in_tree, since=since, denied_only=denied_only, skips=stats is not None
        )
        if stats is not None:
            read.count(stats, path)
        yield from read.items(path)


@dataclass(slots=True)
class FileRead:
    """What `read_files` takes of one file: its records of the period, how many came before
    `since`, or the kind of file it skipped (`SKIP_DIGEST`...)."""

    records: list[tuple[int, Json]] = field(default_factory=list)  # (position in the file, record)
    before_since: int = 0
    skipped_as: str | None = None

    def items(self, path: Path) -> Iterator[TrailRecord]:
        """The records, each with where it was read (`path`, and its position there)."""
        for position, record in self.records:
            yield located(record, path, position)

    def count(self, stats: FileStats, path: Path) -> None:
        """Count in `stats` what the file left out."""
        if self.skipped_as is not None:
            stats.skip(self.skipped_as, path)
        stats.before_since += self.before_since


def located(record: Json, path: Path, position: int) -> TrailRecord:
    """`record`, read at `position` in the file `path`."""
    return TrailRecord(record=record, origin=f"{path}#{position}")


def read_file(
    path: Path, *, in_tree: bool, since: datetime | None, denied_only: bool, skips: bool
) -> FileRead:
    """One file of `read_files` (`in_tree`: found in a directory; `skips`: files that hold no
    events are skipped, not errors). Raises `InputError` as `read_files` does."""
    if skips and DIGEST_DIRECTORY in path.parts:
        return FileRead(skipped_as=SKIP_DIGEST)
    try:
        document = _load(path)
        if skips and _is_digest(document):
            return FileRead(skipped_as=SKIP_DIGEST)
        records = list(_records(document, path))
    except InputError as error:
        if not skips or not in_tree:
            raise
        return FileRead(
            skipped_as=SKIP_UNREADABLE if "cannot read" in str(error) else SKIP_NOT_EVENTS
        )
    read = FileRead()
    for position, record in enumerate(records):
        if denied_only and not _wanted(record, None):
            continue
        if since is not None and not _wanted(record, since, denied_only=False):
            read.before_since += 1
            continue
        read.records.append((position, record))
    return read


def _is_digest(document: Any) -> bool:
    return isinstance(document, dict) and bool(DIGEST_KEYS & document.keys())


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


def expand(paths: Iterable[Path]) -> list[tuple[Path, bool]]:
    """The files to read, each with whether it was found in a directory (True) or named."""
    found: list[tuple[Path, bool]] = []
    for path in paths:
        if path.is_dir():
            found += [(p, True) for p in sorted(path.rglob("*")) if p.is_file()]
        elif path.is_file():
            found.append((path, False))
        else:
            raise InputError("--events", f"{path}: no such file or directory")
    return found


def _load(path: Path) -> Any:
    try:
        text = file_text(path)
    except (OSError, EOFError, UnicodeDecodeError) as error:
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
            if type(item) is dict and _bare(item):
                yield item  # a log file's record: as the branch below, without its frame
            else:
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


def _bare(item: dict[str, Any]) -> bool:
    """Whether `_records` takes `item` as a bare record (not a log file, envelope or Lambda
    on-failure record)."""
    return (
        ("eventName" in item or "eventSource" in item)
        and not isinstance(item.get("Records"), list)
        and not isinstance(item.get("detail"), dict)
        and not isinstance(item.get("requestPayload"), dict)
    )


def _wanted(record: Json, since: datetime | None, *, denied_only: bool = True) -> bool:
    if denied_only and not (
        record.get("eventSource") == S3_SOURCE and record.get("errorCode") in DENIED_CODES
    ):
        return False
    if since is None:
        return True
    when = parse_utc(record.get("eventTime"))
    return when is None or when >= since
