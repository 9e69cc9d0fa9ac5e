"""The EventBridge pattern through a real matcher: a rule on a moto server with an SQS target.

Every event file of tests/data/events that is a denied S3 call is delivered; events from another
source, with another errorCode, or without one are not. Deliveries are read back from SQS.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from chalicelib.events import ACCESS_DENIED_PATTERN

REGION = "us-east-1"
EVENTS = Path(__file__).resolve().parents[2] / "data" / "events"


def _events() -> list[Any]:
    """Every EventBridge event file, as a pytest param named after the file."""
    docs = {
        p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(EVENTS.glob("*.json"))
    }
    return [pytest.param(doc, id=name) for name, doc in docs.items() if "detail-type" in doc]


def _denied_s3(event: dict[str, Any]) -> bool:
    return event["source"] == "aws.s3" and event["detail"].get("errorCode") == "AccessDenied"


@pytest.fixture(scope="module")
def clients() -> Iterator[tuple[Any, Any]]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        url = f"http://127.0.0.1:{server._server.server_port}"
        yield session.client("events", endpoint_url=url), session.client("sqs", endpoint_url=url)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def delivered(clients: tuple[Any, Any]) -> dict[str, dict[str, Any]]:
    """Send every event file through the rule and collect what reached the queue, by id."""
    events, sqs = clients
    queue_url = sqs.create_queue(QueueName="access-denied")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(
        Name="s3-access-denied",
        EventPattern=json.dumps(ACCESS_DENIED_PATTERN),
        State="ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
    )
    events.put_targets(Rule="s3-access-denied", Targets=[{"Id": "queue", "Arn": queue_arn}])
    for param in _events():
        (event,) = param.values
        response = events.put_events(
            Entries=[
                {
                    "Source": event["source"],
                    "DetailType": event["detail-type"],
                    "Detail": json.dumps(event["detail"]),
                }
            ]
        )
        assert response["FailedEntryCount"] == 0
    received: dict[str, dict[str, Any]] = {}
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages")
        if not batch:
            return received
        for message in batch:
            body = json.loads(message["Body"])
            received[body["detail"]["eventID"]] = body


@pytest.mark.parametrize("event", [p for p in _events() if _denied_s3(p.values[0])])
def test_denied_s3_event_is_delivered(event: dict[str, Any], delivered: dict[str, Any]) -> None:
    body = delivered.get(event["detail"]["eventID"])

    assert body is not None
    assert body["detail"] == event["detail"]


@pytest.mark.parametrize("event", [p for p in _events() if not _denied_s3(p.values[0])])
def test_other_events_are_not_delivered(event: dict[str, Any], delivered: dict[str, Any]) -> None:
    assert event["detail"]["eventID"] not in delivered
