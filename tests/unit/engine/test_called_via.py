"""A call Athena makes on a principal's behalf carries aws:CalledVia (and its First/Last), so an
"only through Athena" grant lets it in, as in AWS; a direct call does not get through it."""

from __future__ import annotations

from typing import Any

from chalicelib import pipeline
from chalicelib.demo.cloudtrail import assumed_role_identity
from chalicelib.events import parse_event
from chalicelib.model import Verdict
from chalicelib.snapshot import load_snapshot

from .runbook_documents import get_record, read_statement

ACCOUNT = "111122223333"
BUCKET = "athena-results"
VIA_ATHENA = read_statement(
    "Allow",
    BUCKET,
    Condition={"ForAnyValue:StringEquals": {"aws:CalledVia": "athena.amazonaws.com"}},
)


def _snapshot() -> Any:
    policy = {"Version": "2012-10-17", "Statement": [VIA_ATHENA]}
    role = {
        "RoleName": "analyst",
        "RoleId": "AROAANALYST000000000",
        "Arn": f"arn:aws:iam::{ACCOUNT}:role/analyst",
        "Path": "/",
        "RolePolicyList": [{"PolicyName": "via-athena", "PolicyDocument": policy}],
        "AttachedManagedPolicies": [],
    }
    return load_snapshot(
        {
            "account_id": ACCOUNT,
            "partition": "aws",
            "region": "us-east-1",
            "iam": {"UserDetailList": [], "RoleDetailList": [role], "GroupDetailList": []},
            "s3": {"buckets": {BUCKET: {}}},
        }
    )


def _record(invoked_by: str | None) -> dict[str, Any]:
    identity = assumed_role_identity(
        account_id=ACCOUNT, role_name="analyst", role_id="AROAANALYST000000000", session_name="q"
    )
    if invoked_by is not None:
        identity["invokedBy"] = invoked_by
    source_ip = invoked_by or "203.0.113.10"
    return get_record(identity, ACCOUNT, BUCKET, "results/q1.csv", source_ip=source_ip)


def test_a_call_through_athena_meets_an_only_through_athena_grant() -> None:
    finding = pipeline.diagnose(parse_event(_record("athena.amazonaws.com")), _snapshot())

    assert finding.decision is Verdict.ALLOWED, [c.message for c in finding.causes]


def test_a_direct_call_or_one_through_another_service_does_not() -> None:
    for invoked_by in (None, "glue.amazonaws.com"):
        finding = pipeline.diagnose(parse_event(_record(invoked_by)), _snapshot())
        assert finding.decision is Verdict.IMPLICIT_DENY, invoked_by
