"""`s3doctor collect`: a snapshot of the live account for offline diagnosis.

Reads the principals, buckets and objects named on the command line with your AWS credentials
(--profile, --region, --endpoint-url, as in the AWS CLI); what cannot be read is written as
`{"$unreadable": code, "needs": action}`. A VPC endpoint, access point or KMS key named here that
does not exist is an error (exit 2), never recorded as "absent".
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO, runtime_checkable

from ..arn import parse_arn
from ..model import DiagnoserError, InputError, Json
from .options import HelpFormatter

if TYPE_CHECKING:  # chalicelib.collect imports botocore: only when collecting
    from ..collect.source import CollectionScope

_BUCKET_NAME = re.compile(r"^[A-Za-z0-9._-]{3,255}$")
_KMS_KEY = re.compile(
    r"^(alias/[A-Za-z0-9/_-]+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$"
)


class Collector(Protocol):
    def collect(self, scope: CollectionScope) -> Json: ...


@runtime_checkable
class ReportsProgress(Protocol):
    """A collector that says how far it is (`Boto3SnapshotSource`): `(done, total)` per read."""

    on_progress: Callable[[int, int], None] | None


CollectorFactory = Callable[[str | None], Collector]
"""Builds the live collector for a region (None: the default region)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `collect` to the `s3doctor` parser."""
    parser = subparsers.add_parser(
        "collect",
        help="snapshot the live account for offline diagnosis",
        description=__doc__,
        epilog="Examples:\n"
        "  s3doctor collect --bucket my-bucket --key data/report.csv \\\n"
        "      --principal arn:aws:iam::111122223333:user/alice --out S.json\n"
        "  s3doctor --profile audit collect --bucket my-bucket --kms-key-arn alias/data --out -\n"
        "  s3doctor collect --endpoint-url http://127.0.0.1:5000 --bucket b --out S.json",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--bucket", action="append", required=True, help="bucket (repeatable), e.g. my-bucket"
    )
    parser.add_argument(
        "--key",
        action="append",
        default=[],
        help="object key in the one --bucket (repeatable), e.g. data/report.csv",
    )
    parser.add_argument("--version-id", help="object version of the one --key, e.g. 3HL4kqtJ")
    parser.add_argument(
        "--principal",
        action="append",
        default=[],
        help="IAM user/role/session ARN (repeatable), e.g. arn:aws:iam::111122223333:role/app",
    )
    parser.add_argument(
        "--kms-key-arn",
        action="append",
        default=[],
        metavar="KEY",
        help="KMS key to read (repeatable): key ARN, key id, alias/NAME or alias ARN, e.g. "
        "alias/data (aliases are resolved with kms:DescribeKey)",
    )
    parser.add_argument(
        "--vpc-endpoint-id",
        action="append",
        default=[],
        help="VPC endpoint to read (repeatable), e.g. vpce-1a2b3c4d",
    )
    parser.add_argument(
        "--access-point-arn",
        action="append",
        default=[],
        help="access point to read (repeatable), e.g. "
        "arn:aws:s3:us-east-1:111122223333:accesspoint/my-ap",
    )
    parser.add_argument(
        "--out", required=True, help="snapshot file to write ('-': stdout), e.g. S.json"
    )
    parser.set_defaults(func=lambda args: run_collect(args, _default_collector))


def _default_collector(region: str | None) -> Collector:
    from .live import live_source_from_env

    return live_source_from_env(region)


def scope_from_args(args: argparse.Namespace) -> CollectionScope:
    """The collection scope the arguments name; `InputError` naming the bad option."""
    from ..collect.iam import iam_identity  # botocore: only when collecting
    from ..collect.source import CollectionScope, ObjectRef

    for bucket in args.bucket:
        if not _BUCKET_NAME.match(bucket):
            raise InputError("--bucket", f"not a bucket name: {bucket!r}")
    if args.key and len(args.bucket) != 1:
        raise InputError("--key", "keys need exactly one --bucket")
    if args.version_id and len(args.key) != 1:
        raise InputError("--version-id", "a version needs exactly one --key")
    for principal in args.principal:
        arn = parse_arn(principal)
        if iam_identity(principal) is None and not (arn and arn.resource == "root"):
            raise InputError("--principal", f"not an IAM user, role or session ARN: {principal!r}")
    for key in args.kms_key_arn:
        arn = parse_arn(key)
        if not (
            _KMS_KEY.match(key)
            or (arn is not None and arn.service == "kms" and arn.resource_type in ("key", "alias"))
        ):
            raise InputError("--kms-key-arn", f"not a KMS key ARN, key id or alias/NAME: {key!r}")
    for endpoint in args.vpc_endpoint_id:
        if not endpoint.startswith("vpce-"):
            raise InputError("--vpc-endpoint-id", f"not a VPC endpoint id: {endpoint!r}")
    for point in args.access_point_arn:
        arn = parse_arn(point)
        if arn is None or arn.resource_type != "accesspoint":
            raise InputError("--access-point-arn", f"not an access point ARN: {point!r}")
    bucket = args.bucket[0]
    return CollectionScope(
        principal_arns=tuple(args.principal),
        buckets=tuple(dict.fromkeys(args.bucket)),
        objects=tuple(
            ObjectRef(bucket=bucket, key=key, version_id=args.version_id) for key in args.key
        ),
        kms_key_ids=tuple(args.kms_key_arn),
        vpc_endpoint_ids=tuple(args.vpc_endpoint_id),
        access_point_arns=tuple(args.access_point_arn),
    )


def run_collect(
    args: argparse.Namespace,
    collector_factory: CollectorFactory,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Collect and write the snapshot: 0 written, 2 bad input, 1 anything else."""
    err = err or sys.stderr
    failures: tuple[type[BaseException], ...] = (DiagnoserError, *_aws_errors())
    try:
        scope = scope_from_args(args)
        document = _collect_with_progress(
            collector_factory(getattr(args, "region", None)), scope, err=err
        )
        _named_but_not_found(scope, document)
        for bucket in _buckets_not_found(scope, document):
            print(
                f"s3doctor collect: note: bucket {bucket} does not exist (NoSuchBucket): left "
                "out of the snapshot, which diagnoses a request on it as on a missing bucket",
                file=err,
            )
        text = json.dumps(document, indent=2, sort_keys=True) + "\n"
        if args.out == "-":
            (out or sys.stdout).write(text)
        else:
            _write(Path(args.out), text)
    except InputError as error:
        print(f"s3doctor collect: {error}", file=err)
        return 2
    except failures as error:
        print(f"s3doctor collect: error: {error}", file=err)
        return 1
    return 0


def _collect_with_progress(collector: Collector, scope: CollectionScope, *, err: TextIO) -> Json:
    """`collector.collect(scope)` with its progress on `err` when `err` is a terminal (nothing on
    a pipe): reads done of those known so far, rate and ETA; a collector without a progress
    hook shows the elapsed time."""
    from .progress import bar, on_terminal, waiting

    if not isinstance(collector, ReportsProgress) or not on_terminal(err):
        with waiting("collect", stream=err):
            return collector.collect(scope)
    with bar(None, desc="collect", unit="read", stream=err) as reads:
        collector.on_progress = reads.report
        try:
            return collector.collect(scope)
        finally:
            collector.on_progress = None


# The API's "does not exist" codes, as the collectors record them for a named part.
NOT_FOUND_CODES = frozenset(
    {"InvalidVpcEndpointId.NotFound", "NoSuchAccessPoint", "NotFoundException", "404"}
)


def _named_but_not_found(scope: CollectionScope, document: Json) -> None:
    """`InputError` naming the first VPC endpoint, access point or KMS key of the command line
    that does not exist (the snapshot would read a missing one as absent: "full access")."""
    tables: tuple[tuple[str, tuple[str, ...], Any], ...] = (
        ("--vpc-endpoint-id", scope.vpc_endpoint_ids, document.get("vpc_endpoints") or {}),
        (
            "--access-point-arn",
            scope.access_point_arns,
            (document.get("s3") or {}).get("access_points") or {},
        ),
        ("--kms-key-arn", scope.kms_key_ids, (document.get("kms") or {}).get("keys") or {}),
    )
    for flag, names, table in tables:
        for name in names:
            entry = table.get(name)
            code = entry.get("$unreadable") if isinstance(entry, dict) else None
            missing = entry is None and flag != "--kms-key-arn"  # keys are keyed by their ARN
            if missing or code in NOT_FOUND_CODES:
                raise InputError(flag, f"{name} does not exist ({code or 'not found'})")


def _buckets_not_found(scope: CollectionScope, document: Json) -> list[str]:
    """The buckets of the command line that the snapshot leaves out (S3 said NoSuchBucket)."""
    buckets = (document.get("s3") or {}).get("buckets") or {}
    return [name for name in dict.fromkeys(scope.buckets) if name not in buckets]


def _aws_errors() -> tuple[type[BaseException], ...]:
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ModuleNotFoundError:
        return ()
    return (BotoCoreError, ClientError)


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise InputError("--out", f"cannot write {path}: {error.strerror or error}") from error
