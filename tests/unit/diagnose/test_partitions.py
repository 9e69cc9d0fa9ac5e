"""Fixes and Security Hub documents in the partition of the request (aws-cn, aws-us-gov): an
`arn:aws:` resource grants nothing there, and an `arn:aws:` product is refused."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.diagnose.render import subject
from chalicelib.diagnose.wording import MissKind, principal_why
from chalicelib.model import Principal, PrincipalType
from chalicelib.publish.securityhub import product_arn
from chalicelib.request import request_from_runbook
from chalicelib.snapshot import load_snapshot

ACCOUNT = "111122223333"


def _snapshot(partition: str, region: str) -> Any:
    alice = {
        "UserName": "alice",
        "UserId": "AIDAALICE0000000000",
        "Arn": f"arn:{partition}:iam::{ACCOUNT}:user/alice",
        "Path": "/",
        "UserPolicyList": [],
        "AttachedManagedPolicies": [],
        "GroupList": [],
    }
    return load_snapshot(
        {
            "account_id": ACCOUNT,
            "partition": partition,
            "region": region,
            "iam": {"UserDetailList": [alice], "RoleDetailList": [], "GroupDetailList": []},
            "s3": {"buckets": {"ledger": {"owner": {"ID": "c" * 64}, "region": region}}},
        }
    )


@pytest.mark.parametrize(
    ("partition", "region"), [("aws-cn", "cn-north-1"), ("aws-us-gov", "us-gov-west-1")]
)
def test_the_usual_form_of_a_grant_is_in_the_requests_partition_and_verified(
    partition: str, region: str
) -> None:
    request = request_from_runbook(
        {
            "requester_arn": f"arn:{partition}:iam::{ACCOUNT}:user/alice",
            "action": "s3:GetObject",
            "resource_arn": f"arn:{partition}:s3:::ledger/2025/03/close.csv",
        }
    )

    finding = pipeline.diagnose(request, _snapshot(partition, region))

    grants = [r for r in finding.remedies if r.code == "ADD_IDENTITY_STATEMENT"]
    resources = [r.patch["document"]["Statement"][-1]["Resource"] for r in grants if r.patch]
    assert resources == [
        f"arn:{partition}:s3:::ledger/2025/03/close.csv",
        f"arn:{partition}:s3:::ledger/2025/03/*",
    ]
    assert all(r.verified for r in grants)
    assert "ledger/2025/03/close.csv" in subject(finding) and "arn:" not in subject(finding)


def test_the_security_hub_product_is_in_the_regions_partition() -> None:
    assert product_arn("cn-north-1", ACCOUNT).startswith("arn:aws-cn:securityhub:cn-north-1:")
    assert product_arn("us-gov-west-1", ACCOUNT).startswith("arn:aws-us-gov:securityhub:")
    assert product_arn("eu-west-1", ACCOUNT) == (
        f"arn:aws:securityhub:eu-west-1:{ACCOUNT}:product/{ACCOUNT}/default"
    )


def test_a_grant_to_the_account_root_is_said_to_delegate_in_any_partition() -> None:
    principal = Principal(
        type=PrincipalType.IAM_USER,
        requester_arn=f"arn:aws-cn:iam::{ACCOUNT}:user/alice",
        principal_arn=f"arn:aws-cn:iam::{ACCOUNT}:user/alice",
        account_id=ACCOUNT,
    )

    why = principal_why((f"arn:aws-cn:iam::{ACCOUNT}:root",), principal)

    assert why is not None and why.kind is MissKind.ROOT_DELEGATION
