"""A request the diagnosis does not model, here an IAM Identity Center user's own credentials
(no IAM principal) and S3 Object Lambda: the engine's verdict on it is no answer ("no identity
policy of the requester allows" was a definite deny). The finding says it was not diagnosed, is
inconclusive, and offers no fix."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.demo.cloudtrail import iam_user_identity, s3_access_denied_record
from chalicelib.events import parse_event
from chalicelib.model import Scope, Verdict
from chalicelib.snapshot import load_snapshot

ACCOUNT = "111122223333"
BUCKET = "hunt-bucket"
CENTER_USER = {
    "type": "IdentityCenterUser",
    "accountId": ACCOUNT,
    "onBehalfOf": {
        "userId": "94482488-3041-7026-18f3-be45837cd0e4",
        "identityStoreArn": f"arn:aws:identitystore::{ACCOUNT}:identitystore/d-9067bc7b15",
    },
    "credentialId": "EXAMPLE",
}


def _record(identity: dict[str, Any], source: str = "s3.amazonaws.com") -> dict[str, Any]:
    record = s3_access_denied_record(
        event_id="e-1",
        event_time="2025-03-04T10:15:22Z",
        region="us-east-1",
        identity=identity,
        event_name="GetObject",
        bucket=BUCKET,
        bucket_account=ACCOUNT,
        key="a/b.txt",
    )
    return {**record, "eventSource": source}


def _snapshot() -> Any:
    return load_snapshot(
        {
            "account_id": ACCOUNT,
            "partition": "aws",
            "region": "us-east-1",
            "iam": {"UserDetailList": [], "RoleDetailList": [], "GroupDetailList": []},
            "s3": {"buckets": {BUCKET: {}}},
        }
    )


@pytest.mark.parametrize(
    "record",
    [
        _record(CENTER_USER),
        _record(
            iam_user_identity(account_id=ACCOUNT, user_name="alice", user_id="AIDAALICE0"),
            source="s3-object-lambda.amazonaws.com",
        ),
    ],
    ids=["identity-center-user", "object-lambda"],
)
def test_a_request_not_diagnosed_is_inconclusive_without_a_fix(record: dict[str, Any]) -> None:
    request = parse_event(record)
    assert request.scope is Scope.OUT_OF_SCOPE

    finding = pipeline.diagnose(request, _snapshot())

    assert finding.decision is Verdict.INCONCLUSIVE
    assert [cause.code for cause in finding.causes] == ["OUT_OF_SCOPE_UNSUPPORTED"]
    assert (finding.blocked_by, finding.evaluations, finding.remedies) == ((), (), ())


@pytest.mark.parametrize(
    ("event_name", "source", "reason"),
    [
        ("RenameObject", "s3.amazonaws.com", "RenameObject is a call of S3 directory buckets"),
        ("CreateSession", "s3.amazonaws.com", "s3express:CreateSession"),
        ("ListDirectoryBuckets", "s3.amazonaws.com", "s3express:ListAllMyDirectoryBuckets"),
        ("WriteGetObjectResponse", "s3.amazonaws.com", "S3 Object Lambda access points only"),
        ("CreateSession", "s3express.amazonaws.com", "S3 directory bucket"),
        ("WriteGetObjectResponse", "s3-object-lambda.amazonaws.com", "S3 Object Lambda"),
    ],
)
def test_a_call_of_directory_buckets_or_object_lambda_is_not_diagnosed_and_says_why(
    event_name: str, source: str, reason: str
) -> None:
    """Such a call logged by s3.amazonaws.com read "not in the S3 operation table", as if the
    table missed a general purpose bucket call."""
    alice = iam_user_identity(account_id=ACCOUNT, user_name="alice", user_id="AIDAALICE0")
    record = {**_record(alice, source), "eventName": event_name}

    request = parse_event(record)

    assert request.scope is Scope.OUT_OF_SCOPE
    assert request.scope_reason is not None
    assert reason in request.scope_reason
    assert "operation table" not in request.scope_reason
    finding = pipeline.diagnose(request, _snapshot())
    assert finding.decision is Verdict.INCONCLUSIVE
    assert [cause.code for cause in finding.causes] == ["OUT_OF_SCOPE_UNSUPPORTED"]
    assert (finding.blocked_by, finding.evaluations, finding.remedies) == ((), (), ())
