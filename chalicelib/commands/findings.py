"""`s3doctor findings list|get`: read stored findings with the user's own credentials.

The table is the one the deployed stack writes to, named by `FINDINGS_TABLE_NAME` (the stack
output `FindingsTableName`).
People get a table; `--output json` gives one JSON document for scripts.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.commands.timespec import parse_since
from chalicelib.diagnose.render import render_text
from chalicelib.diagnose.untrusted import message, text
from chalicelib.model import Finding, InputError, Json, Verdict
from chalicelib.publish.ports import MAX_PAGE_SIZE, FindingQuery, FindingStore

StoreFactory = Callable[[], FindingStore]

_COLUMNS = (("LAST SEEN", 20), ("DECISION", 13), ("BLOCKED BY", 20), ("PRINCIPAL", 30))


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `findings list` and `findings get` to the `s3doctor` parser."""
    parser = subparsers.add_parser(
        "findings", help="list or show stored findings", description=__doc__
    )
    commands = parser.add_subparsers(dest="findings_command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", help="findings, newest first")
    listing.add_argument("--bucket", help="only findings about this bucket")
    listing.add_argument("--principal", help="only findings about this principal ARN")
    listing.add_argument(
        "--decision", choices=[v.value for v in Verdict], help="only findings with this decision"
    )
    listing.add_argument("--since", help="first seen at or after: 24h, 7d or an ISO time")
    listing.add_argument(
        "--limit", type=int, default=20, help=f"how many (1-{MAX_PAGE_SIZE}, default 20)"
    )
    listing.add_argument("--next-token", help="continue a previous listing")
    listing.add_argument("--output", choices=("table", "json"), default="table")
    listing.set_defaults(func=lambda args: list_findings(args, _default_store))

    getting = commands.add_parser("get", help="one finding in full")
    getting.add_argument("finding_id", metavar="ID")
    getting.add_argument("--output", choices=("text", "json"), default="text")
    getting.set_defaults(func=lambda args: get_finding(args, _default_store))


def _default_store() -> FindingStore:
    from chalicelib import wiring

    return wiring.finding_store()


def list_findings(
    args: argparse.Namespace,
    store_factory: StoreFactory,
    *,
    out: TextIO | None = None,
    now: datetime | None = None,
) -> int:
    """Print one page of findings; exit 2 when a filter is invalid."""
    out = out or sys.stdout
    try:
        query = FindingQuery(
            bucket=args.bucket,
            principal_arn=args.principal,
            decision=args.decision,
            since=parse_since(args.since, now=now or datetime.now(UTC)) if args.since else None,
            limit=_limit(args.limit),
            next_token=args.next_token,
        )
        page = store_factory().list(query)
    except InputError as error:
        return _fail(str(error), 2)
    except (BotoCoreError, ClientError) as error:
        return _fail(f"could not read the findings table: {error}", 1)
    if args.output == "json":
        document: Json = {
            "findings": [f.to_dict() for f in page.findings],
            "next_token": page.next_token,
        }
        out.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
        return 0
    out.write(render_table(page.findings))
    if page.next_token:
        token = shlex.quote(text(page.next_token, len(page.next_token)))
        out.write(f"\nMore: s3doctor findings list ... --next-token {token}\n")
    return 0


def get_finding(
    args: argparse.Namespace, store_factory: StoreFactory, *, out: TextIO | None = None
) -> int:
    """Print one finding; exit 1 when the id is unknown."""
    out = out or sys.stdout
    try:
        finding = store_factory().get(args.finding_id)
    except InputError as error:
        return _fail(str(error), 2)
    except (BotoCoreError, ClientError) as error:
        return _fail(f"could not read the findings table: {error}", 1)
    if finding is None:
        return _fail(f"no finding with id {args.finding_id!r}", 1)
    if args.output == "json":
        out.write(json.dumps(finding.to_dict(), indent=2, sort_keys=True) + "\n")
    else:
        out.write(render_text(finding, color=out.isatty()))
    return 0


def render_table(findings: Sequence[Finding]) -> str:
    """Findings as an aligned table, one line each, readable at 100 columns and more.

    Cells come from events and policies: they are neutralised (`untrusted.text`)."""
    if not findings:
        return "No findings.\n"
    header = "  ".join(name.ljust(width) for name, width in _COLUMNS)
    lines = [f"{header}  CAUSE / RESOURCE"]
    for finding in findings:
        cells = (
            (finding.last_seen or finding.first_seen or "")[:19].replace("T", " "),
            finding.decision.value,
            ",".join(layer.value for layer in finding.blocked_by) or "-",
            _principal_name(finding.request.principal.principal_arn),
        )
        row = "  ".join(
            _cell(value, width) for value, (_, width) in zip(cells, _COLUMNS, strict=True)
        )
        cause = text(finding.causes[0].code) if finding.causes else "-"
        lines.append(f"{row}  {cause} x{finding.occurrences}")
        request = finding.request
        ident, action, resource = (
            text(v) for v in (finding.finding_id, request.action, request.resource_arn)
        )
        lines.append(f"    {ident}  {action} {resource}")
    return "\n".join(lines) + "\n"


def _limit(value: int) -> int:
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise InputError("--limit", f"must be between 1 and {MAX_PAGE_SIZE}, got {value}")
    return value


def _principal_name(arn: str) -> str:
    """`user/alice`, `role/app` or `root`: the part of the ARN a person recognises."""
    return arn.split(":", 5)[-1] if arn.startswith("arn:") else arn or "-"


def _cell(value: str, width: int) -> str:
    value = text(value)
    return value.ljust(width) if len(value) <= width else value[: width - 1] + "…"


def _fail(reason: str, status: int) -> int:
    sys.stderr.write(f"s3doctor findings: {message(reason)}\n")
    return status
