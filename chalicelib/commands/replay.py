"""`s3doctor replay`: diagnose past S3 AccessDenied events, and optionally store the findings.

    s3doctor replay [--since 24h] [--events FILE|DIR]... [--snapshot S.json] [--store]
    s3doctor replay --from-dlq QUEUE_URL [--output text|json]

Events come from CloudTrail `LookupEvents` (management events of the last 90 days) or, with
`--events`, from CloudTrail log files / `{"Records": [...]}` / EventBridge event files. Each is
diagnosed against the live account (or `--snapshot`); `--store` writes the findings to the
table named by $FINDINGS_TABLE_NAME the way the deployed handler does (repeats aggregate,
nothing is alerted).
A progress bar goes to stderr on a terminal; a summary by cause ends the run.

`--from-dlq` drains the stack's dead-letter queue instead: each Lambda on-failure record's event
is handled exactly as the deployed function would (stored, alerted, idempotent; the function's
environment: FINDINGS_TABLE_NAME, FINDINGS_TOPIC_ARN...), deleted once handled, and what could not
be handled is left on the queue with the reason (exit status 1). See `chalicelib/commands/dlq.py`.
`--events` also reads files of such on-failure records.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.commands import dlq
from chalicelib.commands.timespec import parse_since
from chalicelib.commands.trail import TrailRecord, lookup_events, read_files
from chalicelib.diagnose.untrusted import message, text
from chalicelib.events.errors import OutOfScope
from chalicelib.model import DiagnoserError, Finding, InputError, Json

if TYPE_CHECKING:
    from mypy_boto3_cloudtrail import CloudTrailClient
    from mypy_boto3_sqs import SQSClient

Diagnose = Callable[[Json], Finding]
"""Diagnoses one bare CloudTrail record (and stores the finding when asked to)."""


@dataclass(slots=True, kw_only=True)
class ReplaySummary:
    """What a replay found: findings by cause and decision, and the events it could not use."""

    diagnosed: int = 0
    by_cause: Counter[str] = field(default_factory=Counter)
    by_decision: Counter[str] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (event id or origin, reason)
    skipped: Counter[str] = field(default_factory=Counter)  # not S3 AccessDenied, by SkipKind


class ProgressBar:
    """A one-line bar on a terminal; silent when the stream is not a TTY (pipes, CI logs)."""

    def __init__(self, stream: TextIO, total: int | None, *, width: int = 30) -> None:
        self._stream = stream
        self._total = total
        self._width = width
        self._done = 0
        self._on = stream.isatty()

    def advance(self) -> None:
        self._done += 1
        if not self._on:
            return
        if self._total:
            filled = self._width * self._done // self._total
            bar = "#" * filled + "." * (self._width - filled)
            self._stream.write(f"\r[{bar}] {self._done}/{self._total}")
        else:
            self._stream.write(f"\r{self._done} events")
        self._stream.flush()

    def close(self) -> None:
        if self._on and self._done:
            self._stream.write("\n")
            self._stream.flush()


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `replay` to the `s3doctor` parser."""
    parser = subparsers.add_parser(
        "replay",
        help="diagnose past AccessDenied events",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--since", default="24h", help="events at or after: 24h, 7d or ISO time")
    parser.add_argument(
        "--events",
        type=Path,
        action="append",
        metavar="FILE",
        help="CloudTrail log files or event files (repeatable; a directory is read recursively)",
    )
    parser.add_argument("--snapshot", type=Path, help="diagnose against this snapshot file")
    parser.add_argument("--store", action="store_true", help="write findings to the table")
    parser.add_argument(
        "--table", help="DynamoDB table for --store (default: $FINDINGS_TABLE_NAME)"
    )
    parser.add_argument(
        "--from-dlq",
        metavar="QUEUE_URL",
        help="handle the Lambda on-failure records of this dead-letter queue like the function "
        "(stored and alerted; each message deleted once handled)",
    )
    parser.add_argument("--output", choices=("text", "json"), default="text")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """The `replay` command: 0 once every event has an answer, 2 bad input, 1 AWS failure."""
    out, err = out or sys.stdout, err or sys.stderr
    if getattr(args, "from_dlq", None):
        return _run_from_dlq(args, out=out, err=err)
    try:
        since = parse_since(args.since, now=datetime.now(UTC), field="--since")
        records: Sequence[TrailRecord]
        if args.events:
            records = list(read_files(args.events, since=since, denied_only=False))
        else:
            records = list(lookup_events(cloudtrail_client(), since=since))
        diagnose = _diagnoser(args)
    except InputError as error:
        err.write(f"s3doctor replay: {message(error)}\n")
        return 2
    except (BotoCoreError, ClientError) as error:
        err.write(f"s3doctor replay: could not read CloudTrail: {message(error)}\n")
        return 1
    summary = replay(records, diagnose, progress=ProgressBar(err, len(records)))
    if args.output == "json":
        out.write(json.dumps(summary_document(summary), indent=2, sort_keys=True) + "\n")
    else:
        out.write(render_summary(summary, stored=args.store))
    return 0


def _run_from_dlq(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    """`--from-dlq`: 0 once the queue is drained, 1 when messages were left (or AWS failed)."""
    if args.events or args.snapshot or args.store:
        err.write(
            "s3doctor replay: --from-dlq: cannot be combined with --events, --snapshot or "
            "--store (the queue's events are handled like the function: live, stored)\n"
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
    return boto3.client("sqs", region_name=region) if region else boto3.client("sqs")


def replay(
    records: Iterable[TrailRecord], diagnose: Diagnose, *, progress: ProgressBar
) -> ReplaySummary:
    """Diagnose every record; a record that cannot be diagnosed is counted, never fatal."""
    summary = ReplaySummary()
    for item in records:
        try:
            finding = diagnose(item.record)
        except OutOfScope as error:  # DESIGN 3.3 "Scope": skipped and counted, no verdict
            summary.skipped[error.kind.value] += 1
        except DiagnoserError as error:
            summary.errors.append((item.event_id or item.origin, str(error)))
        else:
            summary.diagnosed += 1
            summary.findings.append(finding)
            summary.by_decision[finding.decision.value] += 1
            for code in {cause.code for cause in finding.causes} or {"(no cause found)"}:
                summary.by_cause[code] += 1
        progress.advance()
    progress.close()
    return summary


def render_summary(summary: ReplaySummary, *, stored: bool) -> str:
    """The end-of-run report: counts by cause and decision, then what failed.

    Event ids and error messages come from the events: they are neutralised (`untrusted`)."""
    total = summary.diagnosed + len(summary.errors)
    skipped = _skipped_line(summary)
    if total == 0:
        return "No S3 AccessDenied events in that period.\n" + (skipped + "\n" if skipped else "")
    lines = [
        f"{summary.diagnosed} of {total} events diagnosed"
        + (", findings stored." if stored else ".")
    ]
    if skipped:
        lines.append(skipped)
    if summary.by_cause:
        lines += ["", "By cause:"]
        width = max(len(text(code)) for code in summary.by_cause)
        for code, count in sorted(summary.by_cause.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  {text(code).ljust(width)}  {count}")
    if summary.by_decision:
        lines += ["", "By decision:"]
        lines += [f"  {d}: {n}" for d, n in sorted(summary.by_decision.items())]
    if summary.errors:
        lines += ["", f"Could not diagnose {len(summary.errors)}:"]
        lines += [f"  {text(where)}: {message(reason)}" for where, reason in summary.errors]
    return "\n".join(lines) + "\n"


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
    return {
        "skipped": dict(summary.skipped),
        "diagnosed": summary.diagnosed,
        "by_cause": dict(summary.by_cause),
        "by_decision": dict(summary.by_decision),
        "errors": [{"event": where, "error": reason} for where, reason in summary.errors],
        "findings": [f.to_dict() for f in summary.findings],
    }


def cloudtrail_client() -> CloudTrailClient:
    """CloudTrail with the user's default credentials and region."""
    return boto3.client("cloudtrail")


def _diagnoser(args: argparse.Namespace) -> Diagnose:
    """Diagnose with `--snapshot` or the live account; with `--store`, store as the handler does."""
    from chalicelib import service, wiring
    from chalicelib.collect.file import FileSnapshotSource
    from chalicelib.events import parse_event
    from chalicelib.publish.memory import ListPublisher

    source = FileSnapshotSource(args.snapshot) if args.snapshot else wiring.snapshot_source()
    if not args.store:

        def diagnose(record: Json) -> Finding:
            return service.diagnose_request(parse_event(record), source=source, clock=wiring.clock)

        return diagnose
    store = wiring.finding_store()
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
