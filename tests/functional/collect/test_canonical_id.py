"""An account side's canonical user id (ListBuckets `Owner.ID`), read over a moto server; a
collector refused `s3:ListAllMyBuckets` writes an `$unreadable` marker, never a crash."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.collect.live import Boto3SnapshotSource
from chalicelib.collect.source import CollectionScope
from chalicelib.snapshot import load_snapshot
from tests.functional.collect.conftest import (
    ACCOUNT,
    client,
    enable_iam_authentication,
    moto_clients,
    user_session,
)


def _collector(url: str, user: str, *statements: dict[str, Any]) -> Boto3SnapshotSource:
    boto_session = user_session(url, user, *statements)
    return Boto3SnapshotSource(moto_clients(url, boto_session=boto_session))


@pytest.fixture(scope="module")
def sources(moto_url: str) -> dict[str, Any]:
    """The account's own canonical id, a collector allowed every read and one refused
    s3:ListAllMyBuckets (moto's IAM authentication on from then on)."""
    owner = client(moto_url, "s3").list_buckets()["Owner"]["ID"]
    everything = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    allowed = _collector(moto_url, "reader", everything)
    refused = _collector(
        moto_url,
        "no-listing",
        everything,
        # moto authorises ListBuckets as s3:ListBuckets (the API name); AWS as s3:ListAllMyBuckets
        {"Effect": "Deny", "Action": ["s3:ListAllMyBuckets", "s3:ListBuckets"], "Resource": "*"},
    )
    enable_iam_authentication(moto_url)
    return {"owner": owner, "allowed": allowed, "refused": refused}


def test_the_canonical_id_is_the_list_buckets_owner_id(sources: dict[str, Any]) -> None:
    doc = sources["allowed"].collect(CollectionScope(canonical_id=True))

    assert doc["canonical_id"] == sources["owner"]


def test_the_canonical_id_is_read_only_when_asked(sources: dict[str, Any]) -> None:
    assert "canonical_id" not in sources["allowed"].collect(CollectionScope())


def test_a_refused_list_buckets_leaves_the_canonical_id_unreadable(
    sources: dict[str, Any],
) -> None:
    doc = sources["refused"].collect(CollectionScope(canonical_id=True))

    assert doc["canonical_id"] == {"$unreadable": "AccessDenied", "needs": "s3:ListAllMyBuckets"}


@pytest.mark.parametrize("which", ["allowed", "refused"])
def test_the_collected_id_loads_as_another_account_s_side(
    sources: dict[str, Any], which: str
) -> None:
    part = sources[which].collect(CollectionScope(canonical_id=True))["canonical_id"]
    doc = {"account_id": "210987654321", "s3": {"buckets": {}}, "accounts": {ACCOUNT: {}}}
    doc["accounts"][ACCOUNT]["canonical_id"] = part

    side = load_snapshot(doc).accounts[ACCOUNT]

    assert not isinstance(side, dict)
    loaded = getattr(side, "canonical_id", None)
    if which == "allowed":
        assert loaded == sources["owner"]
    else:
        assert getattr(loaded, "needs", None) == "s3:ListAllMyBuckets"
