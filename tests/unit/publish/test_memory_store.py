"""The in-memory store twin: the behaviour the event handler and the API rely on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.model import InputError, Verdict
from chalicelib.publish.memory import InMemoryFindingStore
from chalicelib.publish.ports import ErrorRecord, FindingQuery, StoreError, WriteOutcome

WINDOW_END = "2025-03-01T10:15:00Z"


def _stored(store, finding, *, keys=("k",)):
    outcome = store.create(
        finding, event_key=finding.finding_id, aggregate_keys=keys, window_end=WINDOW_END
    )
    assert outcome is WriteOutcome.WRITTEN
    return finding


def test_create_then_get_returns_the_finding_unpublished(make_finding):
    store = InMemoryFindingStore()
    finding = _stored(store, make_finding("e-1"))
    assert store.get("e-1") == finding
    assert store.unpublished("e-1") == finding
    store.mark_published("e-1")
    assert store.unpublished("e-1") is None
    assert store.get("missing") is None


def test_create_same_event_twice_is_a_duplicate_and_changes_nothing(make_finding):
    store = InMemoryFindingStore()
    _stored(store, make_finding("e-1"))
    again = store.create(
        make_finding("e-1", decision=Verdict.ALLOWED),
        event_key="e-1",
        aggregate_keys=("other",),
        window_end=WINDOW_END,
    )
    assert again is WriteOutcome.DUPLICATE_EVENT
    assert store.get("e-1").decision is Verdict.EXPLICIT_DENY
    assert store.aggregate("other") is None


def test_create_with_a_fresh_aggregate_key_is_refused(make_finding):
    store = InMemoryFindingStore()
    _stored(store, make_finding("e-1"))
    outcome = store.create(
        make_finding("e-2", first_seen="2025-03-01T10:05:00Z"),
        event_key="e-2",
        aggregate_keys=("k",),
        window_end="2025-03-01T10:20:00Z",
    )
    assert outcome is WriteOutcome.AGGREGATE_TAKEN
    assert store.get("e-2") is None
    assert store.event_record("e-2") is None


def test_create_after_the_window_takes_the_aggregate_key_over(make_finding):
    store = InMemoryFindingStore()
    _stored(store, make_finding("e-1"))
    later = make_finding("e-2", first_seen=WINDOW_END)
    outcome = store.create(
        later, event_key="e-2", aggregate_keys=("k",), window_end="2025-03-01T10:30:00Z"
    )
    assert outcome is WriteOutcome.WRITTEN
    assert store.aggregate("k").finding_id == "e-2"


def test_add_occurrence_counts_each_event_once_and_keeps_the_latest_time(make_finding):
    store = InMemoryFindingStore()
    _stored(store, make_finding("e-1"))
    assert (
        store.add_occurrence("e-1", event_key="e-3", seen="2025-03-01T10:09:00Z")
        is WriteOutcome.WRITTEN
    )
    assert (
        store.add_occurrence("e-1", event_key="e-2", seen="2025-03-01T10:05:00Z")
        is WriteOutcome.WRITTEN
    )
    assert (
        store.add_occurrence("e-1", event_key="e-2", seen="2025-03-01T10:05:00Z")
        is WriteOutcome.DUPLICATE_EVENT
    )
    finding = store.get("e-1")
    assert finding.occurrences == 3
    assert finding.last_seen == "2025-03-01T10:09:00Z"
    assert store.event_record("e-2").created is False
    assert store.event_record("e-1").created is True


def test_add_occurrence_can_point_another_key_at_the_finding(make_finding):
    store = InMemoryFindingStore()
    _stored(store, make_finding("e-1"))
    store.add_occurrence(
        "e-1", event_key="e-2", seen=WINDOW_END, aggregate_key="cheap", window_end=WINDOW_END
    )
    assert store.aggregate("cheap").finding_id == "e-1"


def test_add_occurrence_to_a_missing_finding_raises(make_finding):
    with pytest.raises(StoreError, match="no longer exists"):
        InMemoryFindingStore().add_occurrence("gone", event_key="e-9", seen=WINDOW_END)


def test_list_is_newest_first_and_filters_by_bucket_principal_decision_since(make_finding):
    store = InMemoryFindingStore()
    _stored(store, make_finding("a", first_seen="2025-03-01T10:00:00Z"), keys=())
    _stored(store, make_finding("b", first_seen="2025-03-01T11:00:00Z", user="bob"), keys=())
    _stored(
        store,
        make_finding(
            "c", first_seen="2025-03-01T12:00:00Z", bucket="logs", decision=Verdict.ALLOWED
        ),
        keys=(),
    )

    def ids(**filters):
        return [f.finding_id for f in store.list(FindingQuery(**filters)).findings]

    assert ids() == ["c", "b", "a"]
    assert ids(bucket="reports") == ["b", "a"]
    assert ids(principal_arn="arn:aws:iam::111122223333:user/bob") == ["b"]
    assert ids(bucket="reports", principal_arn="arn:aws:iam::111122223333:user/alice") == ["a"]
    assert ids(decision="allowed") == ["c"]
    assert ids(since=datetime(2025, 3, 1, 11, tzinfo=UTC)) == ["c", "b"]


def test_list_pages_with_opaque_tokens_until_the_end(make_finding):
    store = InMemoryFindingStore()
    for minute in range(5):
        _stored(
            store, make_finding(f"f{minute}", first_seen=f"2025-03-01T10:0{minute}:00Z"), keys=()
        )
    seen, token = [], None
    while True:
        page = store.list(FindingQuery(limit=2, next_token=token))
        seen += [f.finding_id for f in page.findings]
        token = page.next_token
        if token is None:
            break
    assert seen == ["f4", "f3", "f2", "f1", "f0"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (FindingQuery(limit=0), "limit"),
        (FindingQuery(limit=101), "limit"),
        (FindingQuery(next_token="not base64 !"), "next_token"),
        (FindingQuery(next_token="eyJhIjogMX0="), "next_token"),  # {"a": 1}
    ],
)
def test_list_bad_parameters_name_the_field(query, field):
    with pytest.raises(InputError) as raised:
        InMemoryFindingStore().list(query)
    assert raised.value.field_path == field


def test_token_from_another_listing_is_rejected(make_finding):
    store = InMemoryFindingStore()
    for n in range(3):
        _stored(store, make_finding(f"f{n}", first_seen=f"2025-03-01T10:0{n}:00Z"), keys=())
    token = store.list(FindingQuery(limit=1)).next_token
    with pytest.raises(InputError, match="other filters"):
        store.list(FindingQuery(bucket="reports", next_token=token))


def test_error_records_are_kept_by_event_key():
    store = InMemoryFindingStore()
    record = ErrorRecord(event_key="bad-1", error="detail: missing", received_at=WINDOW_END)
    store.put_error(record)
    assert store.get_error("bad-1") == record
    assert store.get_error("other") is None
    assert store.list(FindingQuery()).findings == ()
