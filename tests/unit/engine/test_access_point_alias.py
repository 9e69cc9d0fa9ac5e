"""A bucket name ending in `-s3alias` is an access point's alias: S3 serves the request through
that access point, and no policy can name the alias
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-points-alias.html). It was taken
for a missing bucket, and the fixes granted IAM on `arn:aws:s3:::<alias>/key`, which grants
nothing. A record's `resources[]` bucket comes first (spec §1.7); an alias the snapshot's
access points know is judged through that access point; another is said to be unresolved, with
no fix on it."""

from __future__ import annotations

import json
from typing import Any

from chalicelib import pipeline
from chalicelib.events import parse_event
from chalicelib.model import Verdict
from chalicelib.snapshot import load_snapshot
from tests.unit.diagnose.diagnose_builders import iam_user
from tests.unit.diagnose.test_render import assert_inert_in_every_rendering

from .runbook_documents import user_get_record

ACCOUNT = "111122223333"
BUCKET = "acme-data"
KEY = "data/report.csv"
POINT = f"arn:aws:s3:us-east-1:{ACCOUNT}:accesspoint/finance-ap"
ALIAS = "finance-ap-hrzrlukc5m36ft7okagglf3gmwluquse1b-s3alias"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"


def _snapshot(*, alias: str | None) -> Any:
    grant = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{POINT}/object/*"}
    point: dict[str, Any] = {
        "Name": "finance-ap",
        "Bucket": BUCKET,
        "NetworkOrigin": "Internet",
        "policy": {"Version": "2012-10-17", "Statement": [{**grant, "Principal": {"AWS": ALICE}}]},
    }
    if alias is not None:
        point["Alias"] = alias
    delegate = {
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "*",
        "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
        "Condition": {"StringEquals": {"s3:DataAccessPointAccount": ACCOUNT}},
    }
    alice = iam_user("alice", grant)
    return load_snapshot(
        {
            "account_id": ACCOUNT,
            "partition": "aws",
            "region": "us-east-1",
            "iam": {"UserDetailList": [alice], "RoleDetailList": [], "GroupDetailList": []},
            "s3": {
                "buckets": {
                    BUCKET: {
                        "region": "us-east-1",
                        "ownership_controls": {
                            "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]
                        },
                        "objects": {KEY: {"head": {"ContentLength": 10}}},
                        "policy": {"Version": "2012-10-17", "Statement": [delegate]},
                    }
                },
                "access_points": {POINT: point},
            },
        }
    )


def _on_alias(alias: str = ALIAS) -> dict[str, Any]:
    """The record of a GetObject that names the alias everywhere (no access point entry)."""
    return user_get_record(ACCOUNT, alias, KEY)


def _remedy_text(finding: Any) -> str:
    return json.dumps([r.to_dict() for r in finding.remedies])


def test_the_records_bucket_comes_before_an_alias_in_bucket_name() -> None:
    record = user_get_record(ACCOUNT, BUCKET, KEY)
    record["requestParameters"]["bucketName"] = ALIAS
    record["resources"].append({"accountId": ACCOUNT, "type": "AWS::S3::AccessPoint", "ARN": POINT})

    request = parse_event(record)

    assert request.bucket == BUCKET
    assert request.resource_arn == f"arn:aws:s3:::{BUCKET}/{KEY}"
    finding = pipeline.diagnose(request, _snapshot(alias=None))
    assert finding.decision is Verdict.ALLOWED, [c.message for c in finding.causes]


def test_an_alias_the_snapshot_knows_is_judged_through_its_access_point() -> None:
    finding = pipeline.diagnose(parse_event(_on_alias()), _snapshot(alias=ALIAS))

    assert finding.decision is Verdict.ALLOWED, [c.message for c in finding.causes]
    assert finding.request.access_point_arn == POINT
    assert finding.request.resource_arn == f"arn:aws:s3:::{BUCKET}/{KEY}"
    assert finding.request.context_value("s3:DataAccessPointArn") == (POINT,)
    assert [n for n in finding.request.notes if f"alias of access point {POINT}" in n]


def test_an_unknown_alias_is_unresolved_and_gets_no_fix_on_it() -> None:
    finding = pipeline.diagnose(parse_event(_on_alias()), _snapshot(alias=None))

    assert finding.decision is Verdict.INCONCLUSIVE
    assert [u for u in finding.unchecked if u.reason.startswith("access point alias not resolved")]
    assert ALIAS not in _remedy_text(finding)
    assert not [r for r in finding.remedies if r.target.startswith("arn:aws:iam::")]


def test_a_hostile_alias_is_data_in_every_rendering() -> None:
    alias = "x\n\nFIX\n\x1b]52;c;@here<!channel>[x](http:e.example)\u202e-s3alias"

    finding = pipeline.diagnose(parse_event(_on_alias(alias)), _snapshot(alias=None))

    assert [u for u in finding.unchecked if u.reason.startswith("access point alias not resolved")]
    assert_inert_in_every_rendering(finding)
