"""`s3doctor diagnose`: one request, one event, or a batch, offline or against the live account."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from chalicelib import pipeline
from chalicelib.diagnose import render_json, render_markdown, render_text
from chalicelib.engine import decide
from chalicelib.events import iter_records, parse_event
from chalicelib.events.errors import OutOfScope
from chalicelib.model import AccessRequest, Finding, InputError, Json
from chalicelib.request import request_from_runbook
from chalicelib.snapshot import Snapshot, load_snapshot


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "diagnose",
        help="explain why an S3 request is (or would be) denied",
        description=(
            "Diagnose one S3 request: from a CloudTrail event (--event), a request file in the "
            "runbook's shape (--request), the runbook's flags, or a JSON-lines batch (--batch). "
            "Without --snapshot the live account is read with the default AWS credentials."
        ),
    )
    parser.add_argument("--snapshot", type=Path, help="account snapshot file (docs/snapshot.md)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--event", type=Path, help="EventBridge event or CloudTrail record")
    source.add_argument("--request", type=Path, help="request file (DESIGN 3.1 runbook inputs)")
    source.add_argument("--batch", type=Path, help="JSON lines: {id, snapshot?, request|event}")
    source.add_argument("--resource-arn", help="bucket or object ARN")
    parser.add_argument("--action", help="IAM action, e.g. s3:GetObject")
    parser.add_argument("--requester-arn", help="IAM user, role, role-session or root ARN")
    parser.add_argument("--session-name")
    parser.add_argument("--version-id")
    parser.add_argument("--kms-key-arn")
    parser.add_argument("--vpc-endpoint-id")
    parser.add_argument(
        "--context-key",
        action="append",
        default=[],
        metavar="JSON",
        help='{"ContextKeyName": ..., "ContextKeyValues": [...], "ContextKeyType": ...}',
    )
    parser.add_argument("--scp", action="append", default=[], type=Path, metavar="FILE")
    parser.add_argument("--session-policy", type=Path, metavar="FILE")
    parser.add_argument("--output", choices=("text", "json", "markdown"), default="text")
    parser.add_argument(
        "--detail",
        choices=("full", "decision"),
        default="full",
        help="batch only: full findings, or the engine's decision alone (fastest)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.batch is not None:
        return _run_batch(args, sys.stdout)
    findings = []
    loaded: Snapshot | None = None
    requests, skipped = _requests(args)
    if skipped:
        sys.stderr.write(skipped_line(skipped, len(requests) + sum(skipped.values())) + "\n")
    for request in requests:
        if args.snapshot is not None:
            loaded = loaded or load_snapshot(_read_json(args.snapshot, "--snapshot"))
            findings.append(pipeline.diagnose(request, loaded))
        else:
            findings.append(pipeline.diagnose(request, _live_snapshot(request)))
    sys.stdout.write(_render_all(findings, args.output))
    return 0


def _render_all(findings: list[Finding], output: str) -> str:
    """One finding as usual; several (a CloudTrail log file) as a JSON array or one after the
    other in text and Markdown."""
    if len(findings) == 1:
        return _render(findings[0], output)
    if output == "json":
        items = [json.loads(render_json(f)) for f in findings]
        return json.dumps(items, indent=2, sort_keys=True) + "\n"
    separator = "\n---\n\n" if output == "markdown" else "\n" + "-" * 100 + "\n\n"
    return separator.join(_render(f, output) for f in findings)


def _render(finding: Finding, output: str) -> str:
    if output == "json":
        return render_json(finding)
    if output == "markdown":
        return render_markdown(finding)
    return render_text(finding, color=sys.stdout.isatty())


def _requests(args: argparse.Namespace) -> tuple[list[AccessRequest], Counter[str]]:
    """The request(s) to diagnose, and what was skipped by reason (DESIGN 3.3 "Scope").

    An event file may be a CloudTrail log of many records: its S3 AccessDenied records are
    diagnosed and the others counted. One record that is not an S3 AccessDenied is bad input
    (`OutOfScope`, one line naming why).
    """
    skipped: Counter[str] = Counter()
    if args.event is None:
        return [_one_request(args)], skipped
    document = _read_json(args.event, "--event")
    records = list(iter_records(document))
    if not records:
        raise InputError("--event", f"{args.event} holds no CloudTrail record")
    if not (isinstance(document, list) or "Records" in document):
        return [parse_event(records[0])], skipped
    requests = []
    for record in records:
        try:
            requests.append(parse_event(record))
        except OutOfScope as error:
            skipped[error.kind.value] += 1
    return requests, skipped


def skipped_line(skipped: Mapping[str, int], total: int) -> str:
    """`skipped 5 of 7 records (not S3 AccessDenied): other-service 2, not-denied 1, …`."""
    counts = ", ".join(f"{kind} {n}" for kind, n in sorted(skipped.items(), key=_by_count))
    return (
        f"skipped {sum(skipped.values())} of {total} records (not S3 AccessDenied, not "
        f"diagnosed): {counts}"
    )


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


def _one_request(args: argparse.Namespace) -> AccessRequest:
    if args.request is not None:
        return request_from_runbook(_read_json(args.request, "--request"))
    if args.resource_arn is None:
        raise InputError("--event/--request/--batch/--resource-arn", "say what to diagnose")
    for flag, value in (("--action", args.action), ("--requester-arn", args.requester_arn)):
        if not value:
            raise InputError(flag, "required with --resource-arn")
    return request_from_runbook(_runbook_inputs(args))


def _runbook_inputs(args: argparse.Namespace) -> Json:
    context = []
    for i, text in enumerate(args.context_key):
        try:
            context.append(json.loads(text))
        except json.JSONDecodeError as error:
            raise InputError(f"--context-key[{i}]", f"not JSON: {error.msg}") from None
    return {
        "requester_arn": args.requester_arn,
        "action": args.action,
        "resource_arn": args.resource_arn,
        "session_name": args.session_name,
        "version_id": args.version_id,
        "kms_key_arn": args.kms_key_arn,
        "vpc_endpoint_id": args.vpc_endpoint_id,
        "context": context,
        "session_policy": (
            _read_json(args.session_policy, "--session-policy") if args.session_policy else None
        ),
        "scp_policies": [_read_json(path, f"--scp {path}") for path in args.scp],
    }


def _live_snapshot(request: AccessRequest) -> Json:
    from chalicelib.commands.live import live_source_from_env  # boto3 only when live

    return live_source_from_env().snapshot_for(request)


def _read_json(path: Path, field: str) -> Any:
    try:
        text = path.read_text()
    except OSError as error:
        raise InputError(field, f"cannot read {path}: {error.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(field, f"{path} is not JSON: {error.msg} at line {error.lineno}") from None


# --------------------------------------------------------------------------- batch


class _Snapshots:
    """Each snapshot file is read, validated and compiled once for the whole batch."""

    def __init__(self, default: Path | None) -> None:
        self.default = default
        self._cache: dict[Path, Snapshot] = {}

    def get(self, name: str | None, base: Path) -> Snapshot:
        path = (base / name) if name else self.default
        if path is None:
            raise InputError("snapshot", "no snapshot on the line and no --snapshot given")
        if path not in self._cache:
            self._cache[path] = load_snapshot(_read_json(path, f"snapshot {path}"))
        return self._cache[path]


def _lines(handle: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines as bytes: a line that is not UTF-8 fails alone, in `json.loads`."""
    for number, line in enumerate(handle, start=1):
        if line.strip():
            yield number, line


# Answers are written this many at a time: one write per line costs a system call each when
# the output is unbuffered (PYTHONUNBUFFERED, common in containers).
CHUNK = 256


def _run_batch(args: argparse.Namespace, out: TextIO) -> int:
    try:
        handle = args.batch.open("rb")
    except OSError as error:
        raise InputError("--batch", f"cannot read {args.batch}: {error.strerror}") from None
    pending: list[str] = []
    from chalicelib.commands.progress import lines_bar

    full = args.detail != "decision"  # full findings take a while: progress on a terminal
    with handle, lines_bar(handle, desc="diagnose", unit="request", enabled=full) as bar:
        try:
            for answer in _answers(_lines(handle), args):
                bar.advance()
                pending.append(answer)
                if len(pending) == CHUNK:
                    out.write("\n".join(pending) + "\n")
                    pending.clear()
        finally:  # what was answered is written, even when interrupted
            if pending:
                out.write("\n".join(pending) + "\n")
    return 0


def _answers(lines: Iterator[tuple[int, bytes]], args: argparse.Namespace) -> Iterator[str]:
    """One JSON answer per line, in order; a bad line gets an error answer, never a stop."""
    snapshots = _Snapshots(args.snapshot)
    base = args.batch.parent
    decision_only = args.detail == "decision"
    dumps = json.dumps
    for number, line in lines:
        ident: Any = number
        try:
            item = json.loads(line)
            if not isinstance(item, Mapping):
                raise InputError(f"line {number}", "not a JSON object")
            ident = item.get("id", number)
            request = _batch_request(item, number)
            snapshot = snapshots.get(item.get("snapshot"), base)
            if decision_only:
                answer = _decision_dict(request, snapshot)
            else:
                answer = pipeline.diagnose(request, snapshot).to_dict()
            answer["id"] = ident
        except InputError as error:
            answer = {"id": ident, "error": str(error)}
        except json.JSONDecodeError as error:
            answer = {"id": ident, "error": f"line {number}: not JSON: {error.msg}"}
        except UnicodeDecodeError as error:
            answer = {"id": ident, "error": f"line {number}: not UTF-8 (byte {error.start + 1})"}
        except Exception as error:  # one bad line never stops the batch
            answer = {"id": ident, "error": f"{type(error).__name__}: {error}"}
        yield dumps(answer, sort_keys=True)


def _batch_request(item: Mapping[str, Any], number: int) -> AccessRequest:
    if "event" in item:
        return parse_event(item["event"])
    if "request" in item:
        return request_from_runbook(item["request"])
    raise InputError(f"line {number}", 'needs "request" or "event"')


def _decision_dict(request: AccessRequest, snapshot: Snapshot) -> Json:
    verdicts = decide(request, snapshot)
    return {
        "decision": verdicts.decision.value,
        "blocked_by": [layer.value for layer in verdicts.blocked_by],
    }
