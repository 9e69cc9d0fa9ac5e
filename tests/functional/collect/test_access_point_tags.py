"""The collector reads an access point's tags (S3 Control ListTagsForResource): they are the
`aws:ResourceTag/<key>` of the requests through it. Tags as they are, none as no tags, a refused
read as unreadable naming the permission, never "no tags"."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.collect.live import Boto3SnapshotSource
from chalicelib.collect.source import CollectionScope
from tests.functional.collect.conftest import (
    ACCOUNT,
    client,
    enable_iam_authentication,
    moto_clients,
    user_session,
)

BUCKET = "point-bucket"


def _collect(url: str, *arns: str, **kwargs: Any) -> dict[str, Any]:
    source = Boto3SnapshotSource(moto_clients(url, **kwargs))
    doc: dict[str, Any] = source.collect(CollectionScope(access_point_arns=arns))
    return doc["s3"]["access_points"]


@pytest.fixture(scope="module")
def collected(moto_url: str) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
    """Two access points, one tagged, read by an allowed collector, then by one refused
    ListTagsForResource (moto IAM authentication on from then on)."""
    client(moto_url, "s3").create_bucket(Bucket=BUCKET)
    s3control = client(moto_url, "s3control")
    tagged, plain = (
        s3control.create_access_point(AccountId=ACCOUNT, Name=name, Bucket=BUCKET)["AccessPointArn"]
        for name in ("tagged-point", "plain-point")
    )
    s3control.tag_resource(
        AccountId=ACCOUNT,
        ResourceArn=tagged,
        Tags=[{"Key": "team", "Value": "finance"}, {"Key": "owner", "Value": "@here =a"}],
    )
    allowed = _collect(moto_url, tagged, plain)

    no_tags = user_session(
        moto_url,
        "point-reader",
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:ListTagsForResource", "Resource": "*"},
    )
    enable_iam_authentication(moto_url)
    refused = _collect(moto_url, tagged, plain, boto_session=no_tags)
    return tagged, plain, allowed, refused


def test_access_point_tags_are_collected_as_they_are(collected: tuple[Any, ...]) -> None:
    tagged, plain, points, _ = collected

    assert points[tagged]["tags"] == [
        {"Key": "team", "Value": "finance"},
        {"Key": "owner", "Value": "@here =a"},
    ]
    assert points[plain]["tags"] == []


def test_refused_tags_are_unreadable_never_none(collected: tuple[Any, ...]) -> None:
    tagged, plain, _, refused = collected

    for arn in (tagged, plain):
        marker = refused[arn]["tags"]
        assert marker["needs"] == "s3:ListTagsForResource"
        assert marker["$unreadable"] in ("AccessDenied", "HTTP 403")  # moto: a bare 403
        assert refused[arn]["Bucket"] == BUCKET  # the other reads go on
