"""Issue 14.5 through the deployed shape: with COLLECTION_CACHE_TABLE_NAME, a new container of
the event function reads what another one collected from the table, not from IAM and S3."""

from __future__ import annotations

import json
import uuid
from collections import Counter

import boto3
import pytest

from chalicelib import wiring
from chalicelib.collect.shared_cache import create_cache_table
from chalicelib.demo.cloudtrail import user_get_object_denial
from tests.functional.serverless.conftest import (
    ACCOUNT,
    BUCKET,
    EVENT_TIME,
    REGION,
    USER,
    Deployment,
)

POLICY_READS = ("iam.", "s3.GetBucket", "s3control.", "kms.", "ec2.", "organizations.")


def _denial(key: str, event_time: str = EVENT_TIME) -> dict[str, object]:
    return user_get_object_denial(
        event_id=uuid.uuid4().hex,
        event_time=event_time,
        account_id=ACCOUNT,
        region=REGION,
        user_name=USER,
        user_id="AIDAALICE",
        bucket=BUCKET,
        key=key,
    )


def _reads_since(before: Counter[str]) -> Counter[str]:
    calls = Counter(wiring.COLLECTION_CALLS.snapshot())
    calls.subtract(before)
    return Counter({name: n for name, n in calls.items() if n > 0})


def _policy_reads(calls: Counter[str]) -> int:
    return sum(n for name, n in calls.items() if name.startswith(POLICY_READS))


@pytest.fixture
def shared(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    table = f"collection-cache-{uuid.uuid4().hex[:8]}"
    create_cache_table(boto3.client("dynamodb", region_name=REGION), table)
    monkeypatch.setenv("COLLECTION_CACHE_TABLE_NAME", table)
    wiring.reset()
    return deployment


def test_a_new_container_reads_the_policies_from_the_shared_table(shared: Deployment) -> None:
    before = Counter(wiring.COLLECTION_CALLS.snapshot())
    first = shared.invoke(_denial("2025/03/ledger.csv"))
    cold = _reads_since(before)

    wiring.reset()  # a second container: new wiring, clients and in-memory caches
    before = Counter(wiring.COLLECTION_CALLS.snapshot())
    # a distinct denial: another key, past the aggregation window of the first
    second = shared.invoke(_denial("2025/03/other.csv", "2025-03-01T12:00:00Z"))
    warm = _reads_since(before)

    assert (first["status"], second["status"]) == ("new", "new")
    assert second["decision"] == first["decision"]
    assert _policy_reads(cold) >= 5
    assert _policy_reads(warm) == 0, warm
    assert wiring.read_sharing().cache is not None
    assert wiring.read_sharing().cache.stats.snapshot()["hit"] >= 5


def test_each_invocation_writes_what_the_shared_table_did_as_metrics(
    shared: Deployment, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Hits, misses and writes of the collection cache table, per invocation (EMF), so an
    operator sees whether the table spares AWS reads (issue 14.5)."""
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    capsys.readouterr()
    shared.invoke(_denial("2025/03/ledger.csv"))
    wiring.reset()  # a second container reads what the first one wrote
    shared.invoke(_denial("2025/03/other.csv", "2025-03-01T12:00:00Z"))
    blobs = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith('{"_aws"') and "SharedCacheHits" in line
    ]
    assert len(blobs) == 2, blobs
    first, second = blobs
    assert first["SharedCacheWrites"] >= [5.0] and first["SharedCacheHits"] == [0.0]
    assert second["SharedCacheHits"] >= [5.0] and second["SharedCacheErrors"] == [0.0]
