"""The collector reads an object's tags (GetObjectTagging; GetObjectVersionTagging for a version):
tags as they are, an untagged object as no tags, a refused read as unreadable naming the
permission, never "no tags"."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.collect.live import Boto3SnapshotSource
from chalicelib.collect.source import CollectionScope, ObjectRef
from tests.functional.collect.conftest import (
    client,
    enable_iam_authentication,
    moto_clients,
    user_session,
)

BUCKET = "tagged-objects"
TAGGED, UNTAGGED = "reports/q1.csv", "reports/q2.csv"
HOSTILE = "@here =a+b:/c"  # S3 allows letters, digits, spaces and + - = . _ : / @


def _collect(url: str, *objects: ObjectRef, **kwargs: Any) -> dict[str, Any]:
    source = Boto3SnapshotSource(moto_clients(url, **kwargs))
    doc: dict[str, Any] = source.collect(CollectionScope(objects=objects))
    return doc["s3"]["buckets"][BUCKET]["objects"]


@pytest.fixture(scope="module")
def collected(moto_url: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The objects as an allowed collector reads them (the version too), then as one refused
    GetObjectTagging (moto IAM authentication on from then on)."""
    s3 = client(moto_url, "s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=BUCKET, Key=TAGGED, Body=b"v1", Tagging="classification=old")
    s3.put_object(Bucket=BUCKET, Key=TAGGED, Body=b"v2")
    s3.put_object_tagging(
        Bucket=BUCKET,
        Key=TAGGED,
        Tagging={
            "TagSet": [
                {"Key": "classification", "Value": "public"},
                {"Key": "owner", "Value": HOSTILE},
            ]
        },
    )
    s3.put_object(Bucket=BUCKET, Key=UNTAGGED, Body=b"x")
    refs = (ObjectRef(bucket=BUCKET, key=TAGGED), ObjectRef(bucket=BUCKET, key=UNTAGGED))
    allowed = _collect(moto_url, *refs)
    version = _collect(
        moto_url, ObjectRef(bucket=BUCKET, key=TAGGED, version_id=first["VersionId"])
    )

    no_tags = user_session(
        moto_url,
        "object-reader",
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:GetObjectTagging", "Resource": "*"},
    )
    enable_iam_authentication(moto_url)
    refused = _collect(moto_url, *refs, boto_session=no_tags)
    return allowed, version, refused


def test_object_tags_are_collected_as_they_are(collected: tuple[dict[str, Any], ...]) -> None:
    objects, _, _ = collected

    assert objects[TAGGED]["tags"] == [
        {"Key": "classification", "Value": "public"},
        {"Key": "owner", "Value": HOSTILE},
    ]
    assert objects[UNTAGGED]["tags"] == []


def test_a_version_is_read_with_its_own_tags(collected: tuple[dict[str, Any], ...]) -> None:
    _, version, _ = collected

    assert version[TAGGED]["tags"] == [{"Key": "classification", "Value": "old"}]


def test_refused_tags_are_unreadable_never_none(collected: tuple[dict[str, Any], ...]) -> None:
    _, _, refused = collected

    for key in (TAGGED, UNTAGGED):
        assert refused[key]["tags"] == {
            "$unreadable": "AccessDenied",
            "needs": "s3:GetObjectTagging",
        }
        assert "acl" in refused[key] and "head" in refused[key]  # the other reads go on
