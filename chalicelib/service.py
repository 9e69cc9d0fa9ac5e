"""Use cases: handle one AccessDenied event end to end, diagnose one request.

Ports are passed in (no defaults): a `SnapshotSource` (collect), a `FindingStore`, a
`FindingPublisher` and a clock returning an aware `datetime`. `wiring.py` builds the real ones.

How `handle_event` keeps a burst cheap, and every event counted once and alerted at most once:

1. The event key is the CloudTrail `eventID` (the EventBridge `id` when absent), or its
   `sharedEventID` when it has one: CloudTrail delivers a cross-account request to both
   accounts, each copy with its own `eventID` and the same `sharedEventID`, so the second copy
   is a redelivery of the first (one finding, one alert, whichever arrives first). One
   exception, the richer copy (`_richer`): when the stored finding came from a copy that named
   the caller only by account (`userIdentity.type` `AWSAccount`, the bucket owner's copy may)
   and the second copy names the identity, the second copy's diagnosis replaces the stored one
   in place (same id, same occurrences) in one conditional write on the finding (taken only
   while it still holds the account-only caller: concurrent copies replace it once), and the
   old diagnosis's aggregate pointers are closed (later account-only denials do not count on a
   finding that now names one principal) while the new diagnosis's keys point to it for the
   rest of its window (later copies naming that principal count on it). No second alert unless
   the verdict (decision, blocked layers) changed: the first alert then said something the
   richer diagnosis contradicts, so the finding is alerted again, once, under its publish
   lease; an unchanged verdict only gains the named identity, which the store and API show.
   The finding an event creates has that id, so a redelivery overwrites, never duplicates.
   Every write is one DynamoDB transaction that also puts `event#<key>` only if absent: a
   redelivered event fails that condition and changes nothing (our own idempotency rather than
   Powertools' `DynamoDBPersistenceLayer`: the duplicate check is then atomic with the count
   it protects, costs no extra writes, and needs no in-progress lock that a crash could leave
   behind).
2. Cheap key first: sha256 of (principal ARN, action, bucket, VPC endpoint, error message). If
   `aggregate#<cheap key>` points to a finding whose window has not ended at the event's time,
   the event is a repeat: one transaction adds the event record and increments `occurrences`
   (and moves `last_seen`). No collection, no diagnosis, no alert: two DynamoDB calls per
   repeat. Within a window the first diagnosis is trusted for the same cheap key; the error
   message, which names the kind of policy that denied, keeps most changes apart. (With
   Security Hub on, a repeat also reads the finding back: publish/securityhub.py.)
3. Otherwise collect and diagnose, then look up the diagnosis key: sha256 of (principal ARN,
   action, bucket, decision, blocked_by, cause codes and the statements they point at). A fresh
   aggregate there also makes this a repeat, and the cheap key starts pointing to it.
4. Otherwise create the finding (unpublished), its event record and both pointers in one
   transaction, the pointers only if no fresh aggregate appeared meanwhile (a concurrent
   invocation of the same burst: then count on that one instead), then alert (5). The window
   is fixed from `first_seen` (a steady trickle of denials alerts once per window, with the
   count). Event records expire a retention period after the event was *received* (not its
   `eventTime`), so a replayed old event is still recognised when redelivered.
5. One alert per finding, whatever the interleaving of deliveries, retries and failures: the
   alert is sent under a publish lease, one conditional write on the finding item (taken only
   if the finding is unpublished and holds no unexpired lease; owner: a random id per
   attempt). The holder publishes, then marks the finding published, which clears the lease.
   A publish that raises releases the lease and the invocation fails, so a retry can publish.
   An invocation that finds the lease held waits a few seconds (`LEASE_WAITS`) for the holder:
   published then, it is done; still held, it raises `AlertInFlight` so that Lambda retries it
   later. A holder that dies (timeout, crash) leaves its lease, which expires after
   `PUBLISH_LEASE` (120 s, twice the 60 s Lambda timeout): the next retry takes over. The one
   case left at least once: a holder that dies, or cannot mark the finding, after SNS accepted
   the alert; a later retry then sends it a second time once the lease expires (marking is
   attempted, and its failure logged, never raised).

Organization membership: `members` (collect/membership.py, an organization deployment without
ORGANIZATION_ACCOUNT_IDS) gives the organization's accounts for `trust`; when they cannot be read,
other accounts are outside the organization (bucket side only) and the finding of a
cross-account request says so (aggregation.py `membership_note`).

Accounts: every finding carries its top-level `account` (the bucket's; the requester's is
`request.principal.account_id`). With an organization source (collect/live.py
`MemberAccountSource`), a member account whose role cannot be assumed gives a health finding
saying what to deploy, aggregated one a day per account and role (aggregation.py
`member_role_finding`), and no cheap-key pointer, so a denial after the role is deployed is
diagnosed at once. When it is the other side of a cross-account request (the requester's
account, a KMS key's) that cannot be read, the denial is diagnosed on the bucket side (that side
unchecked) and the same health finding is made for that account, under its own event key
(`<event key>-member-role-<account>`).

Failures: a failed store or publish raises, so Lambda retries. A retry after a failed publish
finds its event record, sees the finding it created still unpublished, and publishes it then
(with the occurrences counted meanwhile). Transactions cancelled by a conflict or throttling
(a hot aggregate in a burst) are retried by the store with jittered backoff before anything
raises. A malformed event gets an error record and no exception (a retry would fail the same
way); the record keeps the start of the event with access key ids redacted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, cast

from . import pipeline
from .aggregation import (
    HEALTH_WINDOW,
    NO_TRUST,
    MemberRoleUnavailable,
    Origin,
    Trust,
    cheap_key,
    diagnosis_key,
    health_finding,
    member_role_finding,
    member_role_key,
    membership_note,
    origin,
    outsider_finding,
    tally,
    window_for,
)
from .collect.live import IDENTITY_NOT_LOGGED
from .collect.membership import Membership
from .collect.source import AccountsSource, SharedSnapshotSource, SnapshotSource
from .engine.resolve import foreign_bucket_account
from .events import parse_event
from .events.operations import MAX_DELETE_KEYS
from .lean_dataclass import dataclass
from .model import AccessRequest, DiagnoserError, Finding, InputError, Json
from .observability import annotate, traced
from .publish.ports import (
    ACCOUNT_FIELD,
    ErrorRecord,
    FindingPublisher,
    FindingStore,
    WriteOutcome,
    finding_account,
)
from .publish.timestamps import format_utc, parse_utc
from .snapshot import Snapshot, load_snapshot

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
DEFAULT_WINDOW = timedelta(minutes=15)
EXCERPT_CHARS = 4_000
# Longer than the Lambda timeout (60 s, .chalice/config.json): a live holder never loses it.
PUBLISH_LEASE = timedelta(seconds=120)
# Pauses (seconds) while another invocation holds the lease, before raising AlertInFlight.
LEASE_WAITS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
REDACTED = "REDACTED"
_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{12,}\b")


class Members(Protocol):
    """The organization's accounts, as AWS Organizations lists them (collect/membership.py)."""

    def current(self) -> Membership: ...


class AlertInFlight(DiagnoserError):
    """Another invocation holds the finding's publish lease: retry later (Lambda will)."""


class HandleStatus(StrEnum):
    """What handling one event did."""

    NEW = "new"  # diagnosed, stored and alerted
    REPEAT = "repeat"  # counted on an existing finding, no alert
    DUPLICATE = "duplicate"  # a redelivered event: nothing changed
    REPUBLISHED = "republished"  # a redelivery whose finding had not been alerted: alerted now
    ENRICHED = "enriched"  # the richer copy of a cross-account event re-diagnosed its finding
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
    suppressed: bool = False  # this invocation's alert was held back by the alert budget
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
            "suppressed": self.suppressed,
            "error": self.error,
        }


def diagnose_request(request: AccessRequest, *, source: SnapshotSource, clock: Clock) -> Finding:
    """Collect the snapshot `request` needs and diagnose it (nothing stored or sent).

    The finding id is the request's event id, else a hash of the request and the time. It was
    seen (`first_seen`, `last_seen`) when its event happened, as a stored finding is; a request
    without an event time, now.
    """
    now = format_utc(clock())
    finding_id = request.event_id or _digest([request.to_dict(), now])[:32]
    seen = _event_time(request, now)
    return _diagnose(request, source=source, finding_id=finding_id, now=now, seen=seen)[0]


def handle_event(
    event: Mapping[str, Any],
    *,
    source: SnapshotSource,
    store: FindingStore,
    publisher: FindingPublisher,
    clock: Clock,
    window: timedelta = DEFAULT_WINDOW,
    trust: Trust = NO_TRUST,
    members: Members | None = None,
    max_keys: int = MAX_DELETE_KEYS,
) -> HandleResult:
    """Diagnose, aggregate, store and alert one EventBridge event (see the module docstring).

    Raises when the store or the publisher fails; never for a malformed event.
    """
    received = format_utc(clock())
    key = event_key(event)
    annotate(event_id=key)
    try:
        request = parse_event(event, max_keys=max_keys)
    except InputError as exc:
        return _reject(event, key, exc, received=received, store=store)
    if request.shared_event_id:  # both copies of a cross-account event: one key
        key = request.shared_event_id
        annotate(event_id=key)
    if members is not None:
        membership = members.current()
        trust = replace(
            trust, organization_accounts=membership.accounts, membership_error=membership.error
        )
    kind = origin(request, trust)
    annotate(bucket=request.bucket, action=request.action, origin=kind.value)
    window = window_for(kind, window)
    counts = tally(request, kind) if kind.outsider else None
    seen = _event_time(request, received)
    cheap = cheap_key(request, kind)
    pointer = store.aggregate(cheap)
    if pointer is not None and pointer.is_fresh(seen):
        return _count(
            pointer.finding_id,
            key,
            seen=seen,
            received=received,
            store=store,
            publisher=publisher,
            clock=clock,
            counts=counts,
        )
    try:
        finding, unavailable = _first(
            request, kind, trust, source=source, finding_id=key, now=received, seen=seen
        )
    except InputError as exc:  # e.g. a snapshot part the engine cannot read; not transient
        return _reject(event, key, exc, received=received, store=store)
    for error in unavailable:
        _report_unavailable(
            request,
            error,
            key,
            seen=seen,
            received=received,
            store=store,
            publisher=publisher,
            clock=clock,
        )
    annotate(decision=finding.decision.value)
    full = diagnosis_key(finding, kind)
    member = member_role_key(finding)
    if member is not None:  # no member role: one finding a day per account, no cheap pointer
        cheap = full = member
        window = max(window, HEALTH_WINDOW)
    result = HandleResult(
        status=HandleStatus.NEW,
        event_key=key,
        finding_id=finding.finding_id,
        decision=finding.decision.value,
        blocked_by=tuple(b.value for b in finding.blocked_by),
        diagnosed=kind is not Origin.DIAGNOSER and member is None,
    )
    # A second and third try only after a concurrent invocation took one of the keys.
    for keys in (tuple(dict.fromkeys((cheap, full))), (full,), (full,)):
        pointer = store.aggregate(full)
        if pointer is not None and pointer.is_fresh(seen):
            counted = _count(
                pointer.finding_id,
                key,
                seen=seen,
                received=received,
                store=store,
                publisher=publisher,
                clock=clock,
                point=(cheap, pointer.window_end) if cheap != full else None,
                counts=counts,
            )
            return replace(counted, diagnosed=result.diagnosed, decision=result.decision)
        window_end = format_utc(_instant(seen) + window)
        outcome = _create(
            finding, key, keys=keys, window_end=window_end, received=received, store=store
        )
        if outcome is WriteOutcome.DUPLICATE_EVENT:
            richer = _richer(
                finding, key, kind, window, store=store, publisher=publisher, clock=clock
            )
            if richer is not None:
                return richer
            redelivered = _redelivered(key, store=store, publisher=publisher, clock=clock)
            return replace(redelivered, diagnosed=result.diagnosed)
        if outcome is WriteOutcome.WRITTEN:
            sent = _alert(
                finding.finding_id, store=store, publisher=publisher, clock=clock, local=finding
            )
            logger.info("new finding", extra={"finding_id": finding.finding_id})
            return replace(
                result,
                published=sent is not None and sent.sent,
                suppressed=sent is not None and not sent.sent,
            )
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


# ---------------------------------------------------------------------------- steps


@traced
def _collect(
    request: AccessRequest, *, source: SnapshotSource
) -> tuple[Snapshot | Json, tuple[MemberRoleUnavailable, ...]]:
    """The snapshot, and the other accounts whose member role could not be assumed.

    The source's kind is told by its methods, as an `isinstance` check with the protocols would
    tell it, without that check's cost (some 25 us a protocol, at every request of a replay)."""
    if getattr(source, "collect_request", None) is not None:
        collected = cast(AccountsSource, source).collect_request(request)
        return collected.snapshot, collected.unavailable
    if getattr(source, "loaded_for", None) is not None:
        return cast(SharedSnapshotSource, source).loaded_for(request), ()
    return source.snapshot_for(request), ()


@traced
def _evaluate(
    request: AccessRequest, snapshot: Snapshot | Json, *, finding_id: str, now: str
) -> Finding:
    return pipeline.diagnose(request, snapshot, finding_id=finding_id, now=now)


def _diagnose(
    request: AccessRequest, *, source: SnapshotSource, finding_id: str, now: str, seen: str
) -> tuple[Finding, tuple[MemberRoleUnavailable, ...]]:
    snapshot, unavailable = _collect(request, source=source)
    loaded = snapshot if isinstance(snapshot, Snapshot) else _loaded(snapshot)
    finding = _evaluate(request, loaded, finding_id=finding_id, now=now)
    finding = replace(finding, occurrences=1, first_seen=seen, last_seen=seen)
    return _accounted(finding, loaded), unavailable


def _loaded(snapshot: Json) -> Snapshot | Json:
    """The collected snapshot, loaded once for the diagnosis and the finding's account; as
    collected when it does not load (the diagnosis then says why)."""
    try:
        return load_snapshot(snapshot)
    except InputError:
        return snapshot


def _accounted(finding: Finding, snapshot: Snapshot | Json | None = None) -> Finding:
    """The finding with its top-level `account` (the bucket's account; the requester's is
    `request.principal.account_id`): the key of the by-account listing and SNS attribute.
    A denial on a bucket of an account the deployment does not read (a partner's: judged on
    the requester's side alone, `engine.resolve.foreign_bucket_account`) is the requester's
    account's: that is where its team, its alerts and Security Hub are."""
    account = finding_account(finding)
    requester = finding.request.principal.account_id
    if (
        isinstance(snapshot, Snapshot)
        and requester
        and foreign_bucket_account(finding.request, snapshot) is not None
    ):
        account = requester
    if not account or finding.extra.get(ACCOUNT_FIELD) == account:
        return finding
    return replace(finding, extra={**finding.extra, ACCOUNT_FIELD: account})


def _first(
    request: AccessRequest,
    kind: Origin,
    trust: Trust,
    *,
    source: SnapshotSource,
    finding_id: str,
    now: str,
    seen: str,
) -> tuple[Finding, tuple[MemberRoleUnavailable, ...]]:
    """The finding of the first denial of an aggregate (module docstring, 6), and the other
    accounts of the request whose member role could not be assumed."""
    if kind is Origin.DIAGNOSER:
        health = health_finding(request, finding_id=finding_id, now=now)
        return _accounted(replace(health, first_seen=seen)), ()
    try:
        finding, unavailable = _diagnose(
            request, source=source, finding_id=finding_id, now=now, seen=seen
        )
    except MemberRoleUnavailable as error:  # the account cannot be read: say what to deploy
        missing = member_role_finding(request, error, finding_id=finding_id, now=now)
        return _accounted(replace(missing, first_seen=seen, last_seen=seen)), ()
    finding = membership_note(finding, trust)
    return (outsider_finding(finding, kind) if kind.outsider else finding), unavailable


def _richer(
    finding: Finding,
    key: str,
    kind: Origin,
    window: timedelta,
    *,
    store: FindingStore,
    publisher: FindingPublisher,
    clock: Clock,
) -> HandleResult | None:
    """The richer copy of a cross-account event (module docstring, 1): the stored finding of
    `key`, made from a copy that named the caller only by account, re-diagnosed as `finding`.
    None when this is not such a copy, or another invocation replaced it first."""
    if (
        kind is not Origin.INSIDER
        or finding.request.shared_event_id != key
        or finding.request.principal.type in IDENTITY_NOT_LOGGED
        or _is_health(finding)
    ):
        return None
    record = store.event_record(key)
    stored = store.get(key) if record is not None and record.created else None
    if (
        record is None
        or record.finding_id != key
        or stored is None
        or stored.request.principal.type not in IDENTITY_NOT_LOGGED
        or _is_health(stored)
    ):
        return None
    changed = (stored.decision, stored.blocked_by) != (finding.decision, finding.blocked_by)
    note = (
        f"Re-diagnosed from the requester's copy of this cross-account event, which names the "
        f"caller ({finding.request.principal.principal_arn}); the copy diagnosed first named "
        f"only its account ({stored.request.principal.account_id or 'unknown'})."
        + (f" The verdict was {stored.decision.value} then: alerted again." if changed else "")
    )
    richer = replace(
        finding,
        notes=(*finding.notes, note),
        first_seen=stored.first_seen,
        last_seen=stored.last_seen,
        occurrences=stored.occurrences,
    )
    if not store.replace_diagnosis(
        richer,
        was_principal=stored.request.principal.principal_arn,
        realert=changed,
        retire=(cheap_key(stored.request, kind), diagnosis_key(stored, kind)),
        point=tuple(dict.fromkeys((cheap_key(richer.request, kind), diagnosis_key(richer, kind)))),
        window_end=format_utc(_instant(stored.first_seen or finding.first_seen or "") + window),
    ):
        return None
    logger.info("finding re-diagnosed from the richer copy", extra={"finding_id": key})
    if changed:
        sent = _alert(key, store=store, publisher=publisher, clock=clock)
        published, suppressed = sent is not None and sent.sent, sent is not None and not sent.sent
    else:  # a first alert that its sender could not send goes now, as on any redelivery
        pending = _redelivered(key, store=store, publisher=publisher, clock=clock)
        published, suppressed = pending.published, pending.suppressed
    return HandleResult(
        status=HandleStatus.ENRICHED,
        event_key=key,
        finding_id=key,
        decision=finding.decision.value,
        blocked_by=tuple(b.value for b in finding.blocked_by),
        diagnosed=True,
        published=published,
        suppressed=suppressed,
    )


def _is_health(finding: Finding) -> bool:
    return finding.extra.get("severity") == "health"


def _report_unavailable(
    request: AccessRequest,
    error: MemberRoleUnavailable,
    key: str,
    *,
    seen: str,
    received: str,
    store: FindingStore,
    publisher: FindingPublisher,
    clock: Clock,
) -> None:
    """The health finding of another account of `request` whose member role could not be
    assumed: created and alerted once a day per account and role, else counted."""
    note_key = f"{key}-member-role-{error.account}"
    health = member_role_finding(request, error, finding_id=note_key, now=received)
    health = _accounted(replace(health, first_seen=seen, last_seen=seen))
    aggregate = member_role_key(health) or note_key
    for _ in range(3):  # again only after a concurrent invocation took the aggregate
        pointer = store.aggregate(aggregate)
        if pointer is not None and pointer.is_fresh(seen):
            _count(
                pointer.finding_id,
                note_key,
                seen=seen,
                received=received,
                store=store,
                publisher=publisher,
                clock=clock,
            )
            return
        window_end = format_utc(_instant(seen) + HEALTH_WINDOW)
        outcome = _create(
            health,
            note_key,
            keys=(aggregate,),
            window_end=window_end,
            received=received,
            store=store,
        )
        if outcome is WriteOutcome.DUPLICATE_EVENT:
            _redelivered(note_key, store=store, publisher=publisher, clock=clock)
            return
        if outcome is WriteOutcome.WRITTEN:
            _alert(health.finding_id, store=store, publisher=publisher, clock=clock, local=health)
            return
    raise DiagnoserError(f"event {key}: member-role pointer kept changing; retry")


@traced
def _create(
    finding: Finding,
    key: str,
    *,
    keys: tuple[str, ...],
    window_end: str,
    received: str,
    store: FindingStore,
) -> WriteOutcome:
    return store.create(
        finding, event_key=key, aggregate_keys=keys, window_end=window_end, received=received
    )


@traced
def _count(
    finding_id: str,
    key: str,
    *,
    seen: str,
    received: str,
    store: FindingStore,
    publisher: FindingPublisher,
    clock: Clock,
    point: tuple[str, str] | None = None,
    counts: Mapping[str, str] | None = None,
) -> HandleResult:
    outcome = store.add_occurrence(
        finding_id,
        event_key=key,
        seen=seen,
        aggregate_key=point[0] if point else None,
        window_end=point[1] if point else None,
        received=received,
    )
    if outcome is WriteOutcome.DUPLICATE_EVENT:
        return _redelivered(key, store=store, publisher=publisher, clock=clock)
    if counts is not None:
        # After the counted write, so a redelivery never tallies twice; a crash in between
        # leaves the tally one short of `occurrences`, which stays exact.
        store.add_tally(finding_id, counts)
    logger.info("repeat counted", extra={"finding_id": finding_id})
    repeated = getattr(publisher, "repeated", None)  # Security Hub updates (publish/fanout.py)
    if repeated is not None:
        repeated(finding_id, store.get)
    return HandleResult(status=HandleStatus.REPEAT, event_key=key, finding_id=finding_id)


def _redelivered(
    key: str, *, store: FindingStore, publisher: FindingPublisher, clock: Clock
) -> HandleResult:
    """A redelivered event: send the alert its first delivery could not send, if any."""
    record = store.event_record(key)
    finding_id = record.finding_id if record else None
    pending = store.unpublished(record.finding_id) if record and record.created else None
    sent = (
        _alert(pending.finding_id, store=store, publisher=publisher, clock=clock)
        if pending is not None
        else None
    )
    if sent is None:
        logger.info("duplicate event ignored", extra={"finding_id": finding_id})
        return HandleResult(status=HandleStatus.DUPLICATE, event_key=key, finding_id=finding_id)
    logger.info("alert sent on redelivery", extra={"finding_id": finding_id})
    return HandleResult(
        status=HandleStatus.REPUBLISHED,
        event_key=key,
        finding_id=finding_id,
        decision=sent.finding.decision.value,
        blocked_by=tuple(b.value for b in sent.finding.blocked_by),
        published=sent.sent,
        suppressed=not sent.sent,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Alerted:
    """What `_alert` did: the finding it handled, and whether a message went out (False: the
    alert budget held it back; the finding is marked published all the same)."""

    finding: Finding
    sent: bool


@traced
def _alert(
    finding_id: str,
    *,
    store: FindingStore,
    publisher: FindingPublisher,
    clock: Clock,
    local: Finding | None = None,
) -> Alerted | None:
    """Send the finding's alert under its publish lease (module docstring, 5).

    Returns what was alerted, or None when another invocation alerted it (or it is gone).
    `local` is the finding as diagnosed by this invocation (not trimmed for storage): sent with
    the stored count. Raises AlertInFlight while another live invocation holds the lease.
    """
    owner = uuid.uuid4().hex
    claimed = None
    for pause in (*LEASE_WAITS, None):
        now = clock()
        claimed = store.claim_publish(
            finding_id, owner=owner, now=format_utc(now), until=format_utc(now + PUBLISH_LEASE)
        )
        if claimed is not None:
            break
        if store.unpublished(finding_id) is None:
            return None  # published by the lease's holder
        if pause is None:
            raise AlertInFlight(f"finding {finding_id}: another invocation is sending its alert")
        time.sleep(pause)
    assert claimed is not None
    # `local` unless the stored finding was re-diagnosed from a richer copy meanwhile (_richer)
    finding = (
        claimed
        if local is None
        or claimed.request.principal.principal_arn != local.request.principal.principal_arn
        else replace(local, occurrences=claimed.occurrences, last_seen=claimed.last_seen)
    )
    try:
        message_id = publisher.publish(finding)
    except BaseException:
        try:
            store.release_publish(finding_id, owner=owner)
        except Exception:  # the lease then expires by itself
            logger.exception("publish lease not released", extra={"finding_id": finding_id})
        raise
    try:
        store.mark_published(finding_id)
    except Exception:
        # SNS accepted the alert: raising would make Lambda retry and send it a second time.
        logger.exception("alert sent but not marked", extra={"finding_id": finding_id})
    return Alerted(finding=finding, sent=bool(message_id))


def _reject(
    event: object, key: str, error: Exception, *, received: str, store: FindingStore
) -> HandleResult:
    field = error.field_path if isinstance(error, InputError) else None
    message = _redact(str(error))
    logger.warning("event not diagnosed", extra={"error": message, "field": field})
    excerpt = json.dumps(_redacted(_jsonable(event)), sort_keys=True, default=str)
    store.put_error(
        ErrorRecord(
            event_key=key,
            error=message,
            received_at=received,
            field=field,
            event_excerpt=_redact(excerpt)[:EXCERPT_CHARS],
        )
    )
    return HandleResult(status=HandleStatus.MALFORMED, event_key=key, error=message)


def _redacted(value: Any) -> Any:
    """`value` with every `accessKeyId` field's value replaced (credentials are not kept)."""
    if isinstance(value, dict):
        return {
            k: REDACTED if str(k).lower() == "accesskeyid" else _redacted(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return value


def _redact(text: str) -> str:
    """`text` with anything shaped like an access key id (AKIA..., ASIA...) replaced."""
    return _ACCESS_KEY_ID.sub(REDACTED, text)


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
