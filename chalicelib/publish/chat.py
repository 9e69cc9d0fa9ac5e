"""Chat alerts: AWS Chatbot (Amazon Q Developer in chat applications) custom notifications.

Chatbot forwards to Slack, Teams or Chime only SNS messages in its custom-notification format
(`version` "1.0", `source` "custom", `content` {`textType` "client-markdown", `title`,
`description`, `nextSteps`, `keywords`}, optional `metadata` {`threadId`, `summary`,
`eventType`, `relatedResources`, `additionalContext`}); anything else is dropped. Those
documents go to a topic of their own (`CHAT_TOPIC_ARN`), so the main topic's email, SQS,
Lambda and HTTPS subscribers keep receiving exactly what they did.

A finding's notification is `render.render_chatbot` of the finding at the alert detail level
(`ALERT_DETAIL`): every input value neutralised and code-quoted, every field bounded by
construction (render.CHAT_*), so a document is at most `CHAT_MESSAGE_LIMIT` bytes, far under
SNS's 256 KiB. Budget notices (publish/budget.py) go to chat as a small custom notification
threaded per bucket. The message body is the raw JSON document (no `MessageStructure`: Chatbot
reads the message itself); no subject is sent.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..diagnose import render
from ..diagnose.detail import Detail, at_detail
from ..diagnose.untrusted import chat_escape, text
from ..model import Finding, Json
from .message import Notice

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

CHAT_MESSAGE_LIMIT = 32_768
"""Bytes a chat document never exceeds (SNS takes 262,144)."""


def chat_notification(finding: Finding, detail: Detail = Detail.REFERENCES) -> Json:
    """The custom notification of `finding` shown at `detail`."""
    document = render.render_chatbot(at_detail(finding, detail))
    if len(encode(document)) > CHAT_MESSAGE_LIMIT:  # render.CHAT_* bounds make this a bug
        raise ValueError(f"chat notification of {finding.finding_id} exceeds its bound")
    return document


def notice_notification(notice: Notice) -> Json:
    """A budget notice as a custom notification, threaded with the bucket's other notices."""
    bucket = text(notice.bucket, 63)
    return {
        "version": "1.0",
        "source": "custom",
        "content": {
            "textType": "client-markdown",
            "title": chat_escape(notice.subject, render.CHAT_TITLE),
            "description": chat_escape(notice.text, render.CHAT_DESCRIPTION),
            "keywords": ["alert-budget", chat_escape(bucket, render.CHAT_KEYWORD)],
        },
        "metadata": {
            "threadId": f"s3doctor-budget-{_slug(bucket)}"[: render.CHAT_THREAD_ID],
            "summary": chat_escape(notice.subject, render.CHAT_TITLE),
            "eventType": "S3AccessDeniedAlertBudget",
            "additionalContext": {"bucket": bucket},
        },
    }


def encode(document: Json) -> str:
    """The SNS message of a chat document: compact JSON, non-ASCII kept as is."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def _slug(bucket: str) -> str:
    return "".join(c for c in bucket.lower() if c.isascii() and (c.isalnum() or c in ".-"))


class SnsChatPublisher:
    """Publishes custom notifications to the chat topic through an injected SNS client."""

    def __init__(
        self, topic_arn: str, client: SNSClient, *, detail: Detail = Detail.REFERENCES
    ) -> None:
        self._topic_arn = topic_arn
        self._client = client
        self.detail = detail

    def publish(self, finding: Finding) -> str:
        return self._send(chat_notification(finding, self.detail))

    def publish_notice(self, notice: Notice) -> str:
        return self._send(notice_notification(notice))

    def _send(self, document: Json) -> str:
        response = self._client.publish(TopicArn=self._topic_arn, Message=encode(document))
        return response["MessageId"]
