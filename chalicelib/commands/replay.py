"""`s3doctor replay`: diagnose past S3 AccessDenied events, and optionally store the findings.

    s3doctor replay [--since 24h] [--events FILE|DIR]... [--snapshot S.json] [--store]
                    [--html report.html] [--jobs N]
    s3doctor replay --from-dlq QUEUE_URL [--output text|json]

Events come from CloudTrail `LookupEvents` (management events of the last 90 days; `--since`
defaults to 24h) or, with `--events`, from CloudTrail log files / `{"Records": [...]}` /
EventBridge event files (every record, whatever its age, unless `--since` is given). In a
trail tree, CloudTrail-Digest files and other files that hold no events are skipped and counted.
Each event is diagnosed against the live account (or `--snapshot`); `--store` writes the
findings to the table named by $FINDINGS_TABLE_NAME the way the deployed handler does (repeats
aggregate, nothing is alerted).
A progress bar (rate, ETA) goes to stderr on a terminal; a summary ends the run: counts by cause
and decision, and the top findings (principal, bucket, action, cause, finding id).
An AWS failure (the table, the account) stops the run: the summary then says what was done
(with `--store`, how many findings were stored) and what failed, and the exit status is 1.
Rerunning is safe: the table recognises the events it already holds by their event ID.
`--html FILE` also writes the findings as a self-contained HTML report.
Every file is read before the run (a bad file named on the command line stops it before any
work), 8 files or more by worker processes (as many as `--jobs`, else one per CPU, at most 4:
a busy account's trail is mostly other calls, to be read and sorted out); the records to
diagnose wait as compact text, past 8 MB in a temporary file ($TMPDIR), and so do the
findings of `--output json`, written one at a time at the end; `--html`'s page holds the
newest 10,000 findings. The memory of a replay does not grow with its denials.
The events that could not be diagnosed are listed one by one up to 20; past that, the summary
lists the ten most common reasons with their counts and first events (`--output json` still
lists every one).
`--jobs N` diagnoses a replay against `--snapshot` (without `--store`) with N processes, the
same summary and findings (`--jobs 0`: one per CPU; without `--jobs`, such a replay of 500
events or more takes one per CPU, at most 4, and no more than half the available memory holds
with a copy of the snapshot loaded each); a worker that dies (killed, out of memory)
stops the run as an AWS failure does, with the summary of the events before it.

`--from-dlq` drains the stack's dead-letter queue instead: each Lambda on-failure record's event
is handled exactly as the deployed function would (stored, alerted, idempotent; the function's
environment: FINDINGS_TABLE_NAME, FINDINGS_TOPIC_ARN...), deleted once handled, and what could not
be handled is left on the queue with the reason (exit status 1).
`--events` also reads files of such on-failure records.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import sys
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from ..diagnose.untrusted import message, text
from ..events.errors import OutOfScope
from ..lean_dataclass import dataclass
from ..model import DiagnoserError, Finding, InputError, Json
from . import dlq, progress
from .batch_workers import WorkerDied, answers_in_parallel, jobs_wanted, unasked_jobs
from .options import HelpFormatter
from .spool import Spool, SpoolError
from .timespec import parse_since
from .trail import (
    FileRead,
    FileStats,
    TrailRecord,
    TrailSpool,
    expand,
    located,
    lookup_events,
    read_file,
    read_files,
)

if TYPE_CHECKING:
    from mypy_boto3_cloudtrail import CloudTrailClient
    from mypy_boto3_sqs import SQSClient

    from ..publish.store import DynamoFindingStore

Diagnose = Callable[[Json], Finding]
"""Diagnoses one bare CloudTrail record (and stores the finding when asked to)."""

DEFAULT_LOOKUP_SINCE = "24h"
"""`--since` for LookupEvents when not given (`--events` files are read whole)."""
TOP = 10
"""How many findings the summary lists."""
AWS_FAILURE: Final = "an AWS failure"
WORKER_DIED: Final = "a worker that died"
"""What stopped a replay (`Stop.by`)."""


Group = tuple[str, str, str, str]  # principal, bucket, action, first cause


@dataclass(slots=True)
class TopTally:
    """The findings of a replay by (principal, bucket, action, first cause), counted as they
    come. Each replayed event counts once (a stored finding's `occurrences` include earlier
    runs); a group's finding id is that of its latest finding."""

    counts: Counter[Group] = field(default_factory=Counter)
    latest: dict[Group, str] = field(default_factory=dict)

    def add(self, group: Group, finding_id: str) -> None:
        self.counts[group] += 1
        self.latest[group] = finding_id

    def ranked(self, limit: int = TOP) -> list[TopFinding]:
        """The `limit` most seen groups, most seen first."""
        ranked = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        return [
            TopFinding(
                principal=principal,
                bucket=bucket,
                action=action,
                cause=cause,
                finding_id=self.latest[(principal, bucket, action, cause)],
                occurrences=count,
            )
            for (principal, bucket, action, cause), count in ranked
        ]


LISTED: Final = 20
"""Errors the text summary lists one by one; past that, it lists the most common reasons."""
REASONS: Final = 1_000
"""Distinct reasons of error counted one by one; the events of any further reason are counted
together (a message may quote the record, so reasons are as many as events at worst)."""
EXAMPLES: Final = 3
"""Events named for each reason of the text summary."""
TOP_REASONS: Final = 10
"""Reasons the text summary lists when the errors are more than `LISTED`."""


@dataclass(slots=True)
class ErrorTally:
    """The events a replay could not diagnose, in a memory that does not grow with them: how
    many, the first `LISTED`, and how many for each reason (at most `REASONS`) with the first
    `EXAMPLES` events of each; every one, as its text in the JSON document, in a `Spool` for
    `--output json` (`texts`)."""

    count: int = 0
    first: list[tuple[str, str]] = field(default_factory=list)  # (event id or origin, reason)
    by_reason: dict[str, ReasonTally] = field(default_factory=dict)
    other: int = 0  # the events of reasons past the first `REASONS`
    texts: Spool | None = None

    def add(self, where: str, reason: str) -> None:
        """Count the event `where` (its id, or its file and position) that failed with `reason`."""
        self.count += 1
        if len(self.first) < LISTED:
            self.first.append((where, reason))
        seen = self.by_reason.get(reason)
        if seen is None and len(self.by_reason) < REASONS:
            seen = self.by_reason[reason] = ReasonTally()
        if seen is None:
            self.other += 1
        else:
            seen.count += 1
            if len(seen.events) < EXAMPLES:
                seen.events.append(where)
        if self.texts is not None:
            self.texts.add(error_json(where, reason))

    def most_common(self) -> list[tuple[str, ReasonTally]]:
        """The `TOP_REASONS` reasons with most events, the first met first among equals."""
        return sorted(self.by_reason.items(), key=lambda kv: -kv[1].count)[:TOP_REASONS]


@dataclass(slots=True)
class ReasonTally:
    """The events of one reason of error: how many, and the first `EXAMPLES` of them."""

    count: int = 0
    events: list[str] = field(default_factory=list)


def error_json(where: str, reason: str) -> str:
    """An error's text in replay's JSON document (`--output json`), indented as on its own."""
    return json.dumps({"event": where, "error": reason}, indent=2, sort_keys=True)


@dataclass(slots=True, kw_only=True)
class ReplaySummary:
    """What a replay found: findings by cause and decision, and the events it could not use.

    The findings themselves are kept only for an output that shows them: their JSON texts wait
    in a `Spool` for `--output json` (`texts`), the newest `REPORTED` for `--html` (`reported`).
    The text summary needs the counts and the top groups alone, so a replay of a million events
    does not hold a million findings; nor a million errors (`ErrorTally`)."""

    diagnosed: int = 0
    by_cause: Counter[str] = field(default_factory=Counter)
    by_decision: Counter[str] = field(default_factory=Counter)
    top: TopTally = field(default_factory=TopTally)
    reported: NewestFindings | None = None  # for the HTML report
    texts: Spool | None = None  # each finding's text in the JSON document (`finding_json`)
    errors: ErrorTally = field(default_factory=ErrorTally)
    skipped: Counter[str] = field(default_factory=Counter)  # not S3 AccessDenied, by SkipKind
    files: FileStats = field(default_factory=FileStats)  # files without events, records too old
    stopped: Stop | None = None  # an AWS failure ended the run early

    def add(self, found: Outcome) -> None:
        """Count a finding (and keep it, or its text, when kept)."""
        self.diagnosed += 1
        if self.reported is not None and found.finding is not None:
            self.reported.add(found.finding)
        if self.texts is not None and found.text is not None:
            self.texts.add(found.text)
        self.by_decision[found.decision] += 1
        for code in found.codes:
            self.by_cause[code] += 1
        self.top.add(found.group, found.finding_id)


REPORTED: Final = 10_000
"""Most findings of a replay's HTML report (`findings report` reads as many from the table)."""


@dataclass(slots=True)
class NewestFindings:
    """The newest `limit` findings of a replay (by the time they were seen, then by their
    order), for its HTML report: a page of at most `limit` findings, and a memory to match,
    whatever the size of the replay; `seen` counts them all."""

    limit: int = REPORTED
    seen: int = 0
    _heap: list[tuple[str, int, Finding]] = field(default_factory=list)

    def add(self, finding: Finding) -> None:
        self.seen += 1
        item = (finding.last_seen or "", self.seen, finding)
        if len(self._heap) < self.limit:
            heapq.heappush(self._heap, item)
        elif item[:2] > self._heap[0][:2]:
            heapq.heapreplace(self._heap, item)

    def findings(self) -> list[Finding]:
        """The findings kept, oldest first."""
        return [finding for _, _, finding in sorted(self._heap, key=lambda item: item[:2])]


@dataclass(frozen=True, slots=True)
class Kept:
    """What of each finding a replay keeps for its outputs (the text summary: nothing)."""

    text: bool = False  # --output json: the finding's text in the document
    finding: bool = False  # --html: the report renders findings


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What diagnosing one record gave, as the summary counts it: a finding (its decision, cause
    codes, group and id; the finding or its JSON text when the output shows them all), a record
    skipped or not diagnosed, or an AWS failure that stops the run. Small: a worker of `--jobs`
    sends it back (a whole finding takes longer to send than to count, or than its text)."""

    decision: str = ""
    codes: tuple[str, ...] = ()
    group: Group = ("", "", "", "")
    finding_id: str = ""
    finding: Finding | None = None
    text: str | None = None  # the finding as the JSON document shows it (`finding_json`)
    skipped: str | None = None  # a SkipKind
    error: str | None = None  # why it could not be diagnosed
    failure: str | None = None  # an AWS failure, or what `failed_by` says
    failed_by: str = AWS_FAILURE

    @classmethod
    def of(cls, finding: Finding, *, keep: Kept) -> Outcome:
        request = finding.request
        group = (
            request.principal.principal_arn or request.principal.requester_arn,
            request.bucket or "",
            request.action,
            finding.causes[0].code if finding.causes else "(no cause found)",
        )
        return cls(
            decision=finding.decision.value,
            codes=tuple(sorted({cause.code for cause in finding.causes} or {"(no cause found)"})),
            group=group,
            finding_id=finding.finding_id,
            finding=finding if keep.finding else None,
            text=finding_json(finding) if keep.text else None,
        )


def finding_json(finding: Finding) -> str:
    """A finding's text in replay's JSON document (`--output json`), indented as on its own."""
    return json.dumps(finding.to_dict(), indent=2, sort_keys=True)


def outcome(diagnose: Diagnose, record: Json, *, keep: Kept) -> Outcome:
    """Diagnose one record; what went wrong is part of the outcome, never raised."""
    try:
        finding = diagnose(record)
    except OutOfScope as error:  # DESIGN 3.3 "Scope": skipped and counted, no verdict
        return Outcome(skipped=error.kind.value)
    except DiagnoserError as error:
        return Outcome(error=str(error))
    except (BotoCoreError, ClientError) as error:
        return Outcome(failure=str(error))
    return Outcome.of(finding, keep=keep)


@dataclass(frozen=True, slots=True, kw_only=True)
class Stop:
    """Where an AWS failure (the table, the account), or a worker of `--jobs` that died, ended a
    replay, and how many events it left."""

    event: str  # the event id (or origin) being handled when it failed
    error: str
    not_handled: int  # that event and every one after it
    by: str = AWS_FAILURE


@dataclass(frozen=True, slots=True, kw_only=True)
class TopFinding:
    """One line of the summary: a (principal, bucket, action, cause) and how often it was seen."""

    principal: str
    bucket: str
    action: str
    cause: str
    finding_id: str
    occurrences: int

    def to_dict(self) -> Json:
        return {
            "principal": self.principal,
            "bucket": self.bucket,
            "action": self.action,
            "cause": self.cause,
            "finding_id": self.finding_id,
            "occurrences": self.occurrences,
        }


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `replay` to the `s3doctor` parser."""
    parser = subparsers.add_parser(
        "replay",
        help="diagnose past AccessDenied events",
        description=__doc__,
        epilog="Examples:\n"
        "  s3doctor replay --since 7d\n"
        "  s3doctor replay --events trail/ --snapshot S.json --html report.html\n"
        "  s3doctor replay --events E.json --store --table s3-403-doctor-findings\n"
        "  s3doctor replay --from-dlq https://sqs.eu-west-1.amazonaws.com/111122223333/dlq "
        "--output json",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--since",
        help="events at or after this time: 24h, 7d or an ISO time (default: 24h for "
        "LookupEvents; --events files are read whole unless given), e.g. --since 7d",
    )
    parser.add_argument(
        "--events",
        type=Path,
        action="append",
        metavar="FILE",
        help="CloudTrail log files or event files (repeatable; a directory is read "
        "recursively) instead of LookupEvents, e.g. --events trail/AWSLogs/",
    )
    parser.add_argument(
        "--snapshot",
        type=Path,
        metavar="FILE",
        help="diagnose against this snapshot file (`s3doctor collect`) instead of the live "
        "account, e.g. --snapshot S.json",
    )
    parser.add_argument(
        "--store",
        action="store_true",
        help="write the findings to the table (--table) as the deployed function does; repeats "
        "aggregate, nothing is alerted, e.g. --store --table s3-403-doctor-findings",
    )
    parser.add_argument(
        "--table",
        metavar="NAME",
        help="DynamoDB table for --store (default: $FINDINGS_TABLE_NAME), e.g. "
        "--table s3-403-doctor-findings",
    )
    parser.add_argument(
        "--from-dlq",
        metavar="QUEUE_URL",
        help="handle the Lambda on-failure records of this dead-letter queue like the function "
        "(stored and alerted; each message deleted once handled), e.g. --from-dlq "
        "https://sqs.eu-west-1.amazonaws.com/111122223333/s3-403-doctor-dlq",
    )
    parser.add_argument(
        "--output",
        choices=("text", "json"),
        help="text (default) for people: the summary and top findings (or what the queue "
        "left); json for scripts: the same as one document, e.g. --output json",
    )
    parser.add_argument(
        "--html",
        type=Path,
        metavar="FILE",
        help="also write the findings as a self-contained HTML report (the newest 10,000), "
        "e.g. --html report.html",
    )
    parser.add_argument(
        "--detail",
        choices=("full", "references"),
        default="full",
        help="how much of the policies the HTML report shows, e.g. --detail references "
        "(default full: your own credentials read them)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="with --snapshot and without --store: diagnose with N processes at once "
        "(0: one per CPU; default: one per CPU, at most 4 and as many as half the available "
        "memory holds copies of --snapshot, for 500 events or more, else 1), "
        "the same summary and findings; 8 --events files or more are read by as many, "
        "e.g. --jobs 1",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """The `replay` command: 0 once every event has an answer, 2 bad input, 1 AWS failure."""
    out, err = out or sys.stdout, err or sys.stderr
    if getattr(args, "from_dlq", None):
        return _run_from_dlq(args, out=out, err=err)
    files = FileStats()
    try:
        jobs = _jobs(args)
        now = datetime.now(UTC)
        with progress.waiting("reading events", stream=err):  # a trail of many files
            if args.events:
                since = parse_since(args.since, now=now, field="--since") if args.since else None
                records, skipped = _sorted_files(args.events, since, files, jobs)
            else:
                since = parse_since(args.since or DEFAULT_LOOKUP_SINCE, now=now, field="--since")
                records, skipped = _sorted_out(lookup_events(cloudtrail_client(), since=since))
        diagnose = _diagnoser(args)
    except InputError as error:
        err.write(f"s3doctor replay: {message(error)}\n")
        return 2
    except (BotoCoreError, ClientError) as error:
        err.write(f"s3doctor replay: could not read CloudTrail: {message(error)}\n")
        return 1
    except SpoolError as error:
        err.write(f"s3doctor replay: {message(error)}\n")
        return 1
    except WorkerDied:
        err.write(
            "s3doctor replay: a process reading the --events files stopped (killed, or out of "
            "memory); run the replay again, or with --jobs 1 (one process)\n"
        )
        return 1
    keep = _kept(args)
    pairs: Generator[tuple[TrailRecord, Outcome], None, None]
    if jobs is None:
        jobs = _auto_jobs(args, len(records))
    if jobs == 1:
        pairs = ((item, outcome(diagnose, item.record, keep=keep)) for item in records)
    else:
        pairs = _in_parallel(records, args, jobs)
    texts = Spool() if keep.text else None
    errors = Spool() if keep.text else None
    summary = ReplaySummary(
        reported=NewestFindings(REPORTED) if keep.finding else None,
        texts=texts,
        errors=ErrorTally(texts=errors),
        files=files,
        skipped=skipped,
    )
    try:
        with (
            records,
            texts if texts is not None else contextlib.nullcontext(),
            errors if errors is not None else contextlib.nullcontext(),
            progress.bar(len(records), desc="replay", unit="event", stream=err) as bar,
            contextlib.closing(pairs),  # the workers stop with a run an AWS failure stops
        ):
            replay(pairs, summary, total=len(records), progress=bar)
            bar.close()
            status = _write_outputs(args, summary, out=out, err=err)
    except SpoolError as error:
        err.write(f"s3doctor replay: {message(error)}\n")
        return 1
    if status:
        return status
    if summary.stopped is not None:
        stop = summary.stopped
        err.write(f"s3doctor replay: stopped at event {text(stop.event)}: {message(stop.error)}\n")
        return 1
    return 0


def _write_outputs(
    args: argparse.Namespace, summary: ReplaySummary, *, out: TextIO, err: TextIO
) -> int:
    """The HTML report when asked, then the summary; 2 when the report cannot be written."""
    if getattr(args, "html", None) is not None:
        status = _write_html(args, summary, err=err)
        if status:
            return status
    if args.output == "json":
        write_summary_json(summary, out)
    else:
        out.write(render_summary(summary, stored=args.store))
    return 0


def _sorted_out(read: Iterable[TrailRecord]) -> tuple[TrailSpool, Counter[str]]:
    """The records to diagnose, and how many of the others were skipped, by kind: a trail's
    records are mostly other services' calls and calls that were not denied, counted as they
    are read, not held to the end of the run; the others wait in a `TrailSpool`, so that a
    bad file stops the run before any work, whatever the number of records."""
    from ..events.parse import skip_kind  # here: every command's start-up would import it

    kept = TrailSpool()
    skipped: Counter[str] = Counter()
    try:
        for item in read:
            kind = skip_kind(item.record)
            if kind is None:
                kept.add(item)
            else:
                skipped[kind.value] += 1
    except BaseException:
        kept.close()
        raise
    return kept, skipped


def _sorted_files(
    paths: Iterable[Path], since: datetime | None, files: FileStats, jobs: int | None
) -> tuple[TrailSpool, Counter[str]]:
    """`_sorted_out` of the records of `paths` (`read_files`, its counts in `files`); from
    `READ_FILES_FROM` files, read by worker processes (`--jobs` of them, else
    `unasked_jobs()`), a file each at a time: the same records in the same order, the same
    counts, the same first error (a trail tree of a busy account is mostly other calls, each
    to be read and sorted out)."""
    readers = jobs if jobs is not None else unasked_jobs()
    found = expand(paths) if readers > 1 else []
    if len(found) < READ_FILES_FROM:
        return _sorted_out(read_files(paths, since=since, denied_only=False, stats=files))
    kept = TrailSpool()
    skipped: Counter[str] = Counter()
    sorted_out = answers_in_parallel(
        enumerate(found), argparse.Namespace(since=since), readers, sorted_files, chunk=1
    )
    try:
        with contextlib.closing(sorted_out):
            for (path, _), one in zip(found, sorted_out, strict=True):
                if one.error is not None:
                    raise InputError(*one.error)
                one.read.count(files, path)
                skipped.update(one.skipped)
                for text in one.kept:
                    kept.add_text(text)
    except BaseException:
        kept.close()
        raise
    return kept, skipped


READ_FILES_FROM: Final = 8
"""Files from which a replay reads them with worker processes (fewer: in the command)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SortedFile:
    """What a reader of `_sorted_files` found in a file: the records to diagnose as the spool
    keeps them, the others counted by kind; or the error that stops the replay."""

    read: FileRead = field(default_factory=FileRead)  # what it left out, without its records
    kept: tuple[str, ...] = ()
    skipped: Counter[str] = field(default_factory=Counter)
    error: tuple[str, str] | None = None  # an InputError's field and message


def sorted_files(
    items: Iterator[tuple[int, tuple[Path, bool]]], args: argparse.Namespace
) -> Iterator[SortedFile]:
    """The reader of `_sorted_files` (in a worker), file after file."""
    from ..events.parse import skip_kind

    for _, (path, in_tree) in items:
        try:
            read = read_file(path, in_tree=in_tree, since=args.since, denied_only=False, skips=True)
        except InputError as error:
            yield SortedFile(error=(error.field_path, error.message))
            continue
        kept: list[str] = []
        skipped: Counter[str] = Counter()
        for position, record in read.records:
            kind = skip_kind(record)
            if kind is not None:
                skipped[kind.value] += 1
                continue
            kept.append(TrailSpool.text(located(record, path, position)))
        left = FileRead(before_since=read.before_since, skipped_as=read.skipped_as)
        yield SortedFile(read=left, kept=tuple(kept), skipped=skipped)


def _in_parallel(
    records: Iterable[TrailRecord], args: argparse.Namespace, jobs: int
) -> Generator[tuple[TrailRecord, Outcome], None, None]:
    """Each record with its outcome, made by `jobs` worker processes: the records sent ahead
    of their outcomes (a few chunks a worker) wait here. A worker that dies (killed, out of
    memory) stops the run at the first record without an outcome, as an AWS failure does:
    the summary counts the records before it."""
    waiting: deque[TrailRecord] = deque()

    def numbered() -> Iterator[tuple[int, Json]]:
        for number, item in enumerate(records):
            waiting.append(item)
            yield number, item.record

    outcomes = answers_in_parallel(numbered(), args, jobs, record_outcomes)
    with contextlib.closing(outcomes):
        try:
            for found in outcomes:
                yield waiting.popleft(), found
        except WorkerDied:
            died = "a worker process of --jobs stopped without answering (killed, or out of "
            died += "memory); run the replay again, or with fewer --jobs (--jobs 1: one process)"
            yield waiting.popleft(), Outcome(failure=died, failed_by=WORKER_DIED)


def _jobs(args: argparse.Namespace) -> int | None:
    """The worker processes `--jobs` asks for, None when it is not given (`_auto_jobs`): only
    a replay against `--snapshot` without `--store` is spread (the live account's reads and the
    table's writes stay in order, so a failure stops the run where it happened)."""
    given = getattr(args, "jobs", None)
    if given is None:
        return None
    jobs = jobs_wanted(given)
    if jobs != 1 and (args.snapshot is None or args.store):
        raise InputError(
            "--jobs", "spreads a replay against --snapshot without --store; drop --jobs here"
        )
    return jobs


AUTO_JOBS_FROM: Final = 500
"""Events from which a replay that may be spread takes a worker per CPU unasked: fewer gain
too little for the workers' start (on two CPUs, 200 records take as long either way; 500 a
fifth less with two workers)."""


def _auto_jobs(args: argparse.Namespace, events: int) -> int:
    """The worker processes of a replay without `--jobs`: `unasked_jobs(--snapshot)` for
    `AUTO_JOBS_FROM` events or more against `--snapshot` without `--store`, else one."""
    if args.snapshot is None or args.store or events < AUTO_JOBS_FROM:
        return 1
    return unasked_jobs(args.snapshot)


def _run_from_dlq(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    """`--from-dlq`: 0 once the queue is drained, 1 when messages were left (or AWS failed)."""
    if args.events or args.snapshot or args.store or args.table:
        err.write(
            "s3doctor replay: --from-dlq: cannot be combined with --events, --snapshot, "
            "--store or --table (the queue's events are handled like the function: live, "
            "stored in the function's table, $FINDINGS_TABLE_NAME)\n"
        )
        return 2
    try:
        report = dlq.drain(sqs_client(args.from_dlq), args.from_dlq, dlq.function_handler())
    except DiagnoserError as error:  # the function's configuration is missing (ConfigError)
        err.write(f"s3doctor replay: --from-dlq: {message(error)}\n")
        return 2
    except (BotoCoreError, ClientError) as error:
        err.write(f"s3doctor replay: could not read the dead-letter queue: {message(error)}\n")
        return 1
    if args.output == "json":
        out.write(json.dumps(dlq.report_document(report), indent=2, sort_keys=True) + "\n")
    else:
        out.write(dlq.render_report(report, args.from_dlq))
    return 1 if report.left else 0


def sqs_client(queue_url: str) -> SQSClient:
    """SQS in the queue's region (from its URL), with the user's default credentials."""
    region = dlq.region_of(queue_url)
    import boto3  # here: a replay against a snapshot needs no client

    return boto3.client("sqs", region_name=region) if region else boto3.client("sqs")


def _write_html(args: argparse.Namespace, summary: ReplaySummary, *, err: TextIO) -> int:
    from ..diagnose.detail import Detail
    from .report import write_report

    reported = summary.reported or NewestFindings()
    findings = reported.findings()
    source = ""
    if reported.seen > len(findings):
        source = f"a replay: the newest {len(findings):,} of its {reported.seen:,} findings"
    try:
        write_report(
            findings,
            args.html,
            detail=Detail(getattr(args, "detail", "full")),
            title="s3doctor replay",
            source=source,
        )
    except InputError as error:
        err.write(f"s3doctor replay: {message(error)}\n")
        return 2
    return 0


def replay(
    pairs: Iterable[tuple[TrailRecord, Outcome]],
    summary: ReplaySummary,
    *,
    total: int,
    progress: progress.Progress,
) -> None:
    """Count in `summary` the outcome of every record (`pairs`: each of the `total` records
    with its outcome, made as they are taken); a record that cannot be diagnosed is counted,
    never fatal.

    An AWS failure (storing, or reading the account) stops the run: the events after it would
    meet it too. The summary keeps what was done before, and `stopped` says where."""
    for number, (item, found) in enumerate(pairs):
        if found.failure is not None:
            where = item.event_id or item.origin
            summary.stopped = Stop(
                event=where, error=found.failure, not_handled=total - number, by=found.failed_by
            )
            break
        if found.skipped is not None:
            summary.skipped[found.skipped] += 1
        elif found.error is not None:
            summary.errors.add(item.event_id or item.origin, found.error)
        else:
            summary.add(found)
        progress.advance()


def record_outcomes(
    items: Iterator[tuple[int, Json]], args: argparse.Namespace
) -> Iterator[Outcome]:
    """The outcomes of a worker of `--jobs` (`batch_workers`), record after record."""
    diagnose = _diagnoser(args)
    keep = _kept(args)
    for _, record in items:
        yield outcome(diagnose, record, keep=keep)


def _kept(args: argparse.Namespace) -> Kept:
    """What of each finding the outputs show: their texts for the JSON document, the findings
    for the HTML report."""
    return Kept(text=args.output == "json", finding=getattr(args, "html", None) is not None)


def render_summary(summary: ReplaySummary, *, stored: bool) -> str:
    """The end-of-run report: counts by cause and decision, then what failed.

    Event ids and error messages come from the events: they are neutralised (`untrusted`)."""
    stop = summary.stopped
    total = summary.diagnosed + summary.errors.count + (stop.not_handled if stop else 0)
    left_out = [line for line in (*_file_lines(summary.files), _skipped_line(summary)) if line]
    if total == 0:
        return "No S3 AccessDenied events in that period.\n" + "".join(
            line + "\n" for line in left_out
        )
    lines = [
        f"{summary.diagnosed} of {total} events diagnosed"
        + (", findings stored." if stored else ".")
    ]
    lines += left_out
    top = summary.top.ranked()
    if top:
        lines += ["", f"Top findings ({len(top)} of {summary.diagnosed} events):"]
        lines += _top_table(top)
    if summary.by_cause:
        lines += ["", "By cause:"]
        width = max(len(text(code)) for code in summary.by_cause)
        for code, count in sorted(summary.by_cause.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  {text(code).ljust(width)}  {count}")
    if summary.by_decision:
        lines += ["", "By decision:"]
        lines += [f"  {d}: {n}" for d, n in sorted(summary.by_decision.items())]
    lines += _error_lines(summary.errors)
    if stop is not None:
        lines += ["", *_stopped_lines(stop, stored=summary.diagnosed if stored else None)]
    return "\n".join(lines) + "\n"


def _error_lines(errors: ErrorTally) -> list[str]:
    """The events that could not be diagnosed: each of them up to `LISTED`, else the most
    common reasons, each with its count and first events (`--output json` lists every one)."""
    if not errors.count:
        return []
    if errors.count <= LISTED:
        lines = ["", f"Could not diagnose {errors.count}:"]
        return lines + [f"  {text(where)}: {message(reason)}" for where, reason in errors.first]
    top = errors.most_common()
    lines = [
        "",
        f"Could not diagnose {errors.count}, by reason (--output json lists every event):",
    ]
    width = len(str(top[0][1].count)) if top else 0
    for reason, tally in top:
        named = ", ".join(text(where, 80) for where in tally.events)
        lines.append(f"  {str(tally.count).rjust(width)}  {message(reason)} (e.g. {named})")
    rest = errors.count - sum(tally.count for _, tally in top)
    if rest:
        reasons = len(errors.by_reason) - len(top)
        others = f"more than {reasons}" if errors.other else str(reasons)
        plural = "" if others == "1" else "s"
        lines.append(
            f"  and {rest} more event{'' if rest == 1 else 's'}, for {others} other reason{plural}"
        )
    return lines


def _stopped_lines(stop: Stop, *, stored: int | None) -> list[str]:
    """What an AWS failure left: where it stopped, why, and (`--store`) what the table holds.

    A rerun counts nothing twice: every write of a finding puts the event's record only if
    absent, in the same transaction (service.py), so an event already stored is recognised."""
    event = text(stop.event)
    lines = [
        f"Stopped at event {event} by {stop.by}: {message(stop.error)}",
        f"  Not handled: {stop.not_handled} events ({event} and those after it).",
    ]
    if stored is not None:
        lines += [
            f"  Stored before the failure: the findings of {stored} events.",
            "  Rerunning the same command is safe once the cause is fixed: the table recognises "
            "the events it already holds by their event ID and does not count them again.",
        ]
    return lines


def _top_table(top: Sequence[TopFinding]) -> list[str]:
    """The top findings as aligned columns; every cell neutralised (`untrusted.text`)."""
    header = ("COUNT", "PRINCIPAL", "BUCKET", "ACTION", "CAUSE", "FINDING")
    rows = [
        (
            str(t.occurrences),
            text(_principal_name(t.principal), 60),
            text(t.bucket or "-", 63),
            text(t.action, 40),
            text(t.cause, 48),
            text(t.finding_id, 80),
        )
        for t in top
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = []
    for row in (header, *rows):
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        lines.append(("  " + "  ".join(cells)).rstrip())
    return lines


def _principal_name(arn: str) -> str:
    """`user/alice`, `assumed-role/app/s` or `root`: the part of the ARN a person recognises."""
    return arn.split(":", 5)[-1] if arn.startswith("arn:") else arn or "-"


def _file_lines(files: FileStats) -> list[str]:
    """What `--events` left out: files without events by kind, records before `--since`."""
    lines = []
    if files.skipped_files:
        counts = sorted(files.skipped_files.items(), key=lambda kv: (-kv[1], kv[0]))
        lines.append(
            f"Skipped {sum(files.skipped_files.values())} files that hold no events: "
            + ", ".join(f"{kind} {n}" for kind, n in counts)
        )
    if files.before_since:
        lines.append(f"Left out {files.before_since} S3 AccessDenied records before --since.")
    return lines


def _skipped_line(summary: ReplaySummary) -> str:
    """`Skipped 3 records that are not S3 AccessDenied: not-denied 2, other-service 1`."""
    if not summary.skipped:
        return ""
    counts = sorted(summary.skipped.items(), key=lambda kv: (-kv[1], kv[0]))
    return (
        f"Skipped {sum(summary.skipped.values())} records that are not S3 AccessDenied: "
        + ", ".join(f"{kind} {n}" for kind, n in counts)
    )


def summary_document(summary: ReplaySummary) -> Json:
    """The JSON document of `--output json` but its errors and findings (`write_summary_json`)."""
    stop = summary.stopped
    return {
        "skipped": dict(summary.skipped),
        "skipped_files": dict(summary.files.skipped_files),
        "skipped_file_paths": list(summary.files.skipped_paths),
        "before_since": summary.files.before_since,
        "top_findings": [t.to_dict() for t in summary.top.ranked()],
        "diagnosed": summary.diagnosed,
        "by_cause": dict(summary.by_cause),
        "by_decision": dict(summary.by_decision),
        "errors": [],
        "findings": [],
        "stopped": (
            {"event": stop.event, "error": stop.error, "not_handled": stop.not_handled}
            if stop is not None
            else None
        ),
    }


def write_summary_json(summary: ReplaySummary, out: TextIO) -> None:
    """`--output json`: `json.dumps({**summary_document(summary), "errors": [...],
    "findings": [...]}, indent=2, sort_keys=True)`, its errors and findings written one at a
    time from where they wait (`error_json`, `finding_json`)."""
    document = json.dumps(summary_document(summary), indent=2, sort_keys=True)
    # a string holds no raw line break: the document's only lines that start with two spaces
    # and a key are the top level's
    lists: list[tuple[str, Iterable[str]]] = [
        ("errors", summary.errors.texts if summary.errors.texts is not None else ()),
        ("findings", summary.texts if summary.texts is not None else ()),
    ]
    for name, texts in lists:
        head, document = document.split(f'\n  "{name}": []', 1)
        out.write(f'{head}\n  "{name}": [')
        first = True
        for item in texts:
            out.write(("\n    " if first else ",\n    ") + item.replace("\n", "\n    "))
            first = False
        out.write("]" if first else "\n  ]")
    out.write(document + "\n")


def cloudtrail_client() -> CloudTrailClient:
    """CloudTrail with the user's default credentials and region."""
    import boto3

    return boto3.client("cloudtrail")


def _store(args: argparse.Namespace) -> DynamoFindingStore:
    """The findings table of `--store`: `--table`, else $FINDINGS_TABLE_NAME."""
    from .. import wiring
    from ..publish.store import DynamoFindingStore as Store

    if not args.table:
        return wiring.finding_store()
    days = wiring.settings().retention_days
    return Store(args.table, wiring.dynamodb(), retention_days=days)


def _diagnoser(args: argparse.Namespace) -> Diagnose:
    """Diagnose with `--snapshot` or the live account; with `--store`, store as the handler does."""
    from .. import service, wiring
    from ..collect.file import FileSnapshotSource
    from ..events import parse_event
    from ..publish.memory import ListPublisher

    source = FileSnapshotSource(args.snapshot) if args.snapshot else wiring.event_source()
    if not args.store:

        def diagnose(record: Json) -> Finding:
            return service.diagnose_request(parse_event(record), source=source, clock=wiring.clock)

        return diagnose
    store = _store(args)
    publisher = ListPublisher()  # replayed findings are stored, never alerted

    def diagnose_and_store(record: Json) -> Finding:
        parse_event(record)  # a record out of scope is skipped here, not stored as an error
        result = service.handle_event(
            record,
            source=source,
            store=store,
            publisher=publisher,
            clock=wiring.clock,
            window=wiring.settings().aggregation_window,
        )
        finding = store.get(result.finding_id) if result.finding_id else None
        if finding is None:
            raise DiagnoserError(result.error or f"no finding ({result.status.value})")
        return finding

    return diagnose_and_store
