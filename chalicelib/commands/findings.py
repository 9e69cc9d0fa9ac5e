"""`s3doctor findings list|get`: read stored findings with the user's own credentials.

The table is the one the deployed stack writes to: `--table NAME`, or `--stack NAME` (its
CloudFormation output `FindingsTableName`, read with `cloudformation:DescribeStacks`), or
`$FINDINGS_TABLE_NAME`. People get a table; `--output json` (or yaml) gives one document for
scripts, which `--query` filters with JMESPath. `findings list` reads page after page, as the AWS
CLI does: `--max-items N` stops after N findings and gives a `next_token` to pass back as
`--starting-token`.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from ..diagnose.render import render_text
from ..diagnose.untrusted import message, text
from ..model import Finding, InputError, Json, Verdict
from ..publish.ports import MAX_PAGE_SIZE, FindingQuery, FindingStore
from .options import HelpFormatter, add_query_option, output_format, structured, use_color
from .timespec import parse_since

StoreFactory = Callable[[], FindingStore]

_OPTIONS = {  # the store's names of bad filters, as the options that set them
    "bucket": "--bucket",
    "principal": "--principal",
    "account": "--account",
    "since": "--since",
    "limit": "--page-size",
    "next_token": "--starting-token",
}
_COLUMNS = (("LAST SEEN", 20), ("DECISION", 13), ("BLOCKED BY", 20), ("PRINCIPAL", 30))
TABLE_OUTPUT = "FindingsTableName"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `findings list` and `findings get` to the `s3doctor` parser."""
    parser = subparsers.add_parser(
        "findings",
        help="list or show stored findings",
        description=__doc__,
        formatter_class=HelpFormatter,
    )
    commands = parser.add_subparsers(dest="findings_command", required=True, metavar="COMMAND")

    listing = commands.add_parser(
        "list",
        help="findings, newest first",
        description="Stored findings, newest first, all pages unless --max-items is given.",
        epilog="Examples:\n"
        "  s3doctor findings list --since 24h --bucket my-bucket\n"
        "  s3doctor findings list --stack s3-403-doctor-prod --max-items 50 --output json\n"
        "  s3doctor findings list --output json --query 'findings[].finding_id'",
        formatter_class=HelpFormatter,
    )
    _table_options(listing)
    listing.add_argument("--bucket", help="only findings about this bucket, e.g. my-bucket")
    listing.add_argument(
        "--principal",
        help="only findings about this principal ARN, e.g. arn:aws:iam::111122223333:user/alice",
    )
    listing.add_argument(
        "--account", help="only findings in this account (12 digits), e.g. 111122223333"
    )
    listing.add_argument(
        "--decision", choices=[v.value for v in Verdict], help="only findings with this decision"
    )
    listing.add_argument(
        "--since", help="first seen at or after: 24h, 7d or an ISO time, e.g. 2025-03-01T00:00Z"
    )
    listing.add_argument(
        "--max-items",
        "--limit",
        dest="max_items",
        type=int,
        metavar="N",
        help="stop after N findings and give the next_token to go on from (default: all; "
        "--limit is an alias)",
    )
    listing.add_argument(
        "--starting-token",
        "--next-token",
        dest="starting_token",
        metavar="TOKEN",
        help="go on from the next_token of an earlier listing with the same filters "
        "(--next-token is an alias)",
    )
    listing.add_argument(
        "--page-size",
        type=int,
        default=MAX_PAGE_SIZE,
        metavar="N",
        help=f"findings read per call (1-{MAX_PAGE_SIZE}, default {MAX_PAGE_SIZE}); all pages "
        "are read unless --max-items is given",
    )
    listing.add_argument(
        "--output",
        choices=("table", "text", "json", "yaml"),
        help="table (default; text is the same) for people, json or yaml for scripts",
    )
    add_query_option(listing)
    listing.set_defaults(func=lambda args: list_findings(args, _store_for(args)))

    getting = commands.add_parser(
        "get",
        help="one finding in full",
        epilog="Example:\n  s3doctor findings get 6f1c0e2a9b --output json --query causes",
        formatter_class=HelpFormatter,
    )
    getting.add_argument("finding_id", metavar="ID", help="the finding's id, as listed")
    _table_options(getting)
    getting.add_argument(
        "--output",
        choices=("text", "json", "yaml"),
        help="text (default) for people, json or yaml for scripts",
    )
    add_query_option(getting)
    getting.set_defaults(func=lambda args: get_finding(args, _store_for(args)))

    from .report import register_report  # `findings report` (issue 13.6)

    register_report(commands, table_options=_table_options, store_for=_store_for)


def _table_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--table",
        metavar="NAME",
        help="the findings DynamoDB table (default: $FINDINGS_TABLE_NAME), e.g. "
        "s3-403-doctor-prod-Findings-1ABC",
    )
    where.add_argument(
        "--stack",
        metavar="NAME",
        help=f"the deployed CloudFormation stack: its {TABLE_OUTPUT} output names the table, "
        "e.g. s3-403-doctor-prod",
    )


def _store_for(args: argparse.Namespace) -> StoreFactory:
    return lambda: default_store(args)


def table_name(args: argparse.Namespace, cloudformation: Callable[[], Any]) -> str:
    """The table named by --table, --stack (its FindingsTableName output) or the environment."""
    if getattr(args, "table", None):
        return str(args.table)
    stack = getattr(args, "stack", None)
    if stack:
        stacks = cloudformation().describe_stacks(StackName=stack)["Stacks"]
        for output in stacks[0].get("Outputs", ()) if stacks else ():
            if output.get("OutputKey") == TABLE_OUTPUT:
                return str(output["OutputValue"])
        raise InputError("--stack", f"stack {stack!r} has no {TABLE_OUTPUT} output")
    name = os.environ.get("FINDINGS_TABLE_NAME", "").strip()
    if not name:
        raise InputError(
            "--table", "name the findings table: --table NAME, --stack STACK or FINDINGS_TABLE_NAME"
        )
    return name


def default_store(args: argparse.Namespace) -> FindingStore:
    """The findings table through boto3 (the global --profile/--region/--endpoint-url are in the
    environment by then)."""
    import boto3

    from ..publish.store import DynamoFindingStore

    session = boto3.Session()
    name = table_name(args, lambda: session.client("cloudformation"))
    return DynamoFindingStore(name, session.client("dynamodb"))


def _aws_errors() -> tuple[type[BaseException], ...]:
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ModuleNotFoundError:
        return ()
    return (BotoCoreError, ClientError)


def list_findings(
    args: argparse.Namespace,
    store_factory: StoreFactory,
    *,
    out: TextIO | None = None,
    now: datetime | None = None,
) -> int:
    """Print the findings (every page, or `--max-items`); exit 2 when a filter is invalid."""
    out = out or sys.stdout
    try:
        output = output_format(args, default="table")
        max_items = _positive(getattr(args, "max_items", None), "--max-items")
        page_size = _positive(getattr(args, "page_size", MAX_PAGE_SIZE), "--page-size")
        if page_size is None or page_size > MAX_PAGE_SIZE:
            raise InputError("--page-size", f"must be between 1 and {MAX_PAGE_SIZE}")
        when = now or datetime.now(UTC)
        since = parse_since(args.since, now=when) if args.since is not None else None
        store = store_factory()
        findings: list[Finding] = []
        token: str | None = getattr(args, "starting_token", None)
        while True:
            wanted = page_size if max_items is None else min(page_size, max_items - len(findings))
            page = store.list(
                FindingQuery(
                    bucket=args.bucket,
                    principal_arn=args.principal,
                    account=getattr(args, "account", None),
                    decision=args.decision,
                    since=since,
                    limit=wanted,
                    next_token=token,
                )
            )
            findings.extend(page.findings)
            token = page.next_token
            if token is None or (max_items is not None and len(findings) >= max_items):
                break
        if output in ("json", "yaml"):
            document: Json = {"findings": [f.to_dict() for f in findings], "next_token": token}
            out.write(structured(document, args, output))
            return 0
    except InputError as error:
        option = _OPTIONS.get(error.field_path, error.field_path)
        return _fail(str(InputError(option, error.message)), 2)
    except _aws_errors() as error:
        return _fail(f"could not read the findings table: {error}", 1)
    out.write(render_table(findings))
    if token:
        quoted = shlex.quote(text(token, len(token)))
        out.write(f"\nMore: s3doctor findings list ... --starting-token {quoted}\n")
    return 0


def get_finding(
    args: argparse.Namespace, store_factory: StoreFactory, *, out: TextIO | None = None
) -> int:
    """Print one finding; exit 1 when the id is unknown."""
    out = out or sys.stdout
    try:
        output = output_format(args, default="text")
        finding = store_factory().get(args.finding_id)
        if finding is None:
            return _fail(f"no finding with id {args.finding_id!r}", 1)
        if output in ("json", "yaml"):
            out.write(structured(finding.to_dict(), args, output))
            return 0
    except InputError as error:
        return _fail(str(error), 2)
    except _aws_errors() as error:
        return _fail(f"could not read the findings table: {error}", 1)
    out.write(render_text(finding, color=use_color(args, out)))
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


def _positive(value: int | None, flag: str) -> int | None:
    if value is not None and value < 1:
        raise InputError(flag, f"must be 1 or more, got {value}")
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
