"""Issue 14.5: the collection cache shared by the event function's containers, on the moto server.

Each "container" is its own `Boto3SnapshotSource` (its own in-memory cache, clients and limiter)
sharing one DynamoDB table; the calls each makes to IAM, S3, KMS and EC2 are counted on its
clients.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from chalicelib import service
from chalicelib.collect.base import Absent, Present, Unreadable
from chalicelib.collect.live import Boto3SnapshotSource
from chalicelib.collect.shared_cache import (
    ReadLimiter,
    ReadSharing,
    SharedReadCache,
    create_cache_table,
    decode,
    encode,
    item_key,
)
from chalicelib.demo.cloudtrail import user_get_object_denial
from chalicelib.events.parse import parse_event
from chalicelib.model import AccessRequest, Finding
from tests.functional.collect.conftest import (
    ACCOUNT,
    REGION,
    CallCounter,
    Seeded,
    client,
    moto_clients,
)

TABLE = "collection-cache"
OTHER = "222233334444"
BUCKET = "reports-bucket"
KEY = "2026/q3.csv"
AWS_READS = ("iam:", "s3:", "kms:", "ec2:", "organizations:")


class Clock:
    """Real time (moto's TTL sweep, if any, sees consistent expiries), moved by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


class Container:
    """One warm Lambda container: its collector, and the AWS reads of its clients."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock,
        table: str | None = TABLE,
        account: str = ACCOUNT,
        boto_session: boto3.Session | None = None,
    ) -> None:
        self.reads = CallCounter()
        self.cache = (
            SharedReadCache(table, client(url, "dynamodb"), ttl_seconds=60, clock=clock)
            if table
            else None
        )
        self.source = Boto3SnapshotSource(
            moto_clients(url, counter=self.reads, boto_session=boto_session),
            account_id=account,
            clock=clock,
            sharing=ReadSharing(cache=self.cache, limiter=ReadLimiter(4)),
        )

    def diagnose(self, request: AccessRequest, clock: Clock) -> Finding:
        return service.diagnose_request(request, source=self.source, clock=clock)

    @property
    def aws_reads(self) -> int:
        return sum(n for call, n in self.reads.calls.items() if call.startswith(AWS_READS))

    def stats(self) -> dict[str, int]:
        assert self.cache is not None
        return self.cache.stats.snapshot()


def denial(account: str = ACCOUNT, user: str = "alice") -> AccessRequest:
    return parse_event(
        user_get_object_denial(
            event_id="shared-1",
            event_time="2026-03-01T10:00:00Z",
            account_id=account,
            region=REGION,
            user_name=user,
            user_id=f"AIDA{user.upper()}",
            bucket=BUCKET,
            key=KEY,
        )
    )


@pytest.fixture(scope="module")
def table(moto_url: str, seeded: Seeded) -> str:
    create_cache_table(client(moto_url, "dynamodb"), TABLE)
    return TABLE


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def empty_table(moto_url: str, table: str) -> str:
    dynamodb = client(moto_url, "dynamodb")
    for item in dynamodb.scan(TableName=table)["Items"]:
        dynamodb.delete_item(TableName=table, Key={"pk": item["pk"]})
    return table


def test_second_container_reads_the_table_not_iam_or_s3(
    moto_url: str, empty_table: str, clock: Clock
) -> None:
    first, second = Container(moto_url, clock=clock), Container(moto_url, clock=clock)

    cold = first.diagnose(denial(), clock)
    warm = second.diagnose(denial(), clock)

    assert first.aws_reads >= 10  # principal, groups, policies, bucket, object, keys
    assert second.aws_reads == 0
    assert second.stats()["hit"] >= first.stats()["write"] > 0
    assert warm.to_dict() == cold.to_dict()
    assert not any("$unreadable" in json.dumps(u.to_dict()) for u in warm.unchecked)


def test_an_expired_part_is_read_again(moto_url: str, empty_table: str, clock: Clock) -> None:
    Container(moto_url, clock=clock).diagnose(denial(), clock)
    clock.now += timedelta(seconds=61)  # past the TTL, before DynamoDB's sweep

    late = Container(moto_url, clock=clock)
    late.diagnose(denial(), clock)

    assert late.aws_reads >= 10
    assert late.stats()["stale"] >= 10
    assert "hit" not in late.stats()


def test_a_failing_table_means_direct_reads_and_the_same_finding(
    moto_url: str, table: str, clock: Clock
) -> None:
    alone = Container(moto_url, clock=clock, table=None)
    broken = Container(moto_url, clock=clock, table="no-such-table")

    expected = alone.diagnose(denial(), clock)
    finding = broken.diagnose(denial(), clock)

    assert finding.to_dict() == expected.to_dict()
    assert broken.aws_reads == alone.aws_reads
    stats = broken.stats()
    assert stats["errors"] >= 1 and stats.get("bypassed", 0) >= 1  # then left alone
    assert "hit" not in stats and "write" not in stats


def _session_in(url: str, account: str) -> boto3.Session:
    credentials = client(url, "sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/seed", RoleSessionName="seed"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )


def test_one_accounts_parts_never_serve_another(
    moto_url: str, empty_table: str, clock: Clock
) -> None:
    other = _session_in(moto_url, OTHER)
    client(moto_url, "iam", other).create_user(UserName="alice")  # same name, no policies
    Container(moto_url, clock=clock).diagnose(denial(), clock)

    theirs = Container(moto_url, clock=clock, account=OTHER, boto_session=other)
    snapshot = theirs.source.snapshot_for(denial(OTHER))

    assert "hit" not in theirs.stats()
    assert theirs.reads.calls["iam:GetUser"] == 1
    (alice,) = snapshot["iam"]["UserDetailList"]
    assert alice["Arn"] == f"arn:aws:iam::{OTHER}:user/alice"
    assert alice["UserPolicyList"] == [] and alice["AttachedManagedPolicies"] == []


def test_what_does_not_fit_in_an_item_is_read_again(
    moto_url: str, empty_table: str, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("chalicelib.collect.shared_cache.MAX_VALUE_BYTES", 0)
    first = Container(moto_url, clock=clock)
    first.diagnose(denial(), clock)
    second = Container(moto_url, clock=clock)
    second.diagnose(denial(), clock)

    assert first.stats()["too_large"] >= 10 and "write" not in first.stats()
    assert second.aws_reads == first.aws_reads


def test_an_unreadable_answer_is_never_kept(moto_url: str, table: str, clock: Clock) -> None:
    cache = SharedReadCache(table, client(moto_url, "dynamodb"), clock=clock)
    key = ("s3:GetBucketPolicy", "refused-bucket")
    cache.put(ACCOUNT, "aws", key, Absent(code="NoSuchBucketPolicy"))
    assert cache.get(ACCOUNT, "aws", key) == Absent(code="NoSuchBucketPolicy")

    refused = ("s3:GetBucketPolicy", "other-bucket")

    cache.put(ACCOUNT, "aws", refused, Unreadable(code="AccessDenied", needs="s3:GetBucketPolicy"))
    assert cache.get(ACCOUNT, "aws", refused) is None
    assert encode(Unreadable(code="AccessDenied", needs="x")) is None


def test_the_stored_answer_is_the_answer() -> None:
    value: dict[str, Any] = {
        "Policy": '{"Statement": []}',
        "When": datetime(2026, 1, 1, tzinfo=UTC),
    }
    blob = encode(Present(value=value))
    assert blob is not None
    assert decode(blob) == Present(
        value={"Policy": value["Policy"], "When": "2026-01-01T00:00:00+00:00"}
    )
    assert (
        item_key(ACCOUNT, "aws", ("s3:GetBucketPolicy", "b"))
        != item_key(OTHER, "aws", ("s3:GetBucketPolicy", "b"))
        != item_key(ACCOUNT, "aws-cn", ("s3:GetBucketPolicy", "b"))
    )
