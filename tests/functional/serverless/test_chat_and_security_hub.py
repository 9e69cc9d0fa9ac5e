"""Issue 12: the chat topic (AWS Chatbot custom notifications) and Security Hub, on moto.

The chat topic's SQS subscriber receives exactly the custom-notification document of each
alert (and the budget notices); the main topic's subscriber still receives the finding JSON;
Security Hub holds one ASFF finding per alerted finding, updated (not duplicated) as repeats
reach powers of two. moto implements BatchImportFindings and GetFindings (without filters);
it lacks BatchUpdateFindings, so a user's workflow change cannot be made here: that updates
never carry `Workflow` is checked on the document (tests/unit/publish/test_securityhub.py).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import jsonschema
import pytest

from chalicelib import wiring
from chalicelib.diagnose.detail import Detail
from chalicelib.publish.chat import chat_notification
from chalicelib.publish.securityhub import asff_id
from tests.unit.publish.builders import build_finding
from tests.unit.publish.test_chat import SCHEMA

from .conftest import ACCOUNT, BUCKET, REGION, denied_event


def _queue(sns: Any, sqs: Any, topic_arn: str) -> str:
    url = sqs.create_queue(QueueName=f"chat-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true"},  # what Chatbot reads: the message itself
    )
    return url


def _drain(sqs: Any, url: str) -> list[str]:
    bodies: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def chat(deployment, moto_env: pytest.MonkeyPatch) -> str:
    """A chat topic with an SQS subscriber; chat and Security Hub switched on."""
    topic_arn = deployment.sns.create_topic(Name=f"chat-{uuid.uuid4().hex[:8]}")["TopicArn"]
    url = _queue(deployment.sns, deployment.sqs, topic_arn)
    moto_env.setenv("CHAT_TOPIC_ARN", topic_arn)
    moto_env.setenv("SECURITY_HUB", "enabled")
    wiring.reset()
    yield url
    # moto_env is the session's: leave nothing behind for the next tests
    for name in ("CHAT_TOPIC_ARN", "SECURITY_HUB", "ALERT_BUDGET"):
        moto_env.delenv(name, raising=False)
    wiring.reset()


def _hub_findings(asff: str) -> list[dict[str, Any]]:
    client = boto3.Session(region_name=REGION).client("securityhub")
    found = client.get_findings(MaxResults=100)["Findings"]  # moto ignores Filters
    return [f for f in found if f["Id"] == asff]


def test_chat_subscriber_receives_exactly_the_custom_notification(deployment, chat) -> None:
    result = deployment.invoke(denied_event(str(uuid.uuid4())))
    assert result["status"] == "new" and result["published"]

    stored = wiring.finding_store().get(result["finding_id"])
    assert stored is not None
    bodies = _drain(deployment.sqs, chat)
    assert len(bodies) == 1
    document = json.loads(bodies[0])
    assert document == chat_notification(stored, Detail.REFERENCES)
    jsonschema.validate(document, SCHEMA)
    assert document["content"]["keywords"] == ["identity-policy", BUCKET, "implicit-deny"]

    # the main topic's subscriber still gets the finding JSON, not the chat document
    main = deployment.received()
    assert len(main) == 1
    body = json.loads(main[0]["Message"])
    assert body["finding_id"] == result["finding_id"] and "content" not in body


def test_security_hub_holds_one_finding_updated_at_powers_of_two(deployment, chat) -> None:
    first = deployment.invoke(denied_event(str(uuid.uuid4())))
    asff = asff_id(first["finding_id"])
    [imported] = _hub_findings(asff)
    assert imported["ProductArn"] == (
        f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"
    )
    assert imported["Workflow"] == {"Status": "NEW"} and imported["RecordState"] == "ACTIVE"
    assert imported["Severity"]["Label"] == "MEDIUM"
    assert [r["Type"] for r in imported["Resources"]] == [
        "AwsS3Bucket",
        "AwsS3Object",
        "AwsIamUser",
    ]
    assert imported["ProductFields"]["s3doctor/Occurrences"] == "1"

    for _ in range(4):  # occurrences 2..5: re-imported at 2 and 4
        repeat = deployment.invoke(denied_event(str(uuid.uuid4())))
        assert repeat["status"] == "repeat" and repeat["finding_id"] == first["finding_id"]

    [updated] = _hub_findings(asff)
    assert updated["ProductFields"]["s3doctor/Occurrences"] == "4"
    assert updated["Workflow"] == {"Status": "NEW"}  # kept: updates carry no Workflow
    assert updated["CreatedAt"] == imported["CreatedAt"]
    assert len(_drain(deployment.sqs, chat)) == 1  # repeats send no chat message


def test_budget_notices_reach_chat_too(deployment, chat, moto_env) -> None:
    moto_env.setenv("ALERT_BUDGET", "1")
    wiring.reset()
    publisher = wiring.finding_publisher()
    publisher.publish(build_finding(f"a-{uuid.uuid4().hex}", bucket=BUCKET))
    assert publisher.publish(build_finding(f"b-{uuid.uuid4().hex}", bucket=BUCKET)) == ""

    documents = [json.loads(b) for b in _drain(deployment.sqs, chat)]
    assert len(documents) == 2
    notice = documents[1]
    jsonschema.validate(notice, SCHEMA)
    assert notice["content"]["keywords"] == ["alert-budget", BUCKET]
    assert notice["metadata"]["threadId"] == f"s3doctor-budget-{BUCKET}"
    assert len(deployment.received()) == 2  # the main topic: the alert and the notice


def test_chat_and_security_hub_are_off_unless_configured() -> None:
    settings = wiring.read_settings({})
    assert settings.chat_topic_arn is None and settings.security_hub is False
    with pytest.raises(wiring.ConfigError, match="SECURITY_HUB"):
        wiring.read_settings({"SECURITY_HUB": "yes"})


def test_a_denial_on_a_partners_bucket_is_the_requesters_accounts(deployment, chat) -> None:
    """Alice (this account) refused by a partner's bucket, which this deployment cannot read:
    judged on her side, the finding is this account's in the store, in the alert's attributes
    and in Security Hub (an AwsAccountId of the partner's would be refused there)."""
    partner = "444455556666"
    event = denied_event(str(uuid.uuid4()), bucket=f"partner-drop-{uuid.uuid4().hex[:8]}")
    for resource in event["detail"]["resources"]:
        if resource["type"] == "AWS::S3::Bucket":
            resource["accountId"] = partner

    result = deployment.invoke(event)

    stored = wiring.finding_store().get(result["finding_id"])
    assert stored is not None
    assert stored.request.bucket_account == partner
    assert stored.to_dict()["account"] == ACCOUNT
    assert "judged on the requester's side only" in (stored.request.scope_reason or "")
    [message] = deployment.received()
    assert message["MessageAttributes"]["account"]["Value"] == ACCOUNT
    [imported] = _hub_findings(asff_id(result["finding_id"]))
    assert imported["AwsAccountId"] == ACCOUNT
