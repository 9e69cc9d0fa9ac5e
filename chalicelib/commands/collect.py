"""`s3doctor collect`: a snapshot of the live account (DESIGN 3.2) for offline diagnosis.

Reads the principals, buckets and objects named on the command line with the default boto3
credentials; what cannot be read is written as `{"$unreadable": code, "needs": action}`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.arn import parse_arn
from chalicelib.collect.base import CollectError
from chalicelib.collect.iam import iam_identity
from chalicelib.collect.source import CollectionScope, ObjectRef
from chalicelib.model import InputError, Json

_BUCKET_NAME = re.compile(r"^[A-Za-z0-9._-]{3,255}$")


class Collector(Protocol):
    def collect(self, scope: CollectionScope) -> Json: ...


CollectorFactory = Callable[[str | None], Collector]
"""Builds the live collector for a region (None: the default region)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `collect` to the `s3doctor` parser."""
    parser = subparsers.add_parser(
        "collect", help="snapshot the live account for offline diagnosis", description=__doc__
    )
    parser.add_argument("--bucket", action="append", required=True, help="bucket (repeatable)")
    parser.add_argument("--key", action="append", default=[], help="object key (repeatable)")
    parser.add_argument("--version-id", help="object version of the --key")
    parser.add_argument(
        "--principal", action="append", default=[], help="IAM user/role/session ARN (repeatable)"
    )
    parser.add_argument("--kms-key-arn", action="append", default=[], help="KMS key to read")
    parser.add_argument("--vpc-endpoint-id", action="append", default=[], help="vpce-… to read")
    parser.add_argument("--access-point-arn", action="append", default=[], help="access point")
    parser.add_argument("--region", help="AWS region (default: the configured one)")
    parser.add_argument("--out", required=True, help="snapshot file to write ('-': stdout)")
    parser.set_defaults(func=lambda args: run_collect(args, _default_collector))


def _default_collector(region: str | None) -> Collector:
    from chalicelib.commands.live import live_source_from_env

    return live_source_from_env(region)


def scope_from_args(args: argparse.Namespace) -> CollectionScope:
    """The collection scope the arguments name; `InputError` naming the bad option."""
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
    for key_arn in args.kms_key_arn:
        arn = parse_arn(key_arn)
        if arn is None or arn.service != "kms":
            raise InputError("--kms-key-arn", f"not a KMS key ARN: {key_arn!r}")
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
    try:
        scope = scope_from_args(args)
        from chalicelib.commands.progress import waiting

        with waiting("collect", stream=err):  # elapsed time on a terminal, nothing on a pipe
            document = collector_factory(args.region).collect(scope)
        text = json.dumps(document, indent=2, sort_keys=True) + "\n"
        if args.out == "-":
            (out or sys.stdout).write(text)
        else:
            _write(Path(args.out), text)
    except InputError as error:
        print(f"s3doctor collect: {error}", file=err)
        return 2
    except (CollectError, ClientError, BotoCoreError) as error:
        print(f"s3doctor collect: error: {error}", file=err)
        return 1
    return 0


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise InputError("--out", f"cannot write {path}: {error.strerror or error}") from error
