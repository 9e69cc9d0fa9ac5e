"""`s3doctor diagnose`: one request, one event, or a batch, offline or against the live account."""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import re
import signal
import stat
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Final, TextIO

from ..engine import decide
from ..engine.evaluate import Verdicts
from ..finding_text import CANONICAL, around_id
from ..model import AccessRequest, Finding, InputError, Json
from ..request import request_from_runbook
from ..runbook_verdicts import decide_runbook
from ..snapshot import Snapshot, load_snapshot
from . import batch_workers
from .batch_workers import (
    DECISION_CHUNK,
    FULL_CHUNK,
    answers_in_parallel,
    jobs_wanted,
    unasked_jobs,
)
from .forked_lines import answer_blocks
from .options import (
    HelpFormatter,
    add_query_option,
    file_text,
    output_format,
    query_error,
    structured,
    use_color,
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "diagnose",
        help="explain why an S3 request is (or would be) denied",
        description=(
            "Diagnose one S3 request: from a CloudTrail event (--event), a request file in the "
            "runbook's shape (--request), the runbook's flags, or a JSON-lines batch (--batch). "
            "Without --snapshot the live account is read with your AWS credentials "
            "(--profile, --region, --endpoint-url)."
        ),
        epilog="Examples:\n"
        "  s3doctor diagnose --snapshot S.json --event event.json\n"
        "  s3doctor diagnose --resource-arn arn:aws:s3:::my-bucket/data.csv \\\n"
        "      --action s3:GetObject --requester-arn arn:aws:iam::111122223333:user/alice \\\n"
        "      --context-key ContextKeyName=aws:SourceIp,ContextKeyValues=10.0.0.1,"
        "ContextKeyType=ip\n"
        "  s3doctor diagnose --snapshot S.json --batch requests.jsonl --detail decision\n"
        "  s3doctor diagnose --snapshot S.json --request R.json --query 'causes[].code'",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--snapshot",
        type=Path,
        metavar="FILE",
        help="diagnose offline against this account snapshot (as written by `s3doctor "
        "collect`), e.g. --snapshot S.json; without it the live account is read",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--event",
        type=Path,
        metavar="FILE",
        help="an EventBridge event, a CloudTrail record or a CloudTrail log file, e.g. "
        "--event event.json",
    )
    source.add_argument(
        "--request",
        type=Path,
        metavar="FILE",
        help="the runbook's inputs as JSON: {requester_arn, action, resource_arn, ...} "
        "(the keys of the flags below, in snake_case), e.g. --request R.json",
    )
    source.add_argument(
        "--batch",
        type=Path,
        metavar="FILE",
        help='JSON lines, one {"id", "snapshot"?, "request"|"event"} per line; answers are '
        "JSON lines (--output json only), e.g. --batch requests.jsonl",
    )
    source.add_argument(
        "--resource-arn",
        help="the bucket or object ARN, e.g. arn:aws:s3:::my-bucket/data/report.csv",
    )
    parser.add_argument("--action", help="the IAM action, e.g. s3:GetObject")
    parser.add_argument(
        "--requester-arn",
        help="IAM user, role, role-session or root ARN, e.g. arn:aws:iam::111122223333:role/app",
    )
    parser.add_argument(
        "--session-name",
        help="the role session name, with a role --requester-arn, e.g. i-0abc123",
    )
    parser.add_argument(
        "--version-id", help="the object version the request named, e.g. 3HL4kqtJlcpXroDTDmJ"
    )
    parser.add_argument(
        "--kms-key-arn",
        help="the SSE-KMS key of the request, e.g. "
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    )
    parser.add_argument(
        "--vpc-endpoint-id",
        help="the VPC endpoint the request went through, e.g. vpce-1a2b3c4d",
    )
    parser.add_argument(
        "--context-key",
        action="append",
        default=[],
        metavar="KEY",
        help="a condition key of the request (repeatable), in the AWS CLI shorthand "
        "ContextKeyName=aws:SourceIp,ContextKeyValues=10.0.0.1,ContextKeyType=ip "
        "(several values: ContextKeyValues=a,b or [a,b]) or as JSON "
        '{"ContextKeyName": ..., "ContextKeyValues": [...], "ContextKeyType": ...}',
    )
    parser.add_argument(
        "--scp",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="an SCP document that applies to the requester (repeatable), e.g. --scp deny.json",
    )
    parser.add_argument(
        "--session-policy",
        type=Path,
        metavar="FILE",
        help="the session policy passed when the role was assumed, e.g. --session-policy s.json",
    )
    parser.add_argument(
        "--output",
        choices=OUTPUTS,
        help="text (default) for people, markdown for tickets, json or yaml for scripts; "
        "--batch writes JSON lines",
    )
    add_query_option(parser)
    parser.add_argument(
        "--detail",
        choices=("full", "decision"),
        help="batch only: full findings (default), or the engine's decision alone (fastest)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="batch only: answer with N processes at once (0: one per CPU; default: one per "
        "CPU, at most 4 and as many as half the available memory holds copies of --snapshot, "
        "for full findings from a file of 1 MiB or more, else 1), the answers in the order of "
        "the lines; for full findings (decisions gain nothing), e.g. --jobs 1",
    )
    parser.set_defaults(func=run)


OUTPUTS = ("text", "json", "markdown", "yaml")


def run(args: argparse.Namespace) -> int:
    _refuse_unused_flags(args)
    if args.batch is not None:
        if getattr(args, "output", None) not in (None, "json"):
            raise InputError(
                "--output", f"--batch writes JSON lines: use --output json, not {args.output}"
            )
        _batch_query(args)  # a bad --query is refused before the first line
        return _run_batch(args, sys.stdout)
    from .. import pipeline

    output = output_format(args, default="text")
    findings = []
    loaded: Snapshot | None = None
    requests, skipped, listed = _requests(args)
    if skipped:
        sys.stderr.write(skipped_line(skipped, len(requests) + sum(skipped.values())) + "\n")
    for request in requests:
        if args.snapshot is not None:
            loaded = loaded or load_snapshot(_read_json(args.snapshot, "--snapshot"))
            findings.append(pipeline.diagnose(request, loaded))
        else:
            findings.append(pipeline.diagnose(request, _live_snapshot(request)))
    if output in ("json", "yaml"):
        items = [f.to_dict() for f in findings]
        one = len(items) == 1 and not listed  # a log file gives a list, whatever its size
        sys.stdout.write(structured(items[0] if one else items, args, output))
        return 0
    sys.stdout.write(_render_all(findings, output, color=use_color(args, sys.stdout)))
    return 0


# The request flags of `--resource-arn`: a request file, an event and a batch line carry their
# own, and a flag given with them would be dropped without a word.
_REQUEST_FLAGS: Final = (
    ("--action", "action"),
    ("--requester-arn", "requester_arn"),
    ("--session-name", "session_name"),
    ("--version-id", "version_id"),
    ("--kms-key-arn", "kms_key_arn"),
    ("--vpc-endpoint-id", "vpc_endpoint_id"),
    ("--context-key", "context_key"),
    ("--scp", "scp"),
    ("--session-policy", "session_policy"),
)


def _refuse_unused_flags(args: argparse.Namespace) -> None:
    """Refuse flags the chosen input would ignore: the request flags with `--request`,
    `--event` or `--batch`, and `--detail` or `--jobs` without `--batch`."""
    for flag in ("--detail", "--jobs"):
        if getattr(args, flag[2:]) is not None and args.batch is None:
            raise InputError(flag, "applies to --batch only")
    given = next(
        (flag for flag, name in (("--request", "request"), ("--event", "event"),
                                 ("--batch", "batch")) if getattr(args, name) is not None),
        None,
    )  # fmt: skip
    if given is None:
        return
    where = {
        "--request": "put it in the request file (its keys: action, requester_arn, "
        "session_name, version_id, kms_key_arn, vpc_endpoint_id, context, scp_policies, "
        "session_policy)",
        "--event": "an event's request is the record's",
        "--batch": "put it in the line's request",
    }[given]
    for flag, name in _REQUEST_FLAGS:
        if getattr(args, name, None):
            raise InputError(flag, f"applies to --resource-arn, not {given}: {where}")


def _render_all(findings: list[Finding], output: str, *, color: bool = False) -> str:
    """One finding as usual; several (a CloudTrail log file) as a JSON array or one after the
    other in text and Markdown."""
    from ..diagnose import render_json

    if len(findings) == 1:
        return _render(findings[0], output, color=color)
    if output == "json":
        items = [json.loads(render_json(f)) for f in findings]
        return json.dumps(items, indent=2, sort_keys=True) + "\n"
    separator = "\n---\n\n" if output == "markdown" else "\n" + "-" * 100 + "\n\n"
    return separator.join(_render(f, output, color=color) for f in findings)


def _render(finding: Finding, output: str, *, color: bool = False) -> str:
    from ..diagnose import render_json, render_markdown, render_text

    if output == "json":
        return render_json(finding)
    if output == "markdown":
        return render_markdown(finding)
    return render_text(finding, color=color)


def _requests(args: argparse.Namespace) -> tuple[list[AccessRequest], Counter[str], bool]:
    """The request(s) to diagnose, what was skipped by reason (DESIGN 3.3 "Scope"), and whether
    the input was a list of records (a CloudTrail log file), whose answer is a list.

    An event file may be a CloudTrail log of many records: its S3 AccessDenied records are
    diagnosed and the others counted. One record that is not an S3 AccessDenied is bad input
    (`OutOfScope`, one line naming why).
    """
    from ..events import iter_records, parse_event
    from ..events.errors import OutOfScope

    skipped: Counter[str] = Counter()
    if args.event is None:
        return [_one_request(args)], skipped, False
    document = _read_json(args.event, "--event")
    records = list(iter_records(document))
    if not records:
        raise InputError("--event", f"{args.event} holds no CloudTrail record")
    if not (isinstance(document, list) or "Records" in document):
        return [parse_event(records[0])], skipped, False
    requests = []
    for record in records:
        try:
            requests.append(parse_event(record))
        except OutOfScope as error:
            skipped[error.kind.value] += 1
    return requests, skipped, True


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
    context = [context_key(text, f"--context-key[{i}]") for i, text in enumerate(args.context_key)]
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


_SHORTHAND_KEYS = ("ContextKeyName", "ContextKeyValues", "ContextKeyType")


def context_key(text: str, field: str) -> Json:
    """One `--context-key`: JSON, or the AWS CLI shorthand
    `ContextKeyName=aws:SourceIp,ContextKeyValues=10.0.0.1,10.0.0.2,ContextKeyType=ip` (a list
    also as `ContextKeyValues=[a,b]`; a value may be quoted to hold a comma: `"a,b"`)."""
    if text.lstrip().startswith("{"):
        try:
            value: Json = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(field, f"not JSON: {error.msg}") from None
        return value
    parsed: dict[str, list[str]] = {}
    current: str | None = None
    for token in _shorthand_tokens(text, field):
        name, equals, rest = token.partition("=")
        if equals and name.strip() in _SHORTHAND_KEYS:
            current = name.strip()
            if current in parsed:
                raise InputError(field, f"{current} given twice")
            parsed[current] = []
            token = rest
        elif current is None:
            raise InputError(
                field,
                "expected ContextKeyName=…,ContextKeyValues=…,ContextKeyType=… or JSON, "
                f"got {text!r}",
            )
        parsed[current].extend(_list_items(token))
    name_values, type_values = parsed.get("ContextKeyName"), parsed.get("ContextKeyType")
    if not name_values or len(name_values) != 1:
        raise InputError(field, "needs one ContextKeyName=…")
    if "ContextKeyValues" not in parsed:
        raise InputError(field, "needs ContextKeyValues=…")
    document: Json = {
        "ContextKeyName": name_values[0],
        "ContextKeyValues": parsed["ContextKeyValues"],
    }
    if type_values:
        if len(type_values) != 1:
            raise InputError(field, "needs one ContextKeyType=…")
        document["ContextKeyType"] = type_values[0]
    return document


def _shorthand_tokens(text: str, field: str) -> list[str]:
    """`text` split at the commas outside quotes and brackets (quotes removed)."""
    tokens: list[str] = []
    current: list[str] = []
    quote: str | None = None
    depth = 0
    for char in text:
        if quote:
            if char == quote:
                quote = None
            else:
                current.append(char)
        elif char in "\"'":
            quote = char
        elif char == "," and depth == 0:
            tokens.append("".join(current))
            current = []
        else:
            depth += {"[": 1, "]": -1}.get(char, 0)
            current.append(char)
    if quote or depth:
        raise InputError(field, f"unbalanced quote or bracket in {text!r}")
    tokens.append("".join(current))
    return tokens


def _list_items(token: str) -> list[str]:
    token = token.strip()
    if token.startswith("[") and token.endswith("]"):
        return [item.strip() for item in token[1:-1].split(",") if item.strip()]
    return [token]


def _live_snapshot(request: AccessRequest) -> Json:
    from .live import live_source_from_env  # boto3 only when live

    return live_source_from_env().snapshot_for(request)


def _read_json(path: Path, field: str) -> Any:
    """The JSON document of a file, gunzipped first when it is gzip (a CloudTrail log file as
    S3 stores it)."""
    try:
        text = file_text(path)
    except (OSError, EOFError, UnicodeDecodeError) as error:
        if isinstance(error, OSError) and error.strerror:  # the file system's, not gzip's
            raise InputError(field, f"cannot read {path}: {error.strerror}") from None
        raise InputError(field, f"{path} is not UTF-8 JSON (or gzip of it): {error}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(field, f"{path} is not JSON: {error.msg} at line {error.lineno}") from None


# --------------------------------------------------------------------------- batch


class _Snapshots:
    """Each snapshot of the batch is read, validated and compiled once: a file by its path, an
    inline snapshot object (DESIGN 3.4) by its content (the last `INLINE` kept)."""

    INLINE: Final = 16

    def __init__(self, default: Path | None) -> None:
        self.default = default
        self._cache: dict[Path, Snapshot] = {}
        self._inline: dict[str, Snapshot] = {}
        self._default_snapshot: Snapshot | None = None

    def get(self, name: Any, base: Path) -> Snapshot:
        if name is None and self._default_snapshot is not None:  # most lines: --snapshot's, read
            return self._default_snapshot
        if isinstance(name, Mapping):
            return self._inline_snapshot(name)
        if name is not None and not isinstance(name, str):
            raise InputError("snapshot", "expected a path or a snapshot object")
        path = (base / name) if name else self.default
        if path is None:
            raise InputError("snapshot", "no snapshot on the line and no --snapshot given")
        if path not in self._cache:
            self._cache[path] = load_snapshot(_read_json(path, f"snapshot {path}"))
        if not name:
            self._default_snapshot = self._cache[path]
        return self._cache[path]

    def _inline_snapshot(self, document: Mapping[str, Any]) -> Snapshot:
        key = json.dumps(document, sort_keys=True)
        found = self._inline.get(key)
        if found is None:
            if len(self._inline) >= self.INLINE:
                self._inline.clear()
            found = self._inline[key] = load_snapshot(dict(document))
        return found


def _lines(handle: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines as bytes: a line that is not UTF-8 fails alone, in `json.loads`."""
    for number, line in enumerate(handle, start=1):
        if line and not line.isspace():  # `line.strip()` without copying the line
            yield number, line


def _parse(line: bytes) -> Any:
    """`json.loads(line)`: a line that starts `{"` is UTF-8 to `json.detect_encoding` (no BOM,
    no NUL), so it is decoded as `json.loads` would decode it, without the detection, and
    scanned as `json.JSONDecoder.decode` scans a text (no leading whitespace: the scanner at
    0, then only JSON whitespace may follow), without its Python layers."""
    if line.startswith(b'{"'):
        text = line.decode("utf-8", "surrogatepass")
        try:
            found, end = _SCAN(text, 0)
        except StopIteration as error:
            raise json.JSONDecodeError("Expecting value", text, error.value) from None
        end = _SPACE(text, end).end()
        if end != len(text):
            raise json.JSONDecodeError("Extra data", text, end)
        return found
    return json.loads(line)


# `json.loads`'s decoder: the default one, its C scanner; the whitespace `decode` skips.
_SCAN: Final = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_SPACE: Final = json.decoder.WHITESPACE.match  # type: ignore[attr-defined]


# Answers are written this many at a time: one write per line costs a system call each when
# the output is unbuffered (PYTHONUNBUFFERED, common in containers).
CHUNK = 256


def _run_batch(args: argparse.Namespace, out: TextIO) -> int:
    jobs = _batch_jobs(args)
    try:
        handle = args.batch.open("rb")
    except OSError as error:
        raise InputError("--batch", f"cannot read {args.batch}: {error.strerror}") from None
    pending: list[str] = []
    bar: Any = None
    if args.detail != "decision":  # full findings take a while: progress on a terminal
        from .progress import lines_bar

        bar = lines_bar(handle, desc="diagnose", unit="request")
    with handle, bar if bar is not None else contextlib.nullcontext():
        if jobs > 1 and batch_workers.START_METHOD == "fork" and _regular(args.batch):
            chunk = DECISION_CHUNK if args.detail == "decision" else FULL_CHUNK
            blocks = answer_blocks(args.batch, args, jobs, _answers, _lines, chunk=chunk)
            with contextlib.closing(blocks):  # the workers stop with the batch
                for count, text in blocks:
                    _write_whole(out, text)
                    if bar is not None:
                        bar.advance(count)
            return 0
        try:
            if jobs == 1:
                answers = _answers(_lines(handle), args)
            else:
                answers = answers_in_parallel(_lines(handle), args, jobs, _answers)
            for answer in answers:
                if bar is not None:
                    bar.advance()
                pending.append(answer)
                if len(pending) == CHUNK:
                    text = "\n".join(pending) + "\n"
                    pending.clear()  # before: an interrupt at the write's end must not repeat it
                    _write_whole(out, text)
        finally:  # what was answered is written, even when interrupted
            if pending:
                _write_whole(out, "\n".join(pending) + "\n")
    return 0


def _write_whole(out: TextIO, text: str) -> None:
    """`out.write(text)`, Ctrl-C held until it returns: a batch stopped by it ends with whole
    lines (a signal in the middle of a write would leave half an answer)."""
    if _MASK is None:
        out.write(text)
        return
    _MASK(signal.SIG_BLOCK, _INTERRUPT)
    try:
        out.write(text)
    finally:
        _MASK(signal.SIG_UNBLOCK, _INTERRUPT)


_MASK: Final = getattr(signal, "pthread_sigmask", None)  # not on Windows
_INTERRUPT: Final = frozenset({signal.SIGINT})


AUTO_BATCH_BYTES: Final = 1 << 20
"""Size from which a file of full-finding lines is answered by workers unasked (about 800
lines of requests; on two CPUs 300 gain nothing, 500 a few percent, 2,000 two fifths of the
time)."""


def _batch_jobs(args: argparse.Namespace) -> int:
    """The workers of a batch: `--jobs`; without it, `unasked_jobs` (as many as the memory holds
    copies of `--snapshot`) for full findings from a regular file of `AUTO_BATCH_BYTES` or
    more, else one. A pipe stays in one process: a program that writes a line and waits for
    its answer gets it before the next line is read (workers read some lines ahead), and its
    size is not known."""
    if args.jobs is not None:
        return jobs_wanted(args.jobs)
    if args.detail == "decision":
        return 1  # little to gain: the batch may be identical lines, which workers slow down
    try:
        status = args.batch.stat()
    except OSError:
        return 1  # opening it says why
    if not stat.S_ISREG(status.st_mode) or status.st_size < AUTO_BATCH_BYTES:
        return 1
    return unasked_jobs(args.snapshot)


def _regular(path: Path) -> bool:
    """Whether `path` is a regular file (its workers can read it again; a pipe cannot be)."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def _answers(lines: Iterator[tuple[int, bytes]], args: argparse.Namespace) -> Iterator[str]:
    """One JSON answer per line, in order; a bad line gets an error answer, never a stop."""
    snapshots = _Snapshots(args.snapshot)
    base = args.batch.parent
    decision_only = args.detail == "decision"
    if not decision_only:
        from .. import pipeline
    dumps = CANONICAL.encode
    query = _batch_query(args)
    repeated = None
    if query is None:
        repeated = _Repeated()
    texts: dict[Verdicts, tuple[str, str]] = {}  # a decision's answer text, around the id
    frozen = False
    for number, line in lines:
        if (
            repeated is not None
            and repeated.looking
            and (text := repeated.answer(line)) is not None
        ):
            yield text
            continue
        ident: Any = number
        text = None
        try:
            item = _parse(line)
            if type(item) is not dict and not isinstance(item, Mapping):
                raise InputError(f"line {number}", "not a JSON object")
            ident = item.get("id", number)
            if decision_only and query is None:
                verdicts = _verdicts(item, number, snapshots, base)
                around = texts.get(verdicts)
                if around is None:
                    around = texts[verdicts] = around_id(_decision_dict(verdicts))
                if repeated is not None and repeated.looking:
                    repeated.keep(line, ident, around)
                text = f"{around[0]}{_id_text(ident)}{around[1]}"
            elif not decision_only and query is None:
                request = _batch_request(item, number)
                around = pipeline.answer_around_id(
                    request, snapshots.get(item.get("snapshot"), base)
                )
                if repeated is not None:
                    repeated.keep(line, ident, around)
                text = f"{around[0]}{_id_text(ident)}{around[1]}"
            else:
                if decision_only:
                    answer = _decision_dict(_verdicts(item, number, snapshots, base))
                else:
                    request = _batch_request(item, number)
                    snapshot = snapshots.get(item.get("snapshot"), base)
                    answer = pipeline.diagnose(request, snapshot).to_dict()
                if repeated is not None:
                    repeated.keep(line, ident, answer)
                answer = {**answer, "id": ident}
        except InputError as error:
            answer = {"id": ident, "error": str(error)}
        except json.JSONDecodeError as error:
            answer = {"id": ident, "error": f"line {number}: not JSON: {error.msg}"}
        except UnicodeDecodeError as error:
            answer = {"id": ident, "error": f"line {number}: not UTF-8 (byte {error.start + 1})"}
        except Exception as error:  # one bad line never stops the batch
            answer = {"id": ident, "error": f"{type(error).__name__}: {error}"}
        if text is None:  # an error answer is written whole: --query would make it null
            text = dumps(answer if query is None or "error" in answer else query.search(answer))
        yield text
        if not frozen:  # what the first line loaded (modules, snapshot, compiled policies)
            gc.freeze()  # lives to the end: the collector stops walking it at every pass
            frozen = True


def _id_text(ident: Any) -> str:
    """`ident` as `json.dumps(..., sort_keys=True)` writes it."""
    return str(ident) if type(ident) is int else json.dumps(ident, sort_keys=True)


# `{"id": INTEGER,` at the start of a line (JSON whitespace only).
_HEAD: Final = re.compile(
    rb'[ \t\r\n]*\{[ \t\r\n]*"id"[ \t\r\n]*:[ \t\r\n]*(-?(?:0|[1-9][0-9]*))[ \t\r\n]*,'
)


class _Repeated:
    """The answers of lines seen before in the batch, but for their integer id.

    A line `{"id": N, REST` whose REST (bytes) came before has the answer of that line with
    id N: a line parses to its REST's object plus its id, and the answer is a function of that
    object (the snapshot files of a batch are read once). Only REST without a backslash (no
    escape can spell a second "id" key) nor the text "id" is kept, and only answers without an
    error (whose text may name the line number). A batch whose first `probe` lines never repeat
    one another (a replay: each line its own key and time) stops looking, and lets go of what
    it kept: for decisions, which cost little more than the looking, and for full findings,
    whose 5.6 KB a line kept (the line and its answer) cost a replay of 2,000 lines 3-5 % of
    its time (issue 15).
    """

    LIMIT: Final = 4096  # lines kept; then afresh
    PROBE: Final = 512

    def __init__(self, probe: int = PROBE) -> None:
        # REST -> the answer without its id, or its text around the id (once reused)
        self._kept: dict[bytes, Json | tuple[str, str]] = {}
        self._reused = False
        self._probe = min(probe, self.LIMIT)
        self.looking = True

    def answer(self, line: bytes) -> str | None:
        """The answer text of `line` when its REST came before."""
        if not self.looking:
            return None
        head = _HEAD.match(line)
        if head is None:
            return None
        rest = line[head.end() :]
        found = self._kept.get(rest)
        if found is None:
            return None
        self._reused = True
        if not isinstance(found, tuple):
            found = self._kept[rest] = around_id(found)
        return f"{found[0]}{int(head[1])}{found[1]}"

    def keep(self, line: bytes, ident: Any, answer: Json | tuple[str, str]) -> None:
        """Remember `answer` (without its id, or its text around the id) for the REST of
        `line`, when it may be reused."""
        if not self.looking:
            return
        head = _HEAD.match(line)
        if head is None or type(ident) is not int or ident != int(head[1]):
            return
        rest = line[head.end() :]
        if b"\\" in rest or b'"id"' in rest:
            return
        if not isinstance(answer, tuple) and not all(type(k) is str for k in answer):
            return
        if len(self._kept) >= (self.LIMIT if self._reused else self._probe):
            self._kept.clear()
            self.looking = self._reused
        self._kept[rest] = answer


def _batch_query(args: argparse.Namespace) -> Any:
    """`--query` applies to each answer of a batch (each line stays one JSON value), searched
    by one jmespath interpreter for every line (`events.fields.Field`)."""
    if getattr(args, "query", None) is None:
        return None
    from jmespath.exceptions import JMESPathError

    from ..events.fields import Field

    try:
        return Field(args.query)
    except JMESPathError as error:
        raise InputError("--query", query_error(error)) from None


def _verdicts(item: Mapping[str, Any], number: int, snapshots: _Snapshots, base: Path) -> Verdicts:
    """The verdict of a batch line; a runbook request is looked up in the verdict cache before
    it is built (`decide_runbook`). A bad request is reported before a bad snapshot."""
    if "request" in item and "event" not in item:
        data = item["request"]
        try:
            snapshot = snapshots.get(item.get("snapshot"), base)
        except Exception:
            request_from_runbook(data)  # its own error first
            raise
        return decide_runbook(data, snapshot)
    request = _batch_request(item, number)
    return decide(request, snapshots.get(item.get("snapshot"), base))


def _batch_request(item: Mapping[str, Any], number: int) -> AccessRequest:
    if "event" in item and "request" in item:
        raise InputError(f"line {number}", 'has both "request" and "event": give one')
    if "event" in item:
        from ..events import parse_event

        return parse_event(item["event"])
    if "request" in item:
        return request_from_runbook(item["request"])
    raise InputError(f"line {number}", 'needs "request" or "event"')


def _decision_dict(verdicts: Verdicts) -> Json:
    return {
        "decision": verdicts.decision.value,
        "blocked_by": [layer.value for layer in verdicts.blocked_by],
    }
