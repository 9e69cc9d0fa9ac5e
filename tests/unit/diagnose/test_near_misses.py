"""Near-miss search over a snapshot: one element away, most telling first, at most five."""

from __future__ import annotations

from typing import Any

from chalicelib.diagnose.near_misses import find_near_misses
from chalicelib.diagnose.wording import MissKind
from chalicelib.engine import evaluate
from chalicelib.request import request_from_runbook
from chalicelib.snapshot import load_snapshot

ACCT = "111122223333"
BKT = "arn:aws:s3:::example-bucket"


def _snapshot(statements: list[dict[str, Any]], bucket_policy: Any = None) -> Any:
    bucket: dict[str, Any] = {"owner": {"ID": "owner"}, "objects": {"k.csv": {"head": {}}}}
    if bucket_policy is not None:
        bucket["policy"] = bucket_policy
    user = {
        "UserName": "alice",
        "Arn": f"arn:aws:iam::{ACCT}:user/alice",
        "UserPolicyList": [
            {
                "PolicyName": "p",
                "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
            }
        ],
    }
    return load_snapshot(
        {
            "account_id": ACCT,
            "iam": {"UserDetailList": [user], "RoleDetailList": [], "GroupDetailList": [],
                    "Policies": []},
            "s3": {"buckets": {"example-bucket": bucket}},
        }
    )  # fmt: skip


def _misses(statements: list[dict[str, Any]], bucket_policy: Any = None) -> list[Any]:
    request = request_from_runbook(
        {
            "requester_arn": f"arn:aws:iam::{ACCT}:user/alice",
            "action": "s3:GetObject",
            "resource_arn": f"{BKT}/k.csv",
            "context": [
                {"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["198.51.100.7"],
                 "ContextKeyType": "ip"}
            ],
        }
    )  # fmt: skip
    snapshot = _snapshot(statements, bucket_policy)
    return list(find_near_misses(request, snapshot, evaluate(request, snapshot)))


def allow(action: str, resource: str, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def test_misses_are_ordered_by_how_telling_they_are_and_capped() -> None:
    statements = [
        allow("s3:GetObject", "arn:aws:s3:::other-bucket/*"),
        allow("s3:GetObject", f"{BKT}/reports/*"),
        allow("s3:GetObjects", f"{BKT}/*"),
        allow("s3:GetObject", BKT),
        allow("s3:GetObject", f"{BKT}/*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
        allow("s3:GetObject", "arn:aws:s3:::third-bucket/*"),
    ]
    kinds = [m.kind for m in _misses(statements)]
    assert kinds == [
        MissKind.CONDITION,
        MissKind.RESOURCE_FORM,
        MissKind.ACTION_NAME,
        MissKind.WRONG_PREFIX,
        MissKind.WRONG_BUCKET,
    ]


def test_statements_two_elements_away_or_unrelated_are_not_near_misses() -> None:
    statements = [
        allow("s3:PutObject", f"{BKT}/*"),
        allow("s3:GetObjects", BKT),
        allow("ec2:DescribeInstances", "*"),
    ]
    assert _misses(statements) == []


def test_each_miss_names_its_policy_statement_and_element() -> None:
    (miss,) = _misses([allow("s3:GetObject", BKT)])
    near = miss.near_miss
    assert (near.policy, near.index, near.element) == ("inline:user/alice/p", 0, "Resource")
    assert "lacks" in near.why or "/*" in near.why


def test_an_explicit_deny_is_not_explained_by_near_misses() -> None:
    statement = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": f"{BKT}/*"}
    deny = {"Version": "2012-10-17", "Statement": [statement]}
    assert _misses([allow("s3:GetObject", BKT)], bucket_policy=deny) == []


def test_an_account_principal_is_no_near_miss_when_the_identity_policy_allows() -> None:
    """A statement naming the account delegates to IAM; when the requester's identity policy
    allows, that delegation worked, and "still needs an identity-policy Allow" would send the
    reader after a grant that is there (here the endpoint's policy is what refuses)."""
    snapshot = _snapshot(
        [allow("s3:GetObject", f"{BKT}/*")],
        {
            "Version": "2012-10-17",
            "Statement": [allow("s3:GetObject", f"{BKT}/*", Principal={"AWS": ACCT})],
        },
    )
    endpoint = {
        "VpcEndpointId": "vpce-1a2b3c4d",
        "VpcEndpointType": "Gateway",
        "VpcId": "vpc-1",
        "OwnerId": ACCT,
        "PolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [allow("s3:GetObject", "arn:aws:s3:::other-bucket/*", Principal="*")],
        },
    }
    snapshot = load_snapshot({**snapshot.document, "vpc_endpoints": {"vpce-1a2b3c4d": endpoint}})
    request = request_from_runbook(
        {
            "requester_arn": f"arn:aws:iam::{ACCT}:user/alice",
            "action": "s3:GetObject",
            "resource_arn": f"{BKT}/k.csv",
            "vpc_endpoint_id": "vpce-1a2b3c4d",
        }
    )

    misses = find_near_misses(request, snapshot, evaluate(request, snapshot))

    assert misses  # the endpoint policy's statement for another bucket
    assert MissKind.ROOT_DELEGATION not in [m.kind for m in misses]
