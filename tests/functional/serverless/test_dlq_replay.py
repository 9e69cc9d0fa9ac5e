"""`s3doctor replay --from-dlq`: the dead-letter queue drained through the function's own path.

Real-shaped Lambda on-failure destination records (the invocation record Lambda sends after the
last retry, `requestPayload` = the EventBridge event) on a moto queue; the CLI handles them with
`service.handle_event` and `wiring.event_ports()` against the seeded account, the table and the
topic of the `deployment` fixture, deletes what it handled and leaves the rest with the reason.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.cli import main

from .conftest import ACCOUNT, BUCKET, REGION, Deployment, denied_event

FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:s3-403-doctor-prod-OnAccessDenied-X1Y2"


def on_failure_record(event: dict[str, Any], *, error: str = "ClientError") -> dict[str, Any]:
    """What Lambda's on-failure destination sends once an asynchronous event exhausted its
    retries (two retries: three attempts)."""
    return {
        "version": "1.0",
        "timestamp": "2025-03-01T10:07:12.345Z",
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"{FUNCTION_ARN}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": event,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {
            "errorMessage": "An error occurred (ThrottlingException) when calling the "
            "TransactWriteItems operation: Rate exceeded",
            "errorType": error,
            "requestId": str(uuid.uuid4()),
            "stackTrace": ['  File "/var/task/app.py", line 21, in on_access_denied\n'],
        },
    }


@pytest.fixture
def dlq(deployment: Deployment) -> str:
    return deployment.sqs.create_queue(QueueName=f"dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]


def _put(deployment: Deployment, queue_url: str, *bodies: Any) -> None:
    for body in bodies:
        text = body if isinstance(body, str) else json.dumps(body)
        deployment.sqs.send_message(QueueUrl=queue_url, MessageBody=text)


def _drain(queue_url: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(["replay", "--from-dlq", queue_url, "--output", "json"])
    return code, json.loads(capsys.readouterr().out)


def _depth(deployment: Deployment, queue_url: str) -> int:
    attributes = deployment.sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"  # left ones visible again
    return int(attributes["ApproximateNumberOfMessages"])


def _table(deployment: Deployment) -> list[dict[str, Any]]:
    items = deployment.dynamodb.scan(TableName=deployment.table)["Items"]
    return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))


def test_drain_handles_on_failure_records_once_and_leaves_what_it_cannot(
    deployment: Deployment, dlq: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN two events the function gave up on, and two messages that are no such record
    records = [on_failure_record(denied_event("dlq-1")), on_failure_record(denied_event("dlq-2"))]
    _put(deployment, dlq, *records, "not json at all", {"requestContext": {}, "requestPayload": 7})

    # WHEN the queue is drained
    code, report = _drain(dlq, capsys)

    # THEN both events were handled like the function does: one finding, alerted once, the
    # second denial counted on it; their messages are gone, the other two stay, with the reason
    assert code == 1  # something was left
    assert report["handled"] == {"new": 1, "repeat": 1}
    assert report["deleted"] == 2
    reasons = sorted(item["reason"] for item in report["left"])
    assert reasons == ["an invocation record without a requestPayload object", "not JSON"]
    assert _depth(deployment, dlq) == 2
    (alert,) = deployment.received()
    assert alert["MessageAttributes"]["bucket"]["Value"] == BUCKET
    (finding_id,) = report["finding_ids"]
    stored = _table(deployment)
    assert any(item.get("pk", {}).get("S", "").endswith(finding_id) for item in stored)

    # WHEN the same records come back (a redelivery) and the queue is drained a second time
    _put(deployment, dlq, *records)
    code, report = _drain(dlq, capsys)

    # THEN nothing changes: no new finding, no new alert; the duplicates are deleted
    assert code == 1
    assert report["handled"] == {"duplicate": 2}
    assert len(report["left"]) == 2
    assert _table(deployment) == stored
    assert deployment.received() == []
    assert _depth(deployment, dlq) == 2


def test_a_message_stays_until_its_event_is_handled(
    deployment: Deployment,
    dlq: str,
    moto_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _put(deployment, dlq, on_failure_record(denied_event("dlq-fails-first")))
    # GIVEN the topic cannot be published to (the cause of the original failures, not fixed yet)
    missing = f"arn:aws:sns:{REGION}:{ACCOUNT}:no-such-topic-{uuid.uuid4().hex[:6]}"
    moto_env.setenv("FINDINGS_TOPIC_ARN", missing)
    wiring.reset()

    code, report = _drain(dlq, capsys)

    # THEN the message stays on the queue, with the error and the original failure
    assert code == 1
    assert report["handled"] == {}
    ((where, reason),) = [(i["message"], i["reason"]) for i in report["left"]]
    assert "(event dlq-fails-first)" in where
    assert "NotFound" in reason
    assert "RetriesExhausted after 3 attempts: Unhandled" in reason
    assert _depth(deployment, dlq) == 1
    assert deployment.received() == []

    # WHEN the cause is fixed and the queue drained again
    moto_env.setenv("FINDINGS_TOPIC_ARN", deployment.topic_arn)
    wiring.reset()
    code, report = _drain(dlq, capsys)

    # THEN the finding stored by the failed attempt is alerted now, once, and the message deleted
    assert code == 0
    assert sum(report["handled"].values()) == 1
    assert set(report["handled"]) <= {"new", "republished"}
    assert len(deployment.received()) == 1
    assert _depth(deployment, dlq) == 0
    assert main(["replay", "--from-dlq", dlq]) == 0
    assert "is empty" in capsys.readouterr().out


def test_from_dlq_refuses_other_sources(dlq: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--from-dlq", dlq, "--events", "x.json"]) == 2
    assert "--from-dlq" in capsys.readouterr().err
