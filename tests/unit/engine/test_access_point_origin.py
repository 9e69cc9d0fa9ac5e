"""A request through an access point carries s3:AccessPointNetworkOrigin, `Internet` or `VPC`
from the access point's network origin
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-points-policies.html). AWS's own
example policies test it in the bucket policy ("Deny unless VPC", delegation to VPC access points
only); without it such a Deny denied every request and the fix asked the caller to "send" the
key. An access point the snapshot does not hold leaves the key unknown: a note says so."""

from __future__ import annotations

from typing import Any

from chalicelib import pipeline
from chalicelib.events import parse_event
from chalicelib.model import Verdict
from chalicelib.snapshot import load_snapshot
from tests.unit.diagnose.diagnose_builders import iam_user

from .runbook_documents import user_get_record

ACCOUNT = "111122223333"
BUCKET = "acme-data"
KEY = "data/report.csv"
POINT = f"arn:aws:s3:us-east-1:{ACCOUNT}:accesspoint/finance-ap"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
ENDPOINT = "vpce-0aaa1111bbbb2222c"  # in the VPC access point's VPC
DELEGATE = {
    "Sid": "Delegate",
    "Effect": "Allow",
    "Principal": {"AWS": "*"},
    "Action": "*",
    "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
    "Condition": {"StringEquals": {"s3:DataAccessPointAccount": ACCOUNT}},
}
VPC_ONLY = {  # the documented "deny unless the access point's network origin is VPC"
    "Sid": "VpcOriginOnly",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:GetObject",
    "Resource": f"arn:aws:s3:::{BUCKET}/*",
    "Condition": {"StringNotEquals": {"s3:AccessPointNetworkOrigin": "VPC"}},
}
VPC_DELEGATE = {
    **DELEGATE,
    "Sid": "DelegateVpcAPs",
    "Condition": {"StringEquals": {"s3:AccessPointNetworkOrigin": "VPC"}},
}


def _snapshot(statements: list[dict[str, Any]], origin: str | None) -> Any:
    grant = {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": f"{POINT}/object/*",
    }
    points: dict[str, Any] = {}
    if origin is not None:
        point: dict[str, Any] = {
            "Name": "finance-ap",
            "Bucket": BUCKET,
            "NetworkOrigin": origin,
            "policy": {
                "Version": "2012-10-17",
                "Statement": [{**grant, "Principal": {"AWS": ALICE}}],
            },
        }
        if origin == "VPC":
            point["VpcConfiguration"] = {"VpcId": "vpc-0aaa"}
        points[POINT] = point
    alice = iam_user("alice", grant)
    return load_snapshot(
        {
            "account_id": ACCOUNT,
            "partition": "aws",
            "region": "us-east-1",
            "iam": {"UserDetailList": [alice], "RoleDetailList": [], "GroupDetailList": []},
            "vpc_endpoints": {
                ENDPOINT: {"VpcEndpointId": ENDPOINT, "VpcId": "vpc-0aaa", "OwnerId": ACCOUNT}
            },
            "s3": {
                "buckets": {
                    BUCKET: {
                        "region": "us-east-1",
                        "ownership_controls": {
                            "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]
                        },
                        "objects": {KEY: {"head": {"ContentLength": 10}}},
                        "policy": {"Version": "2012-10-17", "Statement": statements},
                    }
                },
                "access_points": points,
            },
        }
    )


def _through_point() -> Any:
    record = user_get_record(ACCOUNT, BUCKET, KEY, vpc_endpoint_id=ENDPOINT)
    record["resources"].append({"accountId": ACCOUNT, "type": "AWS::S3::AccessPoint", "ARN": POINT})
    return parse_event(record)


def _origin(finding: Any) -> list[tuple[tuple[str, ...], str]]:
    return [
        (e.values, e.source)
        for e in finding.request.context
        if e.name == "s3:AccessPointNetworkOrigin"
    ]


def test_a_vpc_access_point_passes_the_documented_deny_unless_vpc() -> None:
    finding = pipeline.diagnose(_through_point(), _snapshot([DELEGATE, VPC_ONLY], "VPC"))

    assert finding.decision is Verdict.ALLOWED, [c.message for c in finding.causes]
    assert _origin(finding) == [
        (("VPC",), "derived:NetworkOrigin of the access point in the snapshot")
    ]


def test_delegation_to_vpc_access_points_serves_a_vpc_access_point() -> None:
    finding = pipeline.diagnose(_through_point(), _snapshot([VPC_DELEGATE], "VPC"))

    assert finding.decision is Verdict.ALLOWED, [c.message for c in finding.causes]


def test_an_internet_access_point_is_told_to_use_a_vpc_access_point() -> None:
    finding = pipeline.diagnose(_through_point(), _snapshot([VPC_DELEGATE], "Internet"))

    assert finding.decision is Verdict.IMPLICIT_DENY
    assert _origin(finding) == [
        (("Internet",), "derived:NetworkOrigin of the access point in the snapshot")
    ]
    summaries = " ".join(r.summary for r in finding.remedies)
    assert "through an access point whose network origin is VPC" in summaries
    assert "send the request with s3:AccessPointNetworkOrigin" not in summaries


def test_an_access_point_not_in_the_snapshot_leaves_the_key_not_checked() -> None:
    finding = pipeline.diagnose(_through_point(), _snapshot([DELEGATE, VPC_ONLY], None))

    assert finding.decision is not Verdict.ALLOWED
    assert _origin(finding) == []
    [note] = [n for n in finding.request.notes if "s3:AccessPointNetworkOrigin" in n]
    assert note.startswith("s3:AccessPointNetworkOrigin not checked")
    assert POINT in note and "s3:GetAccessPoint" in note
    summaries = " ".join(r.summary for r in finding.remedies)
    assert "send the request with s3:AccessPointNetworkOrigin" not in summaries
