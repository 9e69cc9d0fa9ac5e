"""The live account as a snapshot source, with the default boto3 credentials and region.

The global `--profile`, `--region` and `--endpoint-url` reach it through the environment
(`AWS_PROFILE`, `AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL`, set by `s3doctor` for the
command). A local endpoint (moto, LocalStack) is adapted by `Boto3Clients` exactly as in the
Lambda (S3 Control's account host prefix, collect/clients.py). Reads `ORG_READ_ROLE_ARN` (role
to assume for SCPs/RCPs) and `COLLECT_CACHE_TTL_SECONDS`.
"""

from __future__ import annotations

import os

import boto3

from ..collect.clients import Boto3Clients
from ..collect.live import Boto3SnapshotSource
from ..model import InputError

DEFAULT_TTL_SECONDS = 60.0


def live_source_from_env(region: str | None = None) -> Boto3SnapshotSource:
    """A `Boto3SnapshotSource` on the default credential chain (`InputError` on a bad TTL)."""
    ttl_text = os.environ.get("COLLECT_CACHE_TTL_SECONDS", "").strip()
    try:
        ttl = float(ttl_text) if ttl_text else DEFAULT_TTL_SECONDS
    except ValueError as error:
        raise InputError(
            "COLLECT_CACHE_TTL_SECONDS", f"not a number of seconds: {ttl_text!r}"
        ) from error
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
    clients = Boto3Clients(
        boto3.Session(region_name=region),
        region_name=region,
        endpoint_url=os.environ.get("AWS_ENDPOINT_URL", "").strip() or None,
    )
    return Boto3SnapshotSource(
        clients,
        org_read_role_arn=os.environ.get("ORG_READ_ROLE_ARN", "").strip() or None,
        ttl_seconds=ttl,
    )
