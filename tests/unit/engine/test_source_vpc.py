"""A request through a VPC endpoint carries the endpoint's VPC as aws:SourceVpc, as AWS's request
context does; CloudTrail names only the endpoint, whose VpcId the snapshot holds. Without it the
commonest network perimeter decides wrong: `StringNotEquals aws:SourceVpc` denies the VPC's own
requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.engine import decide, evaluate
from chalicelib.events import parse_event
from chalicelib.model import Verdict
from chalicelib.request import request_from_runbook
from chalicelib.snapshot import load_snapshot

from .runbook_documents import batch_decisions, object_read, read_statement, user_get_record

ACCOUNT = "111122223333"
BUCKET = "vpc-data"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
OURS, THEIRS = "vpce-0a1b2c3d4e5f60789", "vpce-0f9e8d7c6b5a40321"
VPC = "vpc-0aaa1111"
OUTSIDE_VPC = read_statement(
    "Deny", BUCKET, Principal="*", Condition={"StringNotEquals": {"aws:SourceVpc": VPC}}
)


def _snapshot() -> Any:
    allow = {"Version": "2012-10-17", "Statement": [read_statement("Allow", BUCKET)]}
    alice = {
        "UserName": "alice",
        "UserId": "AIDAALICE000000000000",
        "Arn": ALICE,
        "Path": "/",
        "UserPolicyList": [{"PolicyName": "read", "PolicyDocument": allow}],
        "AttachedManagedPolicies": [],
        "GroupList": [],
    }
    endpoints = {
        vpce: {"VpcEndpointId": vpce, "VpcEndpointType": "Gateway", "VpcId": vpc}
        for vpce, vpc in ((OURS, VPC), (THEIRS, "vpc-0bbb2222"))
    }
    return load_snapshot(
        {
            "account_id": ACCOUNT,
            "partition": "aws",
            "region": "us-east-1",
            "iam": {"UserDetailList": [alice], "RoleDetailList": [], "GroupDetailList": []},
            "s3": {
                "buckets": {
                    BUCKET: {"policy": {"Version": "2012-10-17", "Statement": [OUTSIDE_VPC]}}
                }
            },
            "vpc_endpoints": endpoints,
        }
    )


def _values(request: Any, name: str) -> list[tuple[str, ...]]:
    return [e.values for e in request.context if e.name.lower() == name.lower()]


def test_a_request_through_an_endpoint_of_the_vpc_passes_its_vpc_perimeter() -> None:
    snapshot = _snapshot()
    request = request_from_runbook(object_read(ALICE, BUCKET, vpc_endpoint_id=OURS))

    finding = pipeline.diagnose(request, snapshot)

    assert finding.decision is Verdict.ALLOWED, [c.message for c in finding.causes]
    assert _values(finding.request, "aws:SourceVpc") == [(VPC,)]
    assert decide(request, snapshot).decision is Verdict.ALLOWED


def test_another_vpc_an_unknown_endpoint_or_none_stays_outside() -> None:
    snapshot = _snapshot()
    for more in ({"vpc_endpoint_id": THEIRS}, {"vpc_endpoint_id": "vpce-0123456789abcdef0"}, {}):
        request = request_from_runbook(object_read(ALICE, BUCKET, **more))
        assert evaluate(request, snapshot).decision is Verdict.EXPLICIT_DENY, more


def test_a_given_vpc_wins() -> None:
    given = [
        {
            "ContextKeyName": "aws:sourcevpc",
            "ContextKeyValues": ["vpc-0ccc"],
            "ContextKeyType": "string",
        }
    ]
    request = request_from_runbook(object_read(ALICE, BUCKET, vpc_endpoint_id=OURS, context=given))

    finding = pipeline.diagnose(request, _snapshot())

    assert finding.decision is Verdict.EXPLICIT_DENY
    assert _values(finding.request, "aws:SourceVpc") == [("vpc-0ccc",)]


def test_an_event_through_the_endpoint_gets_its_vpc() -> None:
    record = user_get_record(ACCOUNT, BUCKET, "reports/q1.csv", vpc_endpoint_id=OURS)
    finding = pipeline.diagnose(parse_event(record), _snapshot())

    assert finding.decision is Verdict.ALLOWED, [c.message for c in finding.causes]
    assert _values(finding.request, "aws:SourceVpc") == [(VPC,)]


def test_batch_lines_that_give_the_endpoint_get_that_endpoints_vpc(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """aws:SourceVpc follows the aws:SourceVpce a line's context gives, line by line."""

    def through(vpce: str, line: int) -> dict[str, Any]:
        given = [
            {
                "ContextKeyName": "aws:SourceVpce",
                "ContextKeyValues": [vpce],
                "ContextKeyType": "string",
            }
        ]
        return object_read(
            ALICE, BUCKET, context=given, resource_arn=f"arn:aws:s3:::{BUCKET}/p-{line}"
        )

    endpoints = [OURS, OURS, OURS, THEIRS, OURS, THEIRS, THEIRS]
    documents = [through(vpce, line) for line, vpce in enumerate(endpoints)]
    snapshot = _snapshot()

    decisions = batch_decisions(tmp_path, capsys, snapshot.document, documents, "decision")

    expected = [
        pipeline.diagnose(request_from_runbook(d), snapshot).decision.value for d in documents
    ]
    assert expected == ["allowed"] * 3 + ["explicit-deny", "allowed"] + ["explicit-deny"] * 2
    assert decisions == expected
