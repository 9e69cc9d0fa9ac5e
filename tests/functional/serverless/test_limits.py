"""Size limits and retention on the moto server: alerts fit SNS and findings fit a DynamoDB item
whatever their size, event records expire from processing time, error records keep no keys."""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from chalicelib import wiring
from chalicelib.diagnose.detail import Detail
from chalicelib.model import NearMiss, Remedy
from chalicelib.publish.sizing import ITEM_BUDGET
from chalicelib.publish.sns import SnsFindingPublisher
from chalicelib.publish.store import DAY, DynamoFindingStore
from tests.unit.publish.builders import build_finding

from .conftest import ACCOUNT, KEY, REGION, USER, Deployment, denied_event

SNS_LIMIT = 262_144
WINDOW_END = "2025-03-01T10:15:00Z"
BIG_POLICY_BUCKET = "serverless-big-policy"


def _raw_item(deployment: Deployment, pk: str) -> dict[str, Any]:
    item: dict[str, Any] = deployment.dynamodb.get_item(
        TableName=deployment.table, Key={"pk": {"S": pk}}, ConsistentRead=True
    )["Item"]
    return item


def _store(deployment: Deployment) -> DynamoFindingStore:
    return DynamoFindingStore(deployment.table, deployment.dynamodb)


def _many_near_misses(count: int, why: Any) -> tuple[NearMiss, ...]:
    return tuple(
        NearMiss(policy="bucket-policy:reports", index=n, why=why(n), sid=f"Sid{n}")
        for n in range(count)
    )


def _random_text(n: int) -> str:
    return base64.b64encode(os.urandom(n)).decode()


def _sent_size(message: dict[str, Any]) -> int:
    return len(message["Message"].encode())


# ---------------------------------------------------------------------------- stored findings


def test_finding_over_400_kb_is_stored_compressed_and_read_back_whole(deployment):
    finding = build_finding(
        "big-compressible",
        near_misses=_many_near_misses(4_000, lambda n: f"Resource lacks /* ({n})"),
        remedies=(
            Remedy(
                code="EDIT",
                target="reports",
                summary="Add the statement",
                patch={"Statement": [{"Sid": f"S{n}", "Effect": "Allow"} for n in range(3_000)]},
            ),
        ),
    )
    assert len(json.dumps(finding.to_dict())) > 400_000
    store = _store(deployment)
    store.create(finding, event_key="big-compressible", aggregate_keys=(), window_end=WINDOW_END)
    item = _raw_item(deployment, "finding#big-compressible")
    assert "body_z" in item and "body" not in item
    assert store.get("big-compressible") == finding
    assert store.unpublished("big-compressible") == finding


def test_incompressible_finding_is_trimmed_with_a_marker_and_still_alerted(deployment):
    # GIVEN near misses that do not compress (random text), 600 KB of them
    finding = build_finding(
        "big-random", near_misses=_many_near_misses(600, lambda n: _random_text(750))
    )
    store = _store(deployment)
    store.create(finding, event_key="big-random", aggregate_keys=(), window_end=WINDOW_END)
    # THEN the stored finding lost its near misses, says so, and keeps the rest
    stored = store.get("big-random")
    assert stored is not None
    assert stored.near_misses == ()
    assert stored.extra["truncated"] == ["evaluations.statements", "remedies.patch", "near_misses"]
    assert stored.causes == finding.causes and stored.request == finding.request
    item = _raw_item(deployment, "finding#big-random")
    assert len(item["body_z"]["B"]) < ITEM_BUDGET
    # ... and the whole finding alerts within SNS's limit, pointing at the stored one
    publisher = SnsFindingPublisher(deployment.topic_arn, deployment.sns, detail=Detail.FULL)
    publisher.publish(finding)
    [message] = deployment.received()
    assert _sent_size(message) < SNS_LIMIT
    body = json.loads(message["Message"])
    assert "near_misses" in body["truncated"]
    assert body["stored_finding"]["cli"] == "s3doctor findings get big-random"
    assert body["stored_finding"]["api"] == "GET /findings/big-random"


def test_huge_finding_alert_fits_sns_at_every_detail_level(deployment):
    finding = build_finding(
        "huge",
        near_misses=_many_near_misses(2_000, lambda n: _random_text(300)),
        notes=tuple(_random_text(3_000) for _ in range(100)),
    )
    for detail in Detail:
        SnsFindingPublisher(deployment.topic_arn, deployment.sns, detail=detail).publish(finding)
    messages = deployment.received()
    assert len(messages) == 2
    for message in messages:
        assert _sent_size(message) < SNS_LIMIT
        assert json.loads(message["Message"])["finding_id"] == "huge"


# ---------------------------------------------------------------------------- the 18 KB policy


def _big_policy() -> dict[str, Any]:
    """A legal bucket policy of about 18 KB: many grants to other teams, and the classic
    mistake: alice's grant names the bucket, not its objects (`/*` missing)."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": f"ReadersOfTeam{n:03d}",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging"],
            "Resource": f"arn:aws:s3:::{BIG_POLICY_BUCKET}/teams/team-{n:03d}/*",
            "Condition": {"StringEquals": {"aws:PrincipalTag/team": f"team-{n:03d}"}},
        }
        for n in range(58)
    ]
    statements.append(
        {
            "Sid": "AliceReadsReports",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{USER}"},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BIG_POLICY_BUCKET}",
        }
    )
    return {"Version": "2012-10-17", "Statement": statements}


@pytest.fixture
def big_policy_bucket(moto_env: pytest.MonkeyPatch) -> Iterator[str]:
    s3 = boto3.Session(region_name=REGION).client("s3")
    s3.create_bucket(Bucket=BIG_POLICY_BUCKET)
    s3.put_object(Bucket=BIG_POLICY_BUCKET, Key=KEY, Body=b"ledger\n")
    policy = json.dumps(_big_policy())
    assert 17_000 < len(policy) < 20_480
    s3.put_bucket_policy(Bucket=BIG_POLICY_BUCKET, Policy=policy)
    yield BIG_POLICY_BUCKET
    s3.delete_bucket_policy(Bucket=BIG_POLICY_BUCKET)


@pytest.mark.parametrize("detail", ["full", "references"])
def test_18_kb_bucket_policy_denial_is_alerted_once_and_stored_whole(
    deployment, moto_env, big_policy_bucket, detail
):
    moto_env.setenv("ALERT_DETAIL", detail)
    wiring.reset()
    event_id = f"big-policy-{detail}"
    result = deployment.invoke(denied_event(event_id, bucket=big_policy_bucket))
    assert result["status"] == "new" and result["published"]
    [message] = deployment.received()
    assert _sent_size(message) < SNS_LIMIT
    body = json.loads(message["Message"])
    assert body["finding_id"] == event_id
    assert body["decision"] == "implicit-deny"
    if detail == "full":  # whole, the alert would be about 290 KiB: it was shortened
        assert body["truncated"][0] == "evaluations"
        assert body["stored_finding"]["finding_id"] == event_id
        assert f"s3doctor findings get {event_id}" in message["Message"]
    # the stored finding is whole: the fix with its patched 18 KB policy, the near misses
    stored = wiring.finding_store().get(event_id)
    assert stored is not None and "truncated" not in stored.extra
    assert stored.decision.value == "implicit-deny"
    assert stored.near_misses and stored.evaluations
    patches = [r.patch for r in stored.remedies if r.patch]
    assert patches and len(json.dumps(patches)) > 17_000


# ---------------------------------------------------------------------------- retention, errors


def test_event_records_of_old_events_expire_a_week_after_processing(deployment):
    # GIVEN events from years ago, replayed now: a new finding and a repeat
    before = int(time.time())
    for event_id in ("old-1", "old-2"):
        deployment.invoke(denied_event(event_id, event_time="2021-06-01T08:00:00Z"))
    # THEN their event records expire 7 days from now, not from 2021
    for event_id in ("old-1", "old-2"):
        expires = int(_raw_item(deployment, f"event#{event_id}")["expires_at"]["N"])
        assert before + 7 * DAY <= expires <= int(time.time()) + 7 * DAY
    # ... so a redelivery is still recognised
    assert deployment.invoke(denied_event("old-1", event_time="2021-06-01T08:00:00Z"))[
        "status"
    ] == ("duplicate")


def test_error_record_keeps_no_access_key_ids(deployment):
    event = denied_event(f"bad-{uuid.uuid4().hex[:6]}")
    detail = event["detail"]
    detail["userIdentity"]["accessKeyId"] = "AKIAIOSFODNN7EXAMPLE"
    detail["requestParameters"] = {"note": "session ASIAY34FZKBOKMUTVV7A in a string"}
    del detail["eventName"]  # malformed
    result = deployment.invoke(event)
    assert result["status"] == "malformed"
    record = wiring.finding_store().get_error(detail["eventID"])
    assert record is not None and record.event_excerpt is not None
    for secret in ("AKIAIOSFODNN7EXAMPLE", "ASIAY34FZKBOKMUTVV7A"):
        assert secret not in record.event_excerpt
    assert '"accessKeyId": "REDACTED"' in record.event_excerpt
    assert USER in record.event_excerpt  # the rest is kept
