"""The collector reads a bucket's tags (GetBucketTagging) and its ABAC status (GetBucketAbac):
tags as they are, no tag set as no tags, a refused read as unreadable, and an ABAC answer
without a status as `Disabled` (ABAC's default: a bucket whose ABAC was never set; moto 5.2.6
answers every bucket so)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.collect.live import Boto3SnapshotSource
from chalicelib.collect.s3 import _abac_status
from chalicelib.collect.source import CollectionScope
from chalicelib.pipeline import diagnose
from chalicelib.request import request_from_runbook
from tests.functional.collect.conftest import (
    ACCOUNT,
    client,
    enable_iam_authentication,
    moto_clients,
    policy,
    user_session,
)

TAGGED, UNTAGGED = "tagged-bucket", "untagged-bucket"
HOSTILE = "${aws:username}\n*"
REFUSED_STATUS = {"$unreadable": "AccessDenied", "needs": "s3:GetBucketAbac"}


def _collect(url: str, **kwargs: Any) -> dict[str, Any]:
    source = Boto3SnapshotSource(moto_clients(url, **kwargs))
    doc: dict[str, Any] = source.collect(CollectionScope(buckets=(TAGGED, UNTAGGED)))
    return doc


@pytest.fixture(scope="module")
def collected(moto_url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The buckets as an allowed collector reads them, then as one refused GetBucketTagging
    (moto IAM authentication on from then on)."""
    s3 = client(moto_url, "s3")
    for name in (TAGGED, UNTAGGED):
        s3.create_bucket(Bucket=name)
    tags = [{"Key": "team", "Value": "finance"}, {"Key": "owner", "Value": HOSTILE}]
    s3.put_bucket_tagging(Bucket=TAGGED, Tagging={"TagSet": tags})
    allowed = _collect(moto_url)

    no_tags = user_session(
        moto_url,
        "collector",
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:GetBucketTagging", "Resource": "*"},
    )
    enable_iam_authentication(moto_url)
    refused = _collect(moto_url, boto_session=no_tags)
    return allowed["s3"]["buckets"], refused["s3"]["buckets"]


def test_tags_are_collected_as_they_are(collected: tuple[dict[str, Any], ...]) -> None:
    buckets, _ = collected

    assert buckets[TAGGED]["tags"] == [
        {"Key": "team", "Value": "finance"},
        {"Key": "owner", "Value": HOSTILE},
    ]


def test_a_bucket_without_a_tag_set_has_no_tags(collected: tuple[dict[str, Any], ...]) -> None:
    buckets, _ = collected

    assert buckets[UNTAGGED]["tags"] == []


def test_refused_tags_are_unreadable_never_none(collected: tuple[dict[str, Any], ...]) -> None:
    _, refused = collected

    for name in (TAGGED, UNTAGGED):
        assert refused[name]["tags"] == {
            "$unreadable": "AccessDenied",
            "needs": "s3:GetBucketTagging",
        }
    assert refused[TAGGED]["abac"] == "Disabled"  # the other reads go on


def test_an_abac_answer_without_a_status_is_disabled(
    collected: tuple[dict[str, Any], ...],
) -> None:
    buckets, _ = collected

    assert buckets[TAGGED]["abac"] == buckets[UNTAGGED]["abac"] == "Disabled"


@pytest.mark.parametrize("status", ["collected", "refused"])
def test_a_tag_grant_on_a_collected_bucket(
    moto_url: str, collected: tuple[dict[str, Any], ...], status: str
) -> None:
    """A tag grant on a collected bucket whose ABAC was never set: no tag is added and nothing
    is said (tags serve cost allocation only). With the status refused (the marker the
    collector writes), the finding's request notes say the tags were not checked and which
    read would tell."""
    buckets = json.loads(json.dumps(collected[0]))
    if status == "refused":
        buckets[TAGGED]["abac"] = REFUSED_STATUS
    alice = f"arn:aws:iam::{ACCOUNT}:user/alice"
    grant = {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:ResourceTag/team": "finance"}},
    }
    user = {
        "UserName": "alice",
        "UserId": "AIDAALICE000000000000",
        "Arn": alice,
        "Path": "/",
        "UserPolicyList": [{"PolicyName": "abac", "PolicyDocument": policy(grant)}],
        "AttachedManagedPolicies": [],
        "GroupList": [],
    }
    doc = {
        "account_id": ACCOUNT,
        "partition": "aws",
        "iam": {"UserDetailList": [user], "RoleDetailList": [], "GroupDetailList": []},
        "s3": {"buckets": buckets},
    }
    request = request_from_runbook(
        {
            "requester_arn": alice,
            "action": "s3:GetObject",
            "resource_arn": f"arn:aws:s3:::{TAGGED}/q1.csv",
        }
    )

    finding = diagnose(request, doc)

    assert finding.request.context_value("aws:ResourceTag/team") is None
    said = [note for note in finding.request.notes if "not checked" in note]
    if status == "collected":
        assert not said, said
    else:
        assert any(
            "could not be read (AccessDenied; needs s3:GetBucketAbac)" in note for note in said
        ), finding.request.notes


@pytest.mark.parametrize(
    ("answer", "recorded"),
    [
        ({"AbacStatus": {"Status": "Enabled"}}, "Enabled"),
        ({"AbacStatus": {"Status": "Disabled"}}, "Disabled"),
        ({"AbacStatus": {}}, "Disabled"),
        ({}, "Disabled"),
        (
            {"AbacStatus": {"Status": "Suspended"}},
            {"$unreadable": "UnknownAbacStatus", "needs": "s3:GetBucketAbac"},
        ),
    ],
)
def test_an_abac_status_is_recorded_as_aws_states_it(answer: Any, recorded: Any) -> None:
    assert _abac_status(answer) == recorded
