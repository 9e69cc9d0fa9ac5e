"""aws:userid of a runbook request, from the snapshot's unique ids: the classic "only this role
may touch the bucket" policy (Deny unless aws:userid is the role's id) must not deny the role."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.model import Verdict
from chalicelib.request import request_from_runbook
from chalicelib.snapshot import load_snapshot

from .runbook_documents import object_read, read_statement

ACCOUNT = "111122223333"
BUCKET = "payroll"
ROLE_ID = "AROAEXAMPLEAPPROLE01"
USER_ID = "AIDAEXAMPLEALICE0001"
GRANT = {
    "PolicyName": "read",
    "PolicyDocument": {"Version": "2012-10-17", "Statement": [read_statement("Allow", BUCKET)]},
}


def _snapshot() -> Any:
    only_app = read_statement(
        "Deny",
        BUCKET,
        Principal="*",
        Condition={"StringNotLike": {"aws:userid": [f"{ROLE_ID}:*", USER_ID, ACCOUNT]}},
    )
    return load_snapshot(
        {
            "account_id": ACCOUNT,
            "partition": "aws",
            "region": "us-east-1",
            "iam": {
                "UserDetailList": [
                    {
                        "UserName": name,
                        "UserId": uid,
                        "Path": "/",
                        "Arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
                        "UserPolicyList": [GRANT],
                        "AttachedManagedPolicies": [],
                        "GroupList": [],
                    }
                    for name, uid in (("alice", USER_ID), ("bob", "AIDAEXAMPLEBOB000001"))
                ],
                "RoleDetailList": [
                    {
                        "RoleName": "app",
                        "RoleId": ROLE_ID,
                        "Path": "/",
                        "Arn": f"arn:aws:iam::{ACCOUNT}:role/app",
                        "RolePolicyList": [GRANT],
                        "AttachedManagedPolicies": [],
                    }
                ],
                "GroupDetailList": [],
            },
            "s3": {
                "buckets": {BUCKET: {"policy": {"Version": "2012-10-17", "Statement": [only_app]}}}
            },
        }
    )


@pytest.mark.parametrize(
    ("requester", "session", "expected"),
    [
        (f"arn:aws:iam::{ACCOUNT}:role/app", "batch-7", Verdict.ALLOWED),
        (f"arn:aws:iam::{ACCOUNT}:user/alice", None, Verdict.ALLOWED),
        (f"arn:aws:iam::{ACCOUNT}:user/bob", None, Verdict.EXPLICIT_DENY),
    ],
)
def test_a_runbook_requests_userid_comes_from_the_snapshot(
    requester: str, session: str | None, expected: Verdict
) -> None:
    document = object_read(requester, BUCKET, **({"session_name": session} if session else {}))

    finding = pipeline.diagnose(request_from_runbook(document), _snapshot())

    assert finding.decision is expected
    [userid] = [e for e in finding.request.context if e.name == "aws:userid"]
    assert userid.values[0] in (f"{ROLE_ID}:batch-7", USER_ID, "AIDAEXAMPLEBOB000001")


def test_a_role_without_a_session_name_has_no_userid() -> None:
    """A role session's id ends with its name: unknown, so not made up (what-if tries it)."""
    document = object_read(f"arn:aws:iam::{ACCOUNT}:role/app", BUCKET)

    finding = pipeline.diagnose(request_from_runbook(document), _snapshot())

    assert not [e for e in finding.request.context if e.name == "aws:userid"]
    assert "aws:userid" in [w.key for w in finding.what_if]
