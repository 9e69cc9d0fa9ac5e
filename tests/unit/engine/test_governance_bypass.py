"""GOVERNANCE retention yields to a delete that sends x-amz-bypass-governance-retention with
s3:BypassGovernanceRetention granted (the DeleteObject API reference): such a denial is not
reproduced; without the permission, that permission is what is missing."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.events import parse_event
from chalicelib.model import Verdict
from chalicelib.snapshot import load_snapshot
from tests.unit.events.eventdata import load

ACCOUNT = "111122223333"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/reporting-role"


def _snapshot(actions: list[str]) -> Any:
    role = {
        "RoleName": "reporting-role",
        "RoleId": "AROA5EXAMPLEREPORT01",
        "Path": "/",
        "Arn": ROLE,
        "RolePolicyList": [
            {
                "PolicyName": "delete",
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": actions,
                            "Resource": "arn:aws:s3:::acme-reports/*",
                        }
                    ],
                },
            }
        ],
        "AttachedManagedPolicies": [],
    }
    head = {
        "VersionId": "v9",
        "ObjectLockMode": "GOVERNANCE",
        "ObjectLockRetainUntilDate": "2099-01-01T00:00:00Z",
    }
    return load_snapshot(
        {
            "account_id": ACCOUNT,
            "partition": "aws",
            "region": "eu-west-1",
            "iam": {"UserDetailList": [], "RoleDetailList": [role], "GroupDetailList": []},
            "s3": {"buckets": {"acme-reports": {"objects": {"locked/a.txt": {"head": head}}}}},
        }
    )


@pytest.mark.parametrize(
    ("actions", "decision", "blocked_by"),
    [
        (["s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"], Verdict.ALLOWED, ()),
        (["s3:DeleteObjectVersion"], Verdict.IMPLICIT_DENY, ("identity-policy",)),
    ],
)
def test_a_bypassing_delete_is_judged_on_the_bypass_permission(
    actions: list[str], decision: Verdict, blocked_by: tuple[str, ...]
) -> None:
    request = parse_event(load("deleteobject-bypass-governance"))

    finding = pipeline.diagnose(request, _snapshot(actions))

    assert finding.decision is decision
    assert tuple(layer.value for layer in finding.blocked_by) == blocked_by
    assert "OBJECT_LOCK" not in [cause.code for cause in finding.causes]
