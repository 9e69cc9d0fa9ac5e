"""The live account as a snapshot source, with the default boto3 credentials and region.

Reads `ORG_READ_ROLE_ARN` (role to assume for SCPs/RCPs) and `COLLECT_CACHE_TTL_SECONDS`.
"""

from __future__ import annotations

import os

import boto3

from chalicelib.collect.clients import Boto3Clients
from chalicelib.collect.live import Boto3SnapshotSource
from chalicelib.model import InputError

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
    clients = Boto3Clients(boto3.Session(region_name=region), region_name=region)
    return Boto3SnapshotSource(
        clients,
        org_read_role_arn=os.environ.get("ORG_READ_ROLE_ARN", "").strip() or None,
        ttl_seconds=ttl,
    )
