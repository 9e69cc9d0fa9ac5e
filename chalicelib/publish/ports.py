"""The ports of the write side: `FindingStore`, `FindingPublisher`, and the records they exchange.

A store holds four kinds of record (DESIGN 3.5):

- findings, listed newest first by bucket, by principal, by account (the bucket's: a central
  deployment stores every member account's findings) or across all of them;
- event records: one per delivered event, written in the same atomic write as the finding it
  created or the occurrence it added, so a redelivered event is recognised and never counted
  or alerted twice;
- aggregate pointers: `key -> finding id` until `window_end`, so repeats of a denial update one
  finding instead of creating new ones;
- error records: events that could not be diagnosed, kept with the reason.

A finding is stored unpublished; its alert is sent under a publish lease (`claim_publish`,
`release_publish`, `mark_published`) so that concurrent invocations send it once. Its diagnosis
is fixed, except once: `replace_diagnosis`, when the richer copy of a cross-account event names
the caller that the stored copy named only by account.

Adapters: `DynamoFindingStore` (publish/store.py), `SnsFindingPublisher` (publish/sns.py) and
their in-memory twins (publish/memory.py). With a chat topic or Security Hub, the publisher is
a `FanOutPublisher` (publish/fanout.py) of the main topic, `SnsChatPublisher` (publish/chat.py)
and `SecurityHubPublisher` (publish/securityhub.py), inside `BudgetedPublisher` (budget.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from ..lean_dataclass import dataclass
from ..model import DiagnoserError, Finding, Json

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
# The listings, named after the table's GSIs; page tokens are only valid for their own.
INDEX_BY_BUCKET = "by-bucket"
INDEX_BY_PRINCIPAL = "by-principal"
INDEX_RECENT = "recent"
INDEX_BY_ACCOUNT = "by-account"
CLOSED = "1970-01-01T00:00:00Z"
"""The `window_end` of a retired aggregate pointer: stale at any time."""
ACCOUNT_FIELD = "account"
"""The finding's top-level extension: the account the denial happened in (the bucket's)."""


class StoreError(DiagnoserError):
    """The store cannot do what was asked, and retrying the event will not fix it by itself."""


class WriteOutcome(StrEnum):
    """What a conditional write did."""

    WRITTEN = "written"
    DUPLICATE_EVENT = "duplicate-event"  # the event was already recorded: nothing changed
    AGGREGATE_TAKEN = "aggregate-taken"  # a fresh aggregate exists for one of the keys


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRecord:
    """What an already-processed event led to."""

    event_key: str
    finding_id: str
    created: bool  # True when this event created the finding (and owns its alert)


@dataclass(frozen=True, slots=True, kw_only=True)
class Aggregate:
    """A pointer from an aggregation key to the finding that collects its repeats."""

    key: str
    finding_id: str
    window_end: str  # ISO-8601 UTC; the pointer is stale from then on

    def is_fresh(self, at: str) -> bool:
        return at < self.window_end


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorRecord:
    """An event that could not be diagnosed, and why."""

    event_key: str
    error: str
    received_at: str
    field: str | None = None
    event_excerpt: str | None = None  # the start of the raw event, for a person to look at

    def to_dict(self) -> Json:
        return {
            "event_key": self.event_key,
            "error": self.error,
            "received_at": self.received_at,
            "field": self.field,
            "event_excerpt": self.event_excerpt,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class FindingQuery:
    """Filters of a listing; `bucket`, `principal_arn` and `account` may be combined (the
    first given of bucket, principal, account picks the index; the others filter)."""

    bucket: str | None = None
    principal_arn: str | None = None
    account: str | None = None
    decision: str | None = None
    since: datetime | None = None  # findings first seen at or after this instant
    limit: int = DEFAULT_PAGE_SIZE
    next_token: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FindingPage:
    """One page of findings, newest first; `next_token` is None on the last page.

    A page may hold fewer than `limit` findings and still have a `next_token`: a filtered
    listing reads a bounded number of stored findings per page. `tokens_after[i]` resumes right
    after `findings[i]`, for a caller that returns only the first i + 1 findings.
    """

    findings: tuple[Finding, ...]
    next_token: str | None = None
    tokens_after: tuple[str, ...] = ()


def finding_account(finding: Finding) -> str | None:
    """The account a finding belongs to: its `account` extension, else the bucket's account
    (`request.bucket_account`), else the requester's (`request.principal.account_id`)."""
    given = finding.extra.get(ACCOUNT_FIELD)
    if isinstance(given, str) and given:
        return given
    return finding.request.bucket_account or finding.request.principal.account_id or None


def index_for(query: FindingQuery) -> str:
    """The listing (GSI) that serves `query`: bucket, else principal, else account, else all."""
    if query.bucket is not None:
        return INDEX_BY_BUCKET
    if query.principal_arn is not None:
        return INDEX_BY_PRINCIPAL
    if query.account is not None:
        return INDEX_BY_ACCOUNT
    return INDEX_RECENT


class FindingStore(Protocol):
    """Where findings, event records, aggregate pointers and error records live."""

    def get(self, finding_id: str) -> Finding | None: ...

    def list(self, query: FindingQuery) -> FindingPage:
        """Findings matching `query`, newest first (by `first_seen`).

        Raises `model.InputError` naming `limit`, `since` or `next_token` when one is invalid.
        """
        ...

    def aggregate(self, key: str) -> Aggregate | None: ...

    def event_record(self, event_key: str) -> EventRecord | None: ...

    def create(
        self,
        finding: Finding,
        *,
        event_key: str,
        aggregate_keys: Sequence[str],
        window_end: str,
        received: str | None = None,
    ) -> WriteOutcome:
        """Atomically store a new, not yet published finding, its event record and pointers.

        Fails with DUPLICATE_EVENT when `event_key` is recorded, AGGREGATE_TAKEN when one of
        `aggregate_keys` points to a fresh aggregate (at `finding.first_seen`); writes nothing
        then. The event record expires a retention period after `received` (the processing
        time; `first_seen` when not given). A finding too big for one item is stored
        compressed, or trimmed with a `truncated` marker: `get` returns what was stored.
        """
        ...

    def add_occurrence(
        self,
        finding_id: str,
        *,
        event_key: str,
        seen: str,
        aggregate_key: str | None = None,
        window_end: str | None = None,
        received: str | None = None,
    ) -> WriteOutcome:
        """Atomically record `event_key` and count one more occurrence of `finding_id`.

        `last_seen` becomes `seen` when later. With `aggregate_key`, that key also points to
        the finding until `window_end`. DUPLICATE_EVENT (nothing written) when already recorded.
        The event record expires a retention period after `received` (default `seen`).
        """
        ...

    def replace_diagnosis(
        self,
        finding: Finding,
        *,
        was_principal: str,
        realert: bool,
        retire: Sequence[str] = (),
        point: Sequence[str] = (),
        window_end: str | None = None,
    ) -> bool:
        """Atomically replace the stored diagnosis of `finding.finding_id` with `finding` (the
        richer copy of a cross-account event), only while the stored finding's principal ARN is
        still `was_principal`: False (nothing written) otherwise, or when it is missing.
        `occurrences`, `last_seen`, `first_seen` and the listing order stay as stored. With
        `realert`, the finding is unpublished again (any lease cleared): its alert is due. Then
        each pointer of `retire` (the old diagnosis's keys) that points to the finding is
        closed, so later denials of the old key no longer count on a finding that names another
        principal, and each key of `point` (the new diagnosis's) points to it until
        `window_end`, unless a fresh pointer holds that key."""
        ...

    def unpublished(self, finding_id: str) -> Finding | None:
        """The finding when it is stored but its alert has not been sent yet."""
        ...

    def claim_publish(self, finding_id: str, *, owner: str, now: str, until: str) -> Finding | None:
        """Take the publish lease of an unpublished finding: the finding (as stored, with its
        current count) when taken, None when it is published, missing, or leased to someone
        else until after `now`. The lease is `owner`'s until `until` (ISO-8601 UTC)."""
        ...

    def release_publish(self, finding_id: str, *, owner: str) -> None:
        """Give the lease back (the alert could not be sent): a retry may take it at once.
        Does nothing when `owner` no longer holds it."""
        ...

    def mark_published(self, finding_id: str) -> None:
        """The alert was sent: the finding is published and its lease cleared (no-op when the
        finding does not exist)."""
        ...

    def add_tally(self, finding_id: str, counts: Mapping[str, str]) -> None:
        """Count one more outsider attempt on an "outside access attempts" finding, by each
        of `counts` (`{"action": …, "source": …}`): at most `MAX_TALLY_ENTRIES` names per
        count, the rest under `OTHER` (aggregation.py). No-op for other findings."""
        ...

    def put_error(self, record: ErrorRecord) -> None:
        """Store (or overwrite, for a redelivery) the error record of `record.event_key`."""
        ...

    def get_error(self, event_key: str) -> ErrorRecord | None: ...


class FindingPublisher(Protocol):
    """Sends one alert per new finding."""

    def publish(self, finding: Finding) -> str:
        """Send the alert; returns the message id."""
        ...
