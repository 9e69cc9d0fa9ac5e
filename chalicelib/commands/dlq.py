"""`s3doctor replay --from-dlq QUEUE_URL`: handle the events the deployed function gave up on.

The event function's on-failure destination is the stack's dead-letter queue: after the last
retry Lambda sends it one invocation record per event,

    {"version": "1.0", "timestamp": "...",
     "requestContext": {"requestId", "functionArn", "condition": "RetriesExhausted" | ...,
                        "approximateInvokeCount"},
     "requestPayload": <the EventBridge event, as the function received it>,
     "responseContext": {"statusCode", "executedVersion", "functionError"},
     "responsePayload": <the function's error>}

Each message's `requestPayload` goes through the function's own path, `service.handle_event` with
`wiring.event_ports()`: diagnosed, stored, alerted under the publish lease, idempotent on the
event id (an event the function had already stored before failing is not a second finding, nor
a second alert). A bare EventBridge event (a plain dead-letter queue rather than a destination)
is taken as is.

A message is deleted only once its event is handled. One that cannot be handled (not a record,
AWS still failing, an alert in flight elsewhere...) stays on the queue, made visible again at the
end of the run, and the report says why. Running the drain again is always safe.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ..diagnose.untrusted import message, text
from ..lean_dataclass import dataclass
from ..model import Json

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from ..service import HandleResult

Handle = Callable[[Json], "HandleResult"]
"""Handles one EventBridge event the way the deployed function does."""

VISIBILITY_SECONDS = 300
"""How long a received message stays hidden while this run handles it (longer than one event)."""

_SQS_HOST = re.compile(r"^https://sqs\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/", re.IGNORECASE)


class NotAnInvocationRecord(ValueError):
    """A message body that is neither an on-failure invocation record nor an EventBridge event."""


@dataclass(slots=True, kw_only=True)
class DrainReport:
    """What a drain did: events handled (by `HandleStatus`) and deleted, and what was left."""

    handled: Counter[str] = field(default_factory=Counter)
    finding_ids: list[str] = field(default_factory=list)
    left: list[tuple[str, str]] = field(default_factory=list)  # (message / event id, reason)

    @property
    def deleted(self) -> int:
        return sum(self.handled.values())


def function_handler() -> Handle:
    """`service.handle_event` with the deployed function's ports (`wiring.event_ports()`).

    Raises ConfigError when the function's environment (FINDINGS_TABLE_NAME...) is missing."""
    from .. import service, wiring

    ports = wiring.event_ports()

    def handle(event: Json) -> HandleResult:
        return service.handle_event(event, **ports)

    return handle


def unwrap(body: str) -> Json:
    """The EventBridge event of one dead-letter message (raises NotAnInvocationRecord)."""
    try:
        document = json.loads(body)
    except ValueError:
        raise NotAnInvocationRecord("not JSON") from None
    if not isinstance(document, dict):
        raise NotAnInvocationRecord("not a JSON object")
    if "requestContext" in document or "requestPayload" in document:
        payload = document.get("requestPayload")
        if not isinstance(payload, dict):
            raise NotAnInvocationRecord("an invocation record without a requestPayload object")
        document = payload
    if not isinstance(document.get("detail"), dict):
        raise NotAnInvocationRecord(
            "neither a Lambda on-failure invocation record nor an EventBridge event"
        )
    return document


def failure_context(body: str) -> str:
    """`RetriesExhausted after 3 attempts: Unhandled` from an invocation record, else ''."""
    try:
        document = json.loads(body)
        request, response = document["requestContext"], document.get("responseContext") or {}
        condition = str(request.get("condition") or "")
        attempts = request.get("approximateInvokeCount")
        error = response.get("functionError")
    except (ValueError, TypeError, KeyError, AttributeError):
        return ""
    parts = [condition] if condition else []
    if attempts:
        parts.append(f"after {attempts} attempts")
    return " ".join(parts) + (f": {error}" if error else "")


def region_of(queue_url: str) -> str | None:
    """The region of a public SQS queue URL (None for an endpoint such as a local server)."""
    match = _SQS_HOST.match(queue_url)
    return match.group(1) if match else None


def drain(
    sqs: SQSClient,
    queue_url: str,
    handle: Handle,
    *,
    wait_seconds: int = 1,
    visibility_seconds: int = VISIBILITY_SECONDS,
) -> DrainReport:
    """Handle every message of `queue_url`; delete each once handled, leave the others.

    Stops when the queue has nothing more to give (messages left this run stay hidden until the
    end, then are made visible again). Raises ClientError / BotoCoreError only when the queue
    itself cannot be read.
    """
    report = DrainReport()
    seen: set[str] = set()
    kept: list[str] = []  # receipt handles of the messages left on the queue
    try:
        while True:
            response = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=visibility_seconds,
            )
            fresh = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
            if not fresh:
                return report
            for item in fresh:
                seen.add(item["MessageId"])
                reason = _handle_one(item, handle, report)
                if reason is None:
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=item["ReceiptHandle"])
                else:
                    report.left.append((_label(item), reason))
                    kept.append(item["ReceiptHandle"])
    finally:
        for receipt in kept:  # visible again now, for the next run or for inspection
            # (if this fails, the message reappears when its visibility timeout ends)
            with contextlib.suppress(BotoCoreError, ClientError):
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=0
                )


def _handle_one(item: Any, handle: Handle, report: DrainReport) -> str | None:
    """None once the message's event is handled, else why it was not."""
    body = str(item.get("Body") or "")
    try:
        event = unwrap(body)
    except NotAnInvocationRecord as error:
        return str(error)
    try:
        result = handle(event)
    except Exception as error:  # one event must never stop the drain: it stays, with the reason
        context = failure_context(body)
        reason = f"{type(error).__name__}: {message(error)}"
        return f"{reason} (first failure: {context})" if context else reason
    report.handled[result.status.value] += 1
    if result.finding_id and result.finding_id not in report.finding_ids:
        report.finding_ids.append(result.finding_id)
    return None


def _label(item: Any) -> str:
    """The message id, with the CloudTrail event id when the body carries one."""
    try:
        detail = unwrap(str(item.get("Body") or "")).get("detail") or {}
        event_id = detail.get("eventID")
    except (NotAnInvocationRecord, AttributeError):
        event_id = None
    return f"{item['MessageId']} (event {event_id})" if event_id else str(item["MessageId"])


def render_report(report: DrainReport, queue_url: str) -> str:
    """The end-of-run report (message and event ids come from the queue: neutralised)."""
    lines = []
    if not report.deleted and not report.left:
        return f"The dead-letter queue {text(queue_url)} is empty.\n"
    counts = ", ".join(f"{status} {n}" for status, n in sorted(report.handled.items()))
    lines.append(
        f"{report.deleted} events handled and deleted from the dead-letter queue"
        + (f" ({counts})." if counts else ".")
    )
    if report.left:
        lines += ["", f"Left on the queue, {len(report.left)}:"]
        lines += [f"  {text(where)}: {message(reason)}" for where, reason in report.left]
    return "\n".join(lines) + "\n"


def report_document(report: DrainReport) -> Json:
    return {
        "handled": dict(report.handled),
        "deleted": report.deleted,
        "finding_ids": list(report.finding_ids),
        "left": [{"message": where, "reason": reason} for where, reason in report.left],
    }
