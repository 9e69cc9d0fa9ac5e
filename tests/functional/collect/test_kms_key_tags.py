"""The collector reads a KMS key's tags (ListResourceTags): the `Tags` list as KMS returns it, an
untagged key as no tags, a refused read as unreadable; and a KMS ABAC grant is judged on them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.collect.live import Boto3SnapshotSource
from chalicelib.collect.source import CollectionScope
from chalicelib.model import Layer, Verdict
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

HOSTILE = "${aws:username}\n*"
TAGS = [{"TagKey": "team", "TagValue": "data"}, {"TagKey": "owner", "TagValue": HOSTILE}]
REFUSED = {"$unreadable": "AccessDenied", "needs": "kms:ListResourceTags"}  # as moto answers


def _collect(url: str, keys: tuple[str, ...], **kwargs: Any) -> dict[str, Any]:
    source = Boto3SnapshotSource(moto_clients(url, **kwargs))
    doc: dict[str, Any] = source.collect(CollectionScope(kms_key_ids=keys))
    return doc


@pytest.fixture(scope="module")
def collected(moto_url: str) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
    """A tagged and an untagged key as an allowed collector reads them, then as one refused
    ListResourceTags (moto IAM authentication on from then on)."""
    kms = client(moto_url, "kms")
    tagged = kms.create_key(Description="tagged", Tags=TAGS)["KeyMetadata"]["Arn"]
    untagged = kms.create_key(Description="untagged")["KeyMetadata"]["Arn"]
    allowed = _collect(moto_url, (tagged, untagged))

    no_tags = user_session(
        moto_url,
        "collector",
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "kms:ListResourceTags", "Resource": "*"},
    )
    enable_iam_authentication(moto_url)
    refused = _collect(moto_url, (tagged,), boto_session=no_tags)
    return tagged, untagged, allowed["kms"]["keys"], refused["kms"]["keys"]


def test_key_tags_are_collected_as_kms_returns_them(collected: tuple[Any, ...]) -> None:
    tagged, untagged, keys, _ = collected

    assert sorted(keys[tagged]["tags"], key=lambda t: t["TagKey"]) == sorted(
        TAGS, key=lambda t: t["TagKey"]
    )
    assert keys[untagged]["tags"] == []


def test_refused_key_tags_are_unreadable_never_none(collected: tuple[Any, ...]) -> None:
    tagged, _, _, refused = collected

    assert refused[tagged]["tags"] == REFUSED
    assert refused[tagged]["metadata"]["Arn"] == tagged  # the rest is still read


def _snapshot(key: str, entry: dict[str, Any]) -> dict[str, Any]:
    """Alice may decrypt with any key tagged team=data; the object is encrypted with `key`."""
    entry = {
        **entry,
        "policy": policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ),
        "grants": [],
    }
    reads = policy(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceTag/team": "data"}},
        },
    )
    head = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key}
    return {
        "account_id": ACCOUNT,
        "region": "us-east-1",
        "iam": {
            "UserDetailList": [
                {
                    "UserName": "alice",
                    "Arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
                    "UserPolicyList": [{"PolicyName": "reads", "PolicyDocument": reads}],
                    "AttachedManagedPolicies": [],
                    "GroupList": [],
                }
            ],
            "RoleDetailList": [],
            "GroupDetailList": [],
            "Policies": [],
        },
        "s3": {"buckets": {"data-bucket": {"objects": {"a.csv": {"head": head}}}}},
        "kms": {"keys": {key: entry}},
    }


def test_a_kms_abac_grant_is_judged_on_the_collected_tags(collected: tuple[Any, ...]) -> None:
    tagged, untagged, keys, refused = collected
    request = request_from_runbook(
        {
            "requester_arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
            "action": "s3:GetObject",
            "resource_arn": "arn:aws:s3:::data-bucket/a.csv",
        }
    )

    def verdict(key: str, entry: dict[str, Any]) -> Any:
        doc = json.loads(json.dumps(_snapshot(key, entry)))
        return diagnose(request, doc)

    assert verdict(tagged, keys[tagged]).decision is Verdict.ALLOWED
    assert verdict(untagged, keys[untagged]).decision is Verdict.IMPLICIT_DENY
    finding = verdict(tagged, refused[tagged])
    assert finding.decision is Verdict.INCONCLUSIVE
    assert (Layer.KMS_KEY_POLICY, "kms:ListResourceTags") in {
        (u.layer, u.needs) for u in finding.unchecked
    }
