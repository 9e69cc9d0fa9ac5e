"""The event path end to end: EventBridge event -> Chalice handler -> DynamoDB + SNS -> SQS."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from chalicelib import observability, wiring
from chalicelib.diagnose.detail import Detail, at_detail
from chalicelib.publish.ports import FindingQuery

from .conftest import ACCOUNT, BUCKET, OTHER_BUCKET, USER, denied_event

PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:user/{USER}"


def test_denial_gives_one_filtered_alert_and_one_finding_found_by_every_query(deployment):
    # WHEN a denial in the watched bucket and one in the bucket the subscriber filters out
    first = deployment.invoke(denied_event("11111111-1111-1111-1111-111111111111"))
    deployment.invoke(denied_event("22222222-2222-2222-2222-222222222222", bucket=OTHER_BUCKET))

    # THEN the subscriber received one notification: readable subject, finding JSON, attributes
    assert first["status"] == "new"
    messages = deployment.received()
    assert len(messages) == 1
    notification = messages[0]
    body = json.loads(notification["Message"])
    assert body["finding_id"] == first["finding_id"]
    assert body["request"]["bucket"] == BUCKET
    assert (body["decision"], body["blocked_by"]) == ("implicit-deny", ["identity-policy"])
    assert len(notification["Subject"]) < 100
    attributes = {k: v["Value"] for k, v in notification["MessageAttributes"].items()}
    assert attributes["bucket"] == BUCKET
    assert attributes["principal_arn"] == PRINCIPAL
    assert attributes["action"] == "s3:GetObject"
    assert attributes["decision"] == body["decision"]
    assert json.loads(attributes["blocked_by"]) == body["blocked_by"]
    assert notification["MessageAttributes"]["blocked_by"]["Type"] == "String.Array"

    # ... and the finding is in the table, found by id, bucket, principal, time and decision
    store = wiring.finding_store()
    finding = store.get(first["finding_id"])
    assert finding is not None
    assert at_detail(finding, Detail.REFERENCES).to_dict() == body  # alerts show references

    def ids(**filters):
        return [f.finding_id for f in store.list(FindingQuery(**filters)).findings]

    expected = first["finding_id"]
    assert ids(bucket=BUCKET) == [expected]
    assert expected in ids(principal_arn=PRINCIPAL)
    assert expected in ids()
    assert expected in ids(decision=body["decision"])
    assert expected in ids(since=datetime(2025, 3, 1, 10, tzinfo=UTC))
    assert ids(since=datetime(2025, 3, 1, 10, 0, 1, tzinfo=UTC)) == []
    assert ids(bucket=BUCKET, decision="allowed") == []


def test_same_event_delivered_three_times_gives_one_finding_and_one_message(deployment):
    event = denied_event("33333333-3333-3333-3333-333333333333")
    statuses = [deployment.invoke(event)["status"] for _ in range(3)]
    assert statuses == ["new", "duplicate", "duplicate"]
    assert len(deployment.received()) == 1
    page = wiring.finding_store().list(FindingQuery())
    assert [f.occurrences for f in page.findings] == [1]


def test_thousand_identical_denials_give_one_finding_counted_1000_times_and_one_message(
    deployment,
):
    results = [
        deployment.invoke(
            denied_event(f"burst-{n:04d}", event_time=f"2025-03-01T10:0{n // 200}:00Z")
        )
        for n in range(1000)
    ]
    assert [r["status"] for r in results].count("new") == 1
    assert sum(r["diagnosed"] for r in results) == 1
    findings = wiring.finding_store().list(FindingQuery()).findings
    assert len(findings) == 1
    assert findings[0].occurrences == 1000
    assert findings[0].last_seen == "2025-03-01T10:04:00Z"
    assert len(deployment.received()) == 1


def test_sns_failure_raises_and_the_retry_sends_the_stored_finding_once(deployment, moto_env):
    # GIVEN the topic cannot be published to
    moto_env.setenv("FINDINGS_TOPIC_ARN", deployment.topic_arn + "-missing")
    wiring.reset()
    event = denied_event("44444444-4444-4444-4444-444444444444")
    # WHEN the event arrives, the invocation fails (Lambda will retry)
    with pytest.raises(ClientError, match=r"NotFound|does not exist"):
        deployment.invoke(event)
    # THEN the finding is stored, not lost, and not alerted yet
    store = wiring.finding_store()
    assert store.get("44444444-4444-4444-4444-444444444444") is not None
    assert deployment.received() == []
    # WHEN SNS is back and Lambda retries, then EventBridge redelivers once more
    moto_env.setenv("FINDINGS_TOPIC_ARN", deployment.topic_arn)
    wiring.reset()
    assert deployment.invoke(event)["status"] == "republished"
    assert deployment.invoke(event)["status"] == "duplicate"
    # THEN exactly one message was sent
    messages = deployment.received()
    assert len(messages) == 1
    assert (
        json.loads(messages[0]["Message"])["finding_id"] == "44444444-4444-4444-4444-444444444444"
    )


def test_malformed_event_is_logged_with_its_id_and_does_not_raise(deployment):
    event = denied_event("55555555-5555-5555-5555-555555555555")
    event["detail"]["userIdentity"] = "not an identity"
    buffer = io.StringIO()
    handler = observability.logger.registered_handler
    previous = handler.setStream(buffer)
    try:
        result = deployment.invoke(event)
    finally:
        handler.setStream(previous)
    assert result["status"] == "malformed"
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    logged = [line for line in lines if line.get("message") == "event not diagnosed"]
    assert logged and logged[0]["event_id"] == "55555555-5555-5555-5555-555555555555"
    assert logged[0]["level"] == "WARNING"
    assert logged[0]["field"] == "detail.userIdentity"
    record = wiring.finding_store().get_error("55555555-5555-5555-5555-555555555555")
    assert record is not None and "userIdentity" in record.error
    assert deployment.received() == []
