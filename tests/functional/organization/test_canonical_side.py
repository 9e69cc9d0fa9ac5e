"""The requester's side of a cross-account request inside the organization carries its account's
canonical user id, which ACL grants to that account name: read as the member role in the
requester's account (ListBuckets `Owner.ID`), `$unreadable` when that role cannot be assumed.
Observed in the snapshot the central function's source builds (`wiring.event_source()`)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.demo.cloudtrail import (
    denied_message,
    eventbridge_envelope,
    iam_user_identity,
    s3_access_denied_record,
)
from chalicelib.events import parse_event
from tests.functional.serverless.conftest import Deployment

from .conftest import MANAGEMENT, MEMBER_ROLE, REGION, Organization

BUCKET = f"acl-shared-{uuid.uuid4().hex[:8]}"
KEY = "exports/2025-03.csv"


@pytest.fixture(scope="module")
def bucket(organization: Organization) -> str:
    """A bucket of member B with ACLs enabled (ObjectWriter)."""
    s3 = organization.client(organization.member_b, "s3")
    s3.create_bucket(Bucket=BUCKET, ObjectOwnership="ObjectWriter")
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"export\n")
    return BUCKET


def _snapshot(requester: str, bucket_account: str, bucket: str) -> dict[str, Any]:
    record = s3_access_denied_record(
        event_id=str(uuid.uuid4()),
        event_time="2025-03-01T10:00:00Z",
        region=REGION,
        identity=iam_user_identity(
            account_id=requester, user_name="dana", user_id=f"AIDADANA{requester}"
        ),
        event_name="GetObject",
        bucket=bucket,
        bucket_account=bucket_account,
        key=KEY,
        error_message=denied_message(
            f"arn:aws:iam::{requester}:user/dana",
            "s3:GetObject",
            f"arn:aws:s3:::{bucket}/{KEY}",
            "because no resource-based policy allows the s3:GetObject action",
        ),
    )
    event = eventbridge_envelope(record, envelope_id=f"eb-{record['eventID']}")
    source = wiring.event_source()
    collected = source.collect_request(parse_event(event))  # type: ignore[union-attr]
    return collected.snapshot  # type: ignore[no-any-return]


def test_the_requester_side_has_its_account_canonical_id(
    central: Deployment, organization: Organization, bucket: str
) -> None:
    a = organization.member_a
    own = organization.client(a, "s3").list_buckets()["Owner"]["ID"]

    snapshot = _snapshot(a, organization.member_b, bucket)

    assert snapshot["accounts"][a]["canonical_id"] == own
    assert a in organization.faults.accounts()  # read as the member role in A
    assert "canonical_id" not in snapshot  # the bucket side's own id is its buckets' owner


def test_a_requester_account_without_member_role_has_its_canonical_id_unreadable(
    central: Deployment, organization: Organization, bucket: str
) -> None:
    snapshot = _snapshot(MANAGEMENT, organization.member_b, bucket)

    marker = snapshot["accounts"][MANAGEMENT]["canonical_id"]
    assert marker["$unreadable"] == "AccessDenied"
    assert f"role {MEMBER_ROLE}" in marker["needs"] and MANAGEMENT in marker["needs"]
