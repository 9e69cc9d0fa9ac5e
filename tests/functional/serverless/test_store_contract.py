"""DynamoFindingStore on a moto server behaves as its in-memory twin: same outcomes, order,
filters, paging and errors (every test runs against both)."""

from __future__ import annotations

import base64
import json
import os
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import boto3
import pytest

from chalicelib.model import InputError, NearMiss, Verdict
from chalicelib.publish.memory import InMemoryFindingStore
from chalicelib.publish.ports import ErrorRecord, FindingQuery, StoreError, WriteOutcome
from chalicelib.publish.store import DynamoFindingStore, create_table
from tests.unit.publish.builders import build_finding

WINDOW_END = "2025-03-01T10:15:00Z"


@pytest.fixture(params=["memory", "dynamodb"])
def store(request, moto_env):
    if request.param == "memory":
        return InMemoryFindingStore()
    client = boto3.Session(region_name="us-east-1").client("dynamodb")
    table = f"contract-{uuid.uuid4().hex[:8]}"
    create_table(client, table)
    return DynamoFindingStore(table, client)


def _create(store, finding_id, *, keys=(), **fields):
    finding = build_finding(finding_id, **fields)
    outcome = store.create(
        finding, event_key=finding_id, aggregate_keys=keys, window_end=WINDOW_END
    )
    return outcome, finding


def test_round_trip_keeps_the_whole_finding(store):
    outcome, finding = _create(store, "e-1", keys=("k",))
    assert outcome is WriteOutcome.WRITTEN
    assert store.get("e-1") == finding
    assert store.unpublished("e-1") == finding
    store.mark_published("e-1")
    assert store.unpublished("e-1") is None
    assert store.get("nope") is None
    store.mark_published("nope")  # no stub item appears
    assert store.get("nope") is None


def test_conditional_writes_report_duplicates_and_taken_aggregates(store):
    _create(store, "e-1", keys=("k",))
    duplicate, _ = _create(store, "e-1", keys=("other",))
    assert duplicate is WriteOutcome.DUPLICATE_EVENT
    assert store.aggregate("other") is None
    taken, _ = _create(store, "e-2", keys=("k",), first_seen="2025-03-01T10:05:00Z")
    assert taken is WriteOutcome.AGGREGATE_TAKEN
    assert store.get("e-2") is None and store.event_record("e-2") is None
    after, _ = _create(store, "e-3", keys=("k",), first_seen=WINDOW_END)
    assert after is WriteOutcome.WRITTEN
    assert store.aggregate("k").finding_id == "e-3"


def test_occurrences_count_each_event_once_and_last_seen_only_moves_forward(store):
    _create(store, "e-1")
    assert store.add_occurrence("e-1", event_key="e-3", seen="2025-03-01T10:09:00Z") is (
        WriteOutcome.WRITTEN
    )
    assert store.add_occurrence("e-1", event_key="e-2", seen="2025-03-01T10:05:00Z") is (
        WriteOutcome.WRITTEN
    )
    assert store.add_occurrence("e-1", event_key="e-2", seen="2025-03-01T10:05:00Z") is (
        WriteOutcome.DUPLICATE_EVENT
    )
    finding = store.get("e-1")
    assert (finding.occurrences, finding.last_seen) == (3, "2025-03-01T10:09:00Z")
    assert store.event_record("e-2").finding_id == "e-1"
    assert store.event_record("e-2").created is False
    with pytest.raises(StoreError):
        store.add_occurrence("gone", event_key="e-9", seen=WINDOW_END)


def test_listings_filter_and_sort_newest_first(store):
    _create(store, "a", first_seen="2025-03-01T10:00:00Z")
    _create(store, "b", first_seen="2025-03-01T11:00:00Z", user="bob")
    _create(store, "c", first_seen="2025-03-01T12:00:00Z", bucket="logs", decision=Verdict.ALLOWED)

    def ids(**filters):
        return [f.finding_id for f in store.list(FindingQuery(**filters)).findings]

    assert ids() == ["c", "b", "a"]
    assert ids(bucket="reports") == ["b", "a"]
    assert ids(principal_arn="arn:aws:iam::111122223333:user/bob") == ["b"]
    assert ids(bucket="reports", principal_arn="arn:aws:iam::111122223333:user/alice") == ["a"]
    assert ids(decision="allowed") == ["c"]
    assert ids(bucket="reports", decision="allowed") == []
    assert ids(since=datetime(2025, 3, 1, 11, tzinfo=UTC)) == ["c", "b"]


def test_pages_follow_tokens_to_the_end_with_filters(store):
    for n in range(7):
        decision = Verdict.ALLOWED if n % 2 else Verdict.EXPLICIT_DENY
        _create(store, f"f{n}", first_seen=f"2025-03-01T10:0{n}:00Z", decision=decision)
    seen, token = [], None
    for _ in range(10):
        page = store.list(FindingQuery(limit=2, decision="explicit-deny", next_token=token))
        seen += [f.finding_id for f in page.findings]
        token = page.next_token
        if token is None:
            break
    assert seen == ["f6", "f4", "f2", "f0"]


def test_bad_tokens_and_limits_name_the_field(store):
    for n in range(3):
        _create(store, f"f{n}", first_seen=f"2025-03-01T10:0{n}:00Z")
    token = store.list(FindingQuery(limit=1)).next_token
    for query, field in [
        (FindingQuery(limit=0), "limit"),
        (FindingQuery(next_token="%%%"), "next_token"),
        (FindingQuery(bucket="reports", next_token=token), "next_token"),
    ]:
        with pytest.raises(InputError) as raised:
            store.list(query)
        assert raised.value.field_path == field


def test_error_records_round_trip_and_stay_out_of_listings(store):
    record = ErrorRecord(
        event_key="bad-1",
        error="detail.eventName: missing",
        received_at=WINDOW_END,
        field="detail.eventName",
        event_excerpt='{"detail": {}}',
    )
    store.put_error(record)
    assert store.get_error("bad-1") == record
    assert store.get_error("other") is None
    assert store.list(FindingQuery()).findings == ()


def test_publish_lease_lets_one_owner_at_a_time_send_the_alert(store):
    t0, t1, t2, t3 = (f"2025-03-01T10:0{m}:00Z" for m in (0, 1, 2, 3))
    _create(store, "e-1")
    store.add_occurrence("e-1", event_key="e-2", seen=t1)
    # the first claim takes the lease and gets the finding with its current count
    claimed = store.claim_publish("e-1", owner="a", now=t0, until=t2)
    assert claimed is not None and claimed.occurrences == 2
    # held: nobody else gets it, and the finding is still unpublished
    assert store.claim_publish("e-1", owner="b", now=t1, until=t3) is None
    assert store.unpublished("e-1") is not None
    store.release_publish("e-1", owner="b")  # not b's lease: nothing changes
    assert store.claim_publish("e-1", owner="b", now=t1, until=t3) is None
    # released by its owner (the publish failed): taken again at once
    store.release_publish("e-1", owner="a")
    assert store.claim_publish("e-1", owner="b", now=t1, until=t2) is not None
    # expired (its holder died): taken over
    assert store.claim_publish("e-1", owner="c", now=t2, until=t3) is not None
    # published: never again, and the lease is gone
    store.mark_published("e-1")
    assert store.claim_publish("e-1", owner="d", now=t3, until=t3) is None
    assert store.unpublished("e-1") is None
    # a missing finding is never claimed, and no stub item appears
    assert store.claim_publish("nope", owner="a", now=t0, until=t1) is None
    store.release_publish("nope", owner="a")
    assert store.get("nope") is None


def test_event_record_expiry_does_not_change_outcomes(store):
    # `received` (processing time) only moves the event record's TTL
    finding = build_finding("old", first_seen="2021-06-01T08:00:00Z")
    created = store.create(
        finding,
        event_key="old",
        aggregate_keys=("k",),
        window_end="2021-06-01T08:15:00Z",
        received="2025-03-01T10:00:00Z",
    )
    assert created is WriteOutcome.WRITTEN
    repeat = store.add_occurrence(
        "old", event_key="old-2", seen="2021-06-01T08:01:00Z", received="2025-03-01T10:00:01Z"
    )
    assert repeat is WriteOutcome.WRITTEN
    assert store.event_record("old-2").finding_id == "old"


def _near_misses(count, why):
    return tuple(
        NearMiss(policy="bucket-policy:reports", index=n, why=why(n), sid=f"S{n}")
        for n in range(count)
    )


def test_finding_too_big_for_an_item_is_kept_whole_when_it_compresses(store):
    many = _near_misses(5_000, lambda n: f"Resource arn:aws:s3:::reports lacks /* ({n})")
    outcome, finding = _create(store, "big", near_misses=many)
    assert outcome is WriteOutcome.WRITTEN
    assert len(json.dumps(finding.to_dict())) > 400_000
    assert store.get("big") == finding


def test_finding_too_big_even_compressed_is_trimmed_with_a_marker(store):
    random_text = _near_misses(600, lambda n: base64.b64encode(os.urandom(750)).decode())
    _, finding = _create(store, "huge", near_misses=random_text)
    stored = store.get("huge")
    assert stored.near_misses == ()
    assert stored.extra["truncated"] == ["evaluations.statements", "remedies.patch", "near_misses"]
    assert stored.causes == finding.causes and stored.request == finding.request
    assert store.unpublished("huge") == stored


def test_a_diagnosis_is_replaced_once_in_place_while_its_principal_is_the_one_given(store):
    _, first = _create(store, "e-1", keys=("k",))
    store.add_occurrence("e-1", event_key="e-1b", seen="2025-03-01T10:02:00Z")
    store.mark_published("e-1")
    richer = build_finding(
        "e-1",
        user="bob",
        decision=Verdict.IMPLICIT_DENY,
        blocked_by=(),
        first_seen="2025-03-01T10:09:00Z",
    )
    alice = first.request.principal.principal_arn
    assert not store.replace_diagnosis(richer, was_principal="arn:aws:iam::1:root", realert=False)
    assert store.get("e-1") == replace(first, occurrences=2, last_seen="2025-03-01T10:02:00Z")
    _create(store, "e-2", keys=("elsewhere",), user="carol")
    assert store.replace_diagnosis(
        richer,
        was_principal=alice,
        realert=False,
        retire=("k", "elsewhere", "missing"),
        point=("bob-key", "elsewhere"),
        window_end=WINDOW_END,
    )
    assert not store.aggregate("k").is_fresh("2025-03-01T10:03:00Z")  # retired
    assert store.aggregate("elsewhere").finding_id == "e-2"  # another finding's, fresh: kept
    assert store.aggregate("elsewhere").is_fresh("2025-03-01T10:03:00Z")
    assert store.aggregate("missing") is None
    pointer = store.aggregate("bob-key")
    assert (pointer.finding_id, pointer.window_end) == ("e-1", WINDOW_END)
    stored = store.get("e-1")
    assert stored.request.principal.principal_arn == richer.request.principal.principal_arn
    assert stored.decision is Verdict.IMPLICIT_DENY
    assert (stored.occurrences, stored.first_seen) == (2, first.first_seen)
    assert store.unpublished("e-1") is None  # same verdict: no alert is due
    bobs = store.list(FindingQuery(principal_arn=richer.request.principal.principal_arn))
    assert [f.finding_id for f in bobs.findings] == ["e-1"]
    assert store.list(FindingQuery(principal_arn=alice)).findings == ()
    assert not store.replace_diagnosis(richer, was_principal=alice, realert=True)  # once
    assert not store.replace_diagnosis(build_finding("nope"), was_principal=alice, realert=False)
    assert store.get("nope") is None


def test_a_replaced_diagnosis_with_a_new_verdict_is_due_for_an_alert_again(store):
    _, first = _create(store, "e-1")
    assert store.claim_publish("e-1", owner="a", now=WINDOW_END, until="2025-03-01T11:00:00Z")
    richer = build_finding("e-1", user="bob", decision=Verdict.IMPLICIT_DENY, blocked_by=())
    principal = first.request.principal.principal_arn
    assert store.replace_diagnosis(richer, was_principal=principal, realert=True)
    due = store.unpublished("e-1")
    assert due is not None and due.decision is Verdict.IMPLICIT_DENY
    claimed = store.claim_publish("e-1", owner="b", now=WINDOW_END, until="2025-03-01T11:00:00Z")
    assert claimed is not None and claimed.request.principal.principal_arn.endswith("user/bob")
