"""`s3doctor findings report`: the findings as one self-contained HTML page.

    s3doctor findings report --since 7d --html report.html [--bucket B] [--principal ARN]
    s3doctor findings report --from findings.jsonl --html report.html [--detail references]

Findings come from the findings table (as `findings list` reads it) or, with `--from`, from a
file: JSON lines of findings (`diagnose --batch` output; its error lines are skipped), or JSON
(one finding, a list of them, or `{"findings": [...]}` as `findings list`/`replay --output json`
write). The page needs no network to be viewed: charts of denials
over time and by cause, layer, bucket and principal, and a table that filters as you type
(`report.html#q=alice` opens it filtered) and opens each finding (cause, layers, near misses,
fix). `--detail references` leaves out policy documents, condition values, patches and commands,
for a page to hand to people who should not read your policies. `replay --html` writes the same
page for the findings it produced.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from ..diagnose.detail import Detail
from ..diagnose.untrusted import message
from ..model import DiagnoserError, Finding, InputError
from ..publish.ports import MAX_PAGE_SIZE, FindingQuery, FindingStore
from ..report.html import html_lines
from .options import HelpFormatter
from .timespec import parse_since

StoreFactory = Callable[[], FindingStore]
MAX_FINDINGS = 10_000
"""Most findings read from the table into one page."""


def register_report(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    *,
    table_options: Callable[[argparse.ArgumentParser], None] | None = None,
    store_for: Callable[[argparse.Namespace], StoreFactory] | None = None,
) -> None:
    """Add `report` under `findings` (its `--table`/`--stack` options and store come from it)."""
    parser = commands.add_parser(
        "report",
        help="the findings as one self-contained HTML page (charts, filterable table)",
        description=__doc__,
        epilog="Examples:\n"
        "  s3doctor findings report --since 7d --html report.html\n"
        "  s3doctor diagnose --snapshot S.json --batch requests.jsonl > findings.jsonl\n"
        "  s3doctor findings report --from findings.jsonl --html report.html",
        formatter_class=HelpFormatter,
    )
    if table_options is not None:
        table_options(parser)
    parser.add_argument(
        "--html", type=Path, required=True, metavar="FILE", help="page to write, e.g. report.html"
    )
    parser.add_argument(
        "--from",
        dest="from_file",
        type=Path,
        metavar="FILE",
        help="read findings from this JSON or JSON-lines file instead of the table, "
        "e.g. findings.jsonl",
    )
    parser.add_argument(
        "--since", help="first seen at or after: 24h, 7d or an ISO time (default: 7d), e.g. 7d"
    )
    parser.add_argument("--bucket", help="only findings about this bucket, e.g. my-bucket")
    parser.add_argument(
        "--principal",
        help="only findings about this principal ARN, e.g. arn:aws:iam::111122223333:user/alice",
    )
    parser.add_argument(
        "--detail",
        choices=[d.value for d in Detail],
        default=Detail.FULL.value,
        help="full (default: your own credentials read the policies) or references (no policy "
        "text, condition values, patches or commands), e.g. --detail references",
    )
    parser.add_argument(
        "--title", default="s3doctor findings", help='the page title, e.g. "Prod, last week"'
    )
    parser.set_defaults(
        func=lambda args: run(args, (store_for or _default_store_for)(args)),
    )


def _default_store_for(args: argparse.Namespace) -> StoreFactory:
    def factory() -> FindingStore:
        from .. import wiring

        return wiring.finding_store()

    return factory


def run(
    args: argparse.Namespace,
    store_factory: StoreFactory,
    *,
    err: TextIO | None = None,
    now: datetime | None = None,
) -> int:
    """Write the page: 0 written, 2 bad input, 1 the table could not be read."""
    err = err or sys.stderr
    try:
        if args.from_file is not None:
            if args.since or args.bucket or args.principal:
                raise InputError(
                    "--from", "the file is used whole: no --since/--bucket/--principal"
                )
            findings, skipped = load_findings(args.from_file)
            source = str(args.from_file)
        else:
            since = parse_since(args.since or "7d", now=now or datetime.now(UTC), field="--since")
            findings = list(_from_table(store_factory(), args, since))
            skipped = 0
            source = f"the findings table, since {since.isoformat()}"
        write_report(
            findings, args.html, detail=Detail(args.detail), title=args.title, source=source
        )
    except InputError as error:
        err.write(f"s3doctor findings report: {message(error)}\n")
        return 2
    except DiagnoserError as error:
        err.write(f"s3doctor findings report: {message(error)}\n")
        return 1
    except Exception as error:  # botocore's errors, without importing botocore here
        if type(error).__module__.startswith("botocore"):
            err.write(f"s3doctor findings report: could not read the findings table: {error}\n")
            return 1
        raise
    note = f" ({skipped} error lines skipped)" if skipped else ""
    err.write(f"s3doctor findings report: {len(findings)} findings written to {args.html}{note}\n")
    return 0


def write_report(
    findings: Sequence[Finding],
    path: Path,
    *,
    detail: Detail = Detail.FULL,
    title: str = "s3doctor findings",
    source: str = "",
) -> None:
    """Render and write the page, a line at a time (`html_lines`); `InputError` naming `--html`
    when it cannot be written."""
    try:
        with path.open("w", encoding="utf-8") as page:
            page.writelines(html_lines(findings, detail=detail, title=title, source=source))
    except OSError as error:
        raise InputError("--html", f"cannot write {path}: {error.strerror or error}") from None


def _from_table(
    store: FindingStore, args: argparse.Namespace, since: datetime
) -> Iterator[Finding]:
    token: str | None = None
    read = 0
    while True:
        page = store.list(
            FindingQuery(
                bucket=args.bucket,
                principal_arn=args.principal,
                since=since,
                limit=MAX_PAGE_SIZE,
                next_token=token,
            )
        )
        for finding in page.findings:
            yield finding
            read += 1
            if read >= MAX_FINDINGS:
                return
        token = page.next_token
        if not token:
            return


def load_findings(path: Path) -> tuple[list[Finding], int]:
    """Findings from a JSON or JSON-lines file, and how many error answers were skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError("--from", f"cannot read {path}: {error}") from None
    items: list[tuple[str, Any]]
    try:
        document = json.loads(text)
    except ValueError:
        items = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append((f"line {number}", json.loads(line)))
            except ValueError as error:
                raise InputError("--from", f"{path} line {number}: not JSON: {error}") from None
    else:
        if isinstance(document, dict) and isinstance(document.get("findings"), list):
            document = document["findings"]
        listed = document if isinstance(document, list) else [document]
        items = [(f"item {n}", item) for n, item in enumerate(listed)]
    findings: list[Finding] = []
    skipped = 0
    for where, item in items:
        if isinstance(item, dict) and "error" in item and "finding_id" not in item:
            skipped += 1  # a batch line that could not be diagnosed
            continue
        if not isinstance(item, dict):
            raise InputError("--from", f"{path} {where}: not a finding (a JSON object)")
        try:
            findings.append(Finding.from_dict(item))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise InputError("--from", f"{path} {where}: not a finding: {error!r}") from None
    return findings, skipped
