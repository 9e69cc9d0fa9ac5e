"""Keys S3 evaluates that CloudTrail never logs (the Referer header, the signature's age, the
payload hash): when a policy tests one, an event's finding says it was not checked instead of
letting "absent" stand as the request's value (hotlink protection is a common bucket policy)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.events import parse_event
from chalicelib.request import request_from_runbook
from chalicelib.snapshot import load_snapshot
from tests.unit.events.eventdata import load

from .runbook_documents import object_read, read_statement, user_get_record

ACCOUNT = "111122223333"
BUCKET = "site-assets"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"


def _snapshot(condition: dict[str, Any]) -> Any:
    grant = read_statement("Allow", BUCKET, Principal="*", Condition=condition)
    policy = {"Version": "2012-10-17", "Statement": [grant]}
    return load_snapshot(
        {
            "account_id": ACCOUNT,
            "partition": "aws",
            "region": "us-east-1",
            "iam": {"UserDetailList": [], "RoleDetailList": [], "GroupDetailList": []},
            "s3": {"buckets": {BUCKET: {"policy": policy}}},
        }
    )


@pytest.mark.parametrize(
    ("key", "condition", "what"),
    [
        (
            "aws:Referer",
            {"StringLike": {"aws:Referer": "https://www.example.com/*"}},
            "the Referer header",
        ),
        (
            "s3:signatureAge",
            {"NumericLessThan": {"s3:signatureAge": "600000"}},
            "the age of the request's signature",
        ),
        (
            "s3:x-amz-content-sha256",
            {"StringNotEquals": {"s3:x-amz-content-sha256": "UNSIGNED-PAYLOAD"}},
            "the x-amz-content-sha256 header",
        ),
    ],
)
def test_an_event_says_a_key_cloudtrail_does_not_log_was_not_checked(
    key: str, condition: dict[str, Any], what: str
) -> None:
    record = user_get_record(ACCOUNT, BUCKET, "img/logo.png")

    finding = pipeline.diagnose(parse_event(record), _snapshot(condition))

    [note] = [n for n in finding.request.notes if n.startswith(key)]
    assert note == f"{key} not checked: CloudTrail does not log {what}, so the key is absent here."


def test_no_note_for_a_runbook_request_or_when_no_policy_tests_the_key() -> None:
    referer = {"StringLike": {"aws:Referer": "https://www.example.com/*"}}
    runbook = pipeline.diagnose(
        request_from_runbook(object_read(ALICE, BUCKET)), _snapshot(referer)
    )
    assert not [n for n in runbook.request.notes if "aws:Referer" in n]

    record = user_get_record(ACCOUNT, BUCKET, "img/logo.png")
    other = pipeline.diagnose(
        parse_event(record), _snapshot({"Bool": {"aws:SecureTransport": "true"}})
    )
    assert not [n for n in other.request.notes if "not log" in n]


def test_a_service_principals_call_says_its_source_was_not_checked() -> None:
    """CloudTrail's own log delivery, against the bucket policy its guide gives: the record does
    not say which trail delivered, so aws:SourceArn is not checked (it read as absent)."""
    record = load("awsservice-cloudtrail-putobject-log-delivery")
    delivery = {
        "Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::acme-reports/AWSLogs/111122223333/*",
        "Condition": {
            "StringEquals": {
                "s3:x-amz-acl": "bucket-owner-full-control",
                "aws:SourceArn": "arn:aws:cloudtrail:eu-west-1:111122223333:trail/main",
            }
        },
    }
    snapshot = load_snapshot(
        {
            "account_id": ACCOUNT,
            "partition": "aws",
            "region": "eu-west-1",
            "iam": {"UserDetailList": [], "RoleDetailList": [], "GroupDetailList": []},
            "s3": {
                "buckets": {
                    "acme-reports": {"policy": {"Version": "2012-10-17", "Statement": [delivery]}}
                }
            },
        }
    )

    finding = pipeline.diagnose(parse_event(record), snapshot)

    notes = [n for n in finding.request.notes if "CloudTrail does not log" in n]
    assert notes == [
        "aws:SourceArn not checked: CloudTrail does not log the resource the service acted for, "
        "so the key is absent here."
    ]
