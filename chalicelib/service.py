"""Use cases: handle one AccessDenied event end to end, diagnose one request.

Ports are passed in (no defaults): a `SnapshotSource` (collect), a `FindingStore`, a
`FindingPublisher` and a clock returning an aware `datetime`. `wiring.py` builds the real ones.

How `handle_event` keeps a burst cheap, and every event counted once and alerted at most once:

1. The event key is the CloudTrail `eventID` (the EventBridge `id` when absent). The finding
   an event creates has that id, so a redelivery overwrites, never duplicates. Every write is
   one DynamoDB transaction that also puts `event#<key>` only if absent: a redelivered event
   fails that condition and changes nothing (our own idempotency rather than Powertools'
   `DynamoDBPersistenceLayer`: the duplicate check is then atomic with the count it protects,
   costs no extra writes, and needs no in-progress lock that a crash could leave behind).
2. Cheap key first: sha256 of (principal ARN, action, bucket, VPC endpoint, error message). If
   `aggregate#<cheap key>` points to a finding whose window has not ended at the event's time,
   the event is a repeat: one transaction adds the event record and increments `occurrences`
   (and moves `last_seen`). No collection, no diagnosis, no alert: two DynamoDB calls per
   repeat. Within a window the first diagnosis is trusted for the same cheap key; the error
   message, which names the kind of policy that denied, keeps most changes apart.
3. Otherwise collect and diagnose, then look up the diagnosis key: sha256 of (principal ARN,
   action, bucket, decision, blocked_by, cause codes and the statements they point at). A fresh
   aggregate there also makes this a repeat, and the cheap key starts pointing to it.
4. Otherwise create the finding (unpublished), its event record and both pointers in one
   transaction, the pointers only if no fresh aggregate appeared meanwhile (a concurrent
   invocation of the same burst: then count on that one instead), then publish, then mark the
   finding published. The window is fixed from `first_seen` (a steady trickle of denials
   alerts once per window, with the count).

Failures: a failed store or publish raises, so Lambda retries. A retry after a failed publish
finds its event record, sees the finding it created still unpublished, and publishes it then
(with the occurrences counted meanwhile). If marking it published fails after SNS accepted the
message, that is logged and not raised: a retry would send the alert twice. A malformed event
gets an error record and no exception (a retry would fail the same way).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import chalicelib.pipeline as pipeline
from chalicelib.collect.source import SnapshotSource
from chalicelib.events import parse_event
from chalicelib.model import AccessRequest, DiagnoserError, Finding, InputError, Json
from chalicelib.observability import annotate, traced
from chalicelib.publish.ports import ErrorRecord, FindingPublisher, FindingStore, WriteOutcome
from chalicelib.publish.timestamps import format_utc, parse_utc

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
DEFAULT_WINDOW = timedelta(minutes=15)
EXCERPT_CHARS = 4_000


class HandleStatus(StrEnum):
    """What handling one event did."""

    NEW = "new"  # diagnosed, stored and alerted
    REPEAT = "repeat"  # counted on an existing finding, no alert
    DUPLICATE = "duplicate"  # a redelivered event: nothing changed
    REPUBLISHED = "republished"  # a redelivery whose finding had not been alerted: alerted now
    MALFORMED = "malformed"  # not diagnosable: an error record was stored


@dataclass(frozen=True, slots=True, kw_only=True)
class HandleResult:
    """The outcome of `handle_event`, also the Lambda's return value and metrics source."""

    status: HandleStatus
    event_key: str
    finding_id: str | None = None
    decision: str | None = None
    blocked_by: tuple[str, ...] = ()
    diagnosed: bool = False  # this invocation collected a snapshot and ran the engine
    published: bool = False  # this invocation sent an alert
    error: str | None = None

    def to_dict(self) -> Json:
        return {
            "status": self.status.value,
            "event_key": self.event_key,
            "finding_id": self.finding_id,
            "decision": self.decision,
            "blocked_by": list(self.blocked_by),
            "diagnosed": self.diagnosed,
            "published": self.published,
            "error": self.error,
        }


def diagnose_request(request: AccessRequest, *, source: SnapshotSource, clock: Clock) -> Finding:
    """Collect the snapshot `request` needs and diagnose it (nothing stored or sent).

    The finding id is the request's event id, else a hash of the request and the time.
    """
    now = format_utc(clock())
    finding_id = request.event_id or _digest([request.to_dict(), now])[:32]
    return _diagnose(request, source=source, finding_id=finding_id, now=now, seen=now)


def handle_event(
    event: Mapping[str, Any],
    *,
    source: SnapshotSource,
    store: FindingStore,
    publisher: FindingPublisher,
    clock: Clock,
    window: timedelta = DEFAULT_WINDOW,
) -> HandleResult:
    """Diagnose, aggregate, store and alert one EventBridge event (see the module docstring).

    Raises when the store or the publisher fails; never for a malformed event.
    """
    received = format_utc(clock())
    key = event_key(event)
    annotate(event_id=key)
    try:
        request = parse_event(event)
    except InputError as exc:
        return _reject(event, key, exc, received=received, store=store)
    annotate(bucket=request.bucket, action=request.action)
    seen = _event_time(request, received)
    cheap = cheap_key(request)
    pointer = store.aggregate(cheap)
    if pointer is not None and pointer.is_fresh(seen):
        return _count(pointer.finding_id, key, seen=seen, store=store, publisher=publisher)
    try:
        finding = _diagnose(request, source=source, finding_id=key, now=received, seen=seen)
    except InputError as exc:  # e.g. a snapshot part the engine cannot read; not transient
        return _reject(event, key, exc, received=received, store=store)
    annotate(decision=finding.decision.value)
    full = diagnosis_key(finding)
    result = HandleResult(
        status=HandleStatus.NEW,
        event_key=key,
        finding_id=finding.finding_id,
        decision=finding.decision.value,
        blocked_by=tuple(b.value for b in finding.blocked_by),
        diagnosed=True,
    )
    # A second and third try only after a concurrent invocation took one of the keys.
    for keys in ((cheap, full), (full,), (full,)):
        pointer = store.aggregate(full)
        if pointer is not None and pointer.is_fresh(seen):
            counted = _count(
                pointer.finding_id,
                key,
                seen=seen,
                store=store,
                publisher=publisher,
                point=(cheap, pointer.window_end),
            )
            return replace(counted, diagnosed=True, decision=result.decision)
        window_end = format_utc(_instant(seen) + window)
        outcome = _create(finding, key, keys=keys, window_end=window_end, store=store)
        if outcome is WriteOutcome.DUPLICATE_EVENT:
            return replace(_redelivered(key, store=store, publisher=publisher), diagnosed=True)
        if outcome is WriteOutcome.WRITTEN:
            _alert(finding, store=store, publisher=publisher)
            logger.info("new finding", extra={"finding_id": finding.finding_id})
            return replace(result, published=True)
        # AGGREGATE_TAKEN: a concurrent invocation created an aggregate for one of the keys.
        # Count on it if it is ours (diagnosis key); else the cheap key belongs to another
        # diagnosis: create without it.
    raise DiagnoserError(f"event {key}: aggregate pointers kept changing; retry")


def event_key(event: Mapping[str, Any]) -> str:
    """The CloudTrail `eventID` (of an EventBridge event or a bare record), else the
    EventBridge `id`, else a hash of the event."""
    if isinstance(event, Mapping):
        detail = event.get("detail")
        for candidate in (
            detail.get("eventID") if isinstance(detail, Mapping) else None,
            event.get("eventID"),
            event.get("id"),
        ):
            if isinstance(candidate, str) and candidate:
                return candidate
    return "sha256-" + _digest(_jsonable(event))


def cheap_key(request: AccessRequest) -> str:
    """What identifies repeats of a denial before diagnosing it."""
    hint = request.denial_hint.raw if request.denial_hint else ""
    parts = [
        request.principal.principal_arn,
        request.action,
        request.bucket or request.resource_arn,
        request.vpc_endpoint_id or "",
        hint,
    ]
    return "request-" + _digest(parts)


def diagnosis_key(finding: Finding) -> str:
    """What identifies repeats of a denial once diagnosed: who, what, where and why."""
    request = finding.request
    causes = sorted(
        (
            cause.code,
            cause.layer.value if cause.layer else "",
            cause.statement.policy if cause.statement else "",
            cause.statement.index if cause.statement else -1,
        )
        for cause in finding.causes
    )
    parts = [
        request.principal.principal_arn,
        request.action,
        request.bucket or request.resource_arn,
        finding.decision.value,
        sorted(b.value for b in finding.blocked_by),
        causes,
    ]
    return "diagnosis-" + _digest(parts)


# ---------------------------------------------------------------------------- steps


@traced
def _collect(request: AccessRequest, *, source: SnapshotSource) -> Json:
    return source.snapshot_for(request)


@traced
def _evaluate(request: AccessRequest, snapshot: Json, *, finding_id: str, now: str) -> Finding:
    return pipeline.diagnose(request, snapshot, finding_id=finding_id, now=now)


def _diagnose(
    request: AccessRequest, *, source: SnapshotSource, finding_id: str, now: str, seen: str
) -> Finding:
    snapshot = _collect(request, source=source)
    finding = _evaluate(request, snapshot, finding_id=finding_id, now=now)
    return replace(finding, occurrences=1, first_seen=seen, last_seen=seen)


@traced
def _create(
    finding: Finding, key: str, *, keys: tuple[str, ...], window_end: str, store: FindingStore
) -> WriteOutcome:
    return store.create(finding, event_key=key, aggregate_keys=keys, window_end=window_end)


@traced
def _count(
    finding_id: str,
    key: str,
    *,
    seen: str,
    store: FindingStore,
    publisher: FindingPublisher,
    point: tuple[str, str] | None = None,
) -> HandleResult:
    outcome = store.add_occurrence(
        finding_id,
        event_key=key,
        seen=seen,
        aggregate_key=point[0] if point else None,
        window_end=point[1] if point else None,
    )
    if outcome is WriteOutcome.DUPLICATE_EVENT:
        return _redelivered(key, store=store, publisher=publisher)
    logger.info("repeat counted", extra={"finding_id": finding_id})
    return HandleResult(status=HandleStatus.REPEAT, event_key=key, finding_id=finding_id)


def _redelivered(key: str, *, store: FindingStore, publisher: FindingPublisher) -> HandleResult:
    """A redelivered event: send the alert its first delivery could not send, if any."""
    record = store.event_record(key)
    finding_id = record.finding_id if record else None
    pending = store.unpublished(record.finding_id) if record and record.created else None
    if pending is None:
        logger.info("duplicate event ignored", extra={"finding_id": finding_id})
        return HandleResult(status=HandleStatus.DUPLICATE, event_key=key, finding_id=finding_id)
    _alert(pending, store=store, publisher=publisher)
    logger.info("alert sent on redelivery", extra={"finding_id": finding_id})
    return HandleResult(
        status=HandleStatus.REPUBLISHED,
        event_key=key,
        finding_id=finding_id,
        decision=pending.decision.value,
        blocked_by=tuple(b.value for b in pending.blocked_by),
        published=True,
    )


@traced
def _alert(finding: Finding, *, store: FindingStore, publisher: FindingPublisher) -> None:
    publisher.publish(finding)
    try:
        store.mark_published(finding.finding_id)
    except Exception:
        # SNS accepted the alert: raising would make Lambda retry and send it a second time.
        logger.exception("alert sent but not marked", extra={"finding_id": finding.finding_id})


def _reject(
    event: object, key: str, error: Exception, *, received: str, store: FindingStore
) -> HandleResult:
    field = error.field_path if isinstance(error, InputError) else None
    logger.warning("event not diagnosed", extra={"error": str(error), "field": field})
    excerpt = json.dumps(_jsonable(event), sort_keys=True, default=str)[:EXCERPT_CHARS]
    store.put_error(
        ErrorRecord(
            event_key=key,
            error=str(error),
            received_at=received,
            field=field,
            event_excerpt=excerpt,
        )
    )
    return HandleResult(status=HandleStatus.MALFORMED, event_key=key, error=str(error))


def _event_time(request: AccessRequest, received: str) -> str:
    parsed = parse_utc(request.event_time)
    return format_utc(parsed) if parsed else received


def _instant(text: str) -> datetime:
    parsed = parse_utc(text)
    if parsed is None:  # _event_time only produces valid timestamps
        raise ValueError(f"not a timestamp: {text!r}")
    return parsed


def _jsonable(value: object) -> Any:
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return repr(value)


def _digest(value: object) -> str:
    raw = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()
