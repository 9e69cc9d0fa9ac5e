"""In-memory twins of the write-side adapters, for tests, the CLI and offline runs.

`InMemoryFindingStore` behaves as `DynamoFindingStore` does (same outcomes, ordering, filters,
validation and token errors, publish lease, findings trimmed to fit an item); `ListPublisher`
keeps the exact alert `SnsFindingPublisher` would send. Neither is thread-safe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from ..aggregation import MAX_TALLY_ENTRIES, OTHER, OUTSIDE_ATTEMPTS, merge_tally
from ..diagnose.detail import Detail
from ..lean_dataclass import dataclass
from ..model import Finding
from .message import Alert, Notice, alert, notice_alert
from .paging import check_query, decode_token, encode_token, read_budget
from .ports import (
    CLOSED,
    INDEX_BY_ACCOUNT,
    INDEX_BY_BUCKET,
    INDEX_BY_PRINCIPAL,
    Aggregate,
    ErrorRecord,
    EventRecord,
    FindingPage,
    FindingQuery,
    StoreError,
    WriteOutcome,
    finding_account,
    index_for,
)
from .sizing import TRUNCATED, item_body


@dataclass(slots=True, kw_only=True)
class _Stored:
    finding: Finding
    published: bool = False
    lease_owner: str | None = None
    lease_until: str | None = None

    @property
    def seen_key(self) -> str:
        return f"{self.finding.first_seen}#{self.finding.finding_id}"


class InMemoryFindingStore:
    """A `FindingStore` in dictionaries."""

    def __init__(self) -> None:
        self._findings: dict[str, _Stored] = {}
        self._events: dict[str, EventRecord] = {}
        self._aggregates: dict[str, Aggregate] = {}
        self._errors: dict[str, ErrorRecord] = {}

    def get(self, finding_id: str) -> Finding | None:
        stored = self._findings.get(finding_id)
        return stored.finding if stored else None

    def unpublished(self, finding_id: str) -> Finding | None:
        stored = self._findings.get(finding_id)
        return stored.finding if stored and not stored.published else None

    def aggregate(self, key: str) -> Aggregate | None:
        return self._aggregates.get(key)

    def event_record(self, event_key: str) -> EventRecord | None:
        return self._events.get(event_key)

    def get_error(self, event_key: str) -> ErrorRecord | None:
        return self._errors.get(event_key)

    def list(self, query: FindingQuery) -> FindingPage:
        """As `DynamoFindingStore.list`: filtered pages read at most `read_budget(limit)` rows."""
        since = check_query(query)
        index = index_for(query)
        after = decode_token(query.next_token, index) if query.next_token else None
        in_range = [  # what the index's key condition selects, newest first
            row
            for row in sorted(self._findings.values(), key=lambda s: s.seen_key, reverse=True)
            if (index != INDEX_BY_BUCKET or row.finding.request.bucket == query.bucket)
            and (
                index != INDEX_BY_PRINCIPAL
                or row.finding.request.principal.principal_arn == query.principal_arn
            )
            and (index != INDEX_BY_ACCOUNT or finding_account(row.finding) == query.account)
            and (since is None or row.seen_key >= since)
            and (after is None or row.seen_key < after)
        ]
        budget = read_budget(query.limit)
        page: list[_Stored] = []
        position: str | None = None
        for read, row in enumerate(in_range, start=1):
            if _matches(row.finding, query):
                page.append(row)
            if len(page) == query.limit or read == budget:
                position = row.seen_key if read < len(in_range) else None
                break
        return FindingPage(
            findings=tuple(row.finding for row in page),
            next_token=encode_token(index, position) if position is not None else None,
            tokens_after=tuple(encode_token(index, row.seen_key) for row in page),
        )

    def create(
        self,
        finding: Finding,
        *,
        event_key: str,
        aggregate_keys: Sequence[str],
        window_end: str,
        received: str | None = None,
    ) -> WriteOutcome:
        if finding.first_seen is None:
            raise StoreError(f"finding {finding.finding_id} has no first_seen")
        if event_key in self._events:
            return WriteOutcome.DUPLICATE_EVENT
        for key in aggregate_keys:
            pointer = self._aggregates.get(key)
            if pointer is not None and pointer.is_fresh(finding.first_seen):
                return WriteOutcome.AGGREGATE_TAKEN
        self._events[event_key] = EventRecord(
            event_key=event_key, finding_id=finding.finding_id, created=True
        )
        self._findings[finding.finding_id] = _Stored(
            finding=_as_stored(replace(finding, last_seen=finding.last_seen or finding.first_seen))
        )
        for key in aggregate_keys:
            self._aggregates[key] = Aggregate(
                key=key, finding_id=finding.finding_id, window_end=window_end
            )
        return WriteOutcome.WRITTEN

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
        if event_key in self._events:
            return WriteOutcome.DUPLICATE_EVENT
        stored = self._findings.get(finding_id)
        if stored is None:
            raise StoreError(
                f"finding {finding_id} no longer exists; cannot count event {event_key}"
            )
        self._events[event_key] = EventRecord(
            event_key=event_key, finding_id=finding_id, created=False
        )
        last_seen = max(stored.finding.last_seen or seen, seen)
        stored.finding = replace(
            stored.finding, occurrences=stored.finding.occurrences + 1, last_seen=last_seen
        )
        if aggregate_key is not None and window_end is not None:
            self._aggregates[aggregate_key] = Aggregate(
                key=aggregate_key, finding_id=finding_id, window_end=window_end
            )
        return WriteOutcome.WRITTEN

    def add_tally(self, finding_id: str, counts: Mapping[str, str]) -> None:
        stored = self._findings.get(finding_id)
        attempts = stored.finding.extra.get(OUTSIDE_ATTEMPTS) if stored else None
        if stored is None or not isinstance(attempts, Mapping):
            return
        tallies = {f: dict(attempts.get(f"by_{f}") or {}) for f in ("action", "source")}
        for field, name in counts.items():
            tally = tallies[field]
            entry = name if name in tally or len(tally) < MAX_TALLY_ENTRIES else OTHER
            tally[entry] = tally.get(entry, 0) + 1
        merged = merge_tally(attempts, tallies["action"], tallies["source"])
        stored.finding = replace(
            stored.finding, extra={**stored.finding.extra, OUTSIDE_ATTEMPTS: merged}
        )

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
        stored = self._findings.get(finding.finding_id)
        if stored is None or stored.finding.request.principal.principal_arn != was_principal:
            return False
        kept = stored.finding
        stored.finding = _as_stored(
            replace(
                finding,
                first_seen=kept.first_seen,
                occurrences=kept.occurrences,
                last_seen=kept.last_seen,
            )
        )
        if realert:
            stored.published = False
            stored.lease_owner = stored.lease_until = None
        for key in retire:
            pointer = self._aggregates.get(key)
            if pointer is not None and pointer.finding_id == finding.finding_id:
                self._aggregates[key] = replace(pointer, window_end=CLOSED)
        now = stored.finding.last_seen or stored.finding.first_seen or CLOSED
        for key in point:
            pointer = self._aggregates.get(key)
            if window_end is not None and (pointer is None or not pointer.is_fresh(now)):
                self._aggregates[key] = Aggregate(
                    key=key, finding_id=finding.finding_id, window_end=window_end
                )
        return True

    def claim_publish(self, finding_id: str, *, owner: str, now: str, until: str) -> Finding | None:
        stored = self._findings.get(finding_id)
        if stored is None or stored.published:
            return None
        if stored.lease_until is not None and stored.lease_until > now:
            return None
        stored.lease_owner, stored.lease_until = owner, until
        return stored.finding

    def release_publish(self, finding_id: str, *, owner: str) -> None:
        stored = self._findings.get(finding_id)
        if stored is not None and stored.lease_owner == owner:
            stored.lease_owner = stored.lease_until = None

    def mark_published(self, finding_id: str) -> None:
        stored = self._findings.get(finding_id)
        if stored is not None:
            stored.published = True
            stored.lease_owner = stored.lease_until = None

    def put_error(self, record: ErrorRecord) -> None:
        self._errors[record.event_key] = record


def _matches(finding: Finding, query: FindingQuery) -> bool:
    """The filters a listing applies after its index: decision, principal and account."""
    return (
        (query.decision is None or finding.decision.value == query.decision)
        and (
            query.principal_arn is None
            or finding.request.principal.principal_arn == query.principal_arn
        )
        and (query.account is None or finding_account(finding) == query.account)
    )


def _as_stored(finding: Finding) -> Finding:
    """The finding as DynamoFindingStore reads it back: trimmed when too big for an item."""
    _, document = item_body(finding.to_dict(), overhead=_ITEM_OVERHEAD)
    return Finding.from_dict(document) if TRUNCATED in document else finding


_ITEM_OVERHEAD = 1_000  # about what a finding item holds beside its body


class ListPublisher:
    """A `FindingPublisher` that keeps every alert in `sent`, in order."""

    def __init__(self, *, detail: Detail = Detail.REFERENCES) -> None:
        self.sent: list[tuple[Finding, Alert]] = []
        self.notices: list[tuple[Notice, Alert]] = []
        self.detail = detail

    def publish(self, finding: Finding) -> str:
        self.sent.append((finding, alert(finding, self.detail)))
        return f"message-{len(self.sent)}"

    def publish_notice(self, notice: Notice) -> str:
        self.notices.append((notice, notice_alert(notice)))
        return f"notice-{len(self.notices)}"
