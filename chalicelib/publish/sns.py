"""`SnsFindingPublisher`: one SNS message per new finding (DESIGN 3.5).

The message uses `MessageStructure=json`: readable text for `default` and `email`, the finding
JSON for `sqs`, `lambda`, `http(s)` and `firehose` subscribers, and message attributes for
filter policies (see publish/message.py). Errors from SNS propagate: the caller (the event
handler) must fail so that Lambda retries. Alerts show findings at `detail` (`references`
unless the deployment sets `ALERT_DETAIL=full`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..diagnose.detail import Detail
from ..model import Finding
from .message import Alert, Notice, alert, notice_alert

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


class SnsFindingPublisher:
    """Publishes findings to one topic through an injected boto3 SNS client."""

    def __init__(
        self, topic_arn: str, client: SNSClient, *, detail: Detail = Detail.REFERENCES
    ) -> None:
        self._topic_arn = topic_arn
        self._client = client
        self.detail = detail

    def publish(self, finding: Finding) -> str:
        return self._send(alert(finding, self.detail))

    def publish_notice(self, notice: Notice) -> str:
        return self._send(notice_alert(notice))

    def _send(self, message: Alert) -> str:
        response = self._client.publish(
            TopicArn=self._topic_arn,
            Subject=message.subject,
            Message=message.message,
            MessageStructure="json",
            MessageAttributes=message.attributes,  # type: ignore[arg-type]
        )
        return response["MessageId"]
