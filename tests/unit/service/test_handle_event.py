"""handle_event on the in-memory twins: aggregation, idempotency, failure policy."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib import service
from chalicelib.aggregation import Origin, cheap_key
from chalicelib.events import parse_event
from chalicelib.model import Verdict
from chalicelib.publish.memory import ListPublisher
from chalicelib.publish.ports import FindingQuery, WriteOutcome
from chalicelib.service import HandleStatus, diagnose_request

from .conftest import START, denied_event, scripted_diagnose

STAMP = "2025-03-01T10:00:00Z"


class FailingPublisher(ListPublisher):
    """Fails its first `failures` calls, like SNS being unavailable."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def publish(self, finding):
        if self.failures:
            self.failures -= 1
            raise ConnectionError("SNS unavailable")
        return super().publish(finding)


def test_new_denial_is_diagnosed_stored_and_alerted_once(harness):
    result = harness.handle(denied_event("e-1"))
    assert result.status is HandleStatus.NEW
    assert result.diagnosed and result.published
    finding = harness.store.get("e-1")
    assert finding.occurrences == 1
    assert finding.first_seen == finding.last_seen == "2025-03-01T10:00:00Z"
    assert [f.finding_id for f, _ in harness.publisher.sent] == ["e-1"]
    assert harness.store.unpublished("e-1") is None


def test_same_event_delivered_three_times_gives_one_finding_and_one_alert(harness):
    statuses = [harness.handle(denied_event("e-1")).status for _ in range(3)]
    assert statuses == [HandleStatus.NEW, HandleStatus.DUPLICATE, HandleStatus.DUPLICATE]
    assert len(harness.store.list(FindingQuery()).findings) == 1
    assert harness.store.get("e-1").occurrences == 1
    assert len(harness.publisher.sent) == 1


def test_burst_of_identical_denials_costs_one_diagnosis_and_one_alert(harness):
    for n in range(1000):
        harness.handle(denied_event(f"e-{n}", at=START + timedelta(milliseconds=500 * n)))
    findings = harness.store.list(FindingQuery()).findings
    assert [f.occurrences for f in findings] == [1000]
    assert findings[0].last_seen == "2025-03-01T10:08:19Z"
    assert harness.source.calls == 1
    assert len(harness.publisher.sent) == 1


def test_redelivered_repeat_is_not_counted_twice(harness):
    harness.handle(denied_event("e-1"))
    assert harness.handle(denied_event("e-2")).status is HandleStatus.REPEAT
    assert harness.handle(denied_event("e-2")).status is HandleStatus.DUPLICATE
    assert harness.store.get("e-1").occurrences == 2


def test_repeat_after_the_window_opens_a_new_finding_and_alerts_again(harness):
    harness.handle(denied_event("e-1"))
    harness.handle(denied_event("e-2", at=START + timedelta(minutes=14, seconds=59)))
    later = harness.handle(denied_event("e-3", at=START + timedelta(minutes=15)))
    assert later.status is HandleStatus.NEW
    assert harness.store.get("e-1").occurrences == 2
    assert len(harness.publisher.sent) == 2


def test_window_is_configurable(harness):
    harness.handle(denied_event("e-1"), window=timedelta(minutes=1))
    result = harness.handle(
        denied_event("e-2", at=START + timedelta(minutes=2)), window=timedelta(minutes=1)
    )
    assert result.status is HandleStatus.NEW


def test_other_principal_or_bucket_is_another_finding(harness):
    harness.handle(denied_event("e-1"))
    assert harness.handle(denied_event("e-2", user="bob")).status is HandleStatus.NEW
    assert harness.handle(denied_event("e-3", bucket="logs")).status is HandleStatus.NEW
    assert len(harness.publisher.sent) == 3


def test_other_error_message_with_the_same_diagnosis_joins_the_finding(harness):
    harness.handle(denied_event("e-1", message="Access Denied"))
    result = harness.handle(denied_event("e-2", message="Access Denied by policy"))
    assert result.status is HandleStatus.REPEAT
    assert result.diagnosed  # the cheap key differed, so it had to be diagnosed
    assert harness.store.get("e-1").occurrences == 2
    # ... and its own cheap key now points at the finding: no further diagnosis.
    harness.handle(denied_event("e-3", message="Access Denied by policy"))
    assert harness.source.calls == 2
    assert len(harness.publisher.sent) == 1


def test_other_error_message_with_another_diagnosis_is_another_finding(harness):
    harness.handle(denied_event("e-1", message="Access Denied"))
    harness.source.verdict = Verdict.IMPLICIT_DENY
    harness.source.cause = "NO_IDENTITY_ALLOW"
    result = harness.handle(denied_event("e-2", message="no identity-based policy allows"))
    assert result.status is HandleStatus.NEW
    assert len(harness.publisher.sent) == 2


def test_publish_failure_raises_and_the_retry_alerts_once_with_the_count(harness):
    harness.publisher = FailingPublisher(failures=1)
    with pytest.raises(ConnectionError):
        harness.handle(denied_event("e-1"))
    assert harness.store.get("e-1") is not None  # stored before the alert: not lost
    harness.handle(denied_event("e-2"))  # a repeat arrives before Lambda retries e-1
    retry = harness.handle(denied_event("e-1"))
    assert retry.status is HandleStatus.REPUBLISHED
    assert [f.occurrences for f, _ in harness.publisher.sent] == [2]
    assert harness.handle(denied_event("e-1")).status is HandleStatus.DUPLICATE
    assert len(harness.publisher.sent) == 1


def test_alert_sent_but_not_marked_does_not_raise(harness, monkeypatch):
    def broken(finding_id):
        raise ConnectionError("DynamoDB unavailable")

    monkeypatch.setattr(harness.store, "mark_published", broken)
    assert harness.handle(denied_event("e-1")).status is HandleStatus.NEW
    assert len(harness.publisher.sent) == 1


def test_store_failure_raises_and_nothing_is_alerted(harness, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("DynamoDB unavailable")

    monkeypatch.setattr(harness.store, "create", broken)
    with pytest.raises(ConnectionError):
        harness.handle(denied_event("e-1"))
    assert harness.publisher.sent == []


def test_malformed_event_is_logged_with_its_id_and_recorded_without_raising(harness, caplog):
    event = denied_event("e-bad")
    del event["detail"]["eventName"]
    with caplog.at_level(logging.WARNING, logger="chalicelib.service"):
        result = harness.handle(event)
    assert result.status is HandleStatus.MALFORMED
    record = harness.store.get_error("e-bad")
    assert "eventName" in record.error
    assert record.field == "detail.eventName"
    assert '"eventID": "e-bad"' in record.event_excerpt
    assert any(getattr(r, "field", None) == "detail.eventName" for r in caplog.records)
    assert harness.publisher.sent == []


@pytest.mark.parametrize("event", [{}, {"detail": "text"}, {"id": 7, "detail": []}])
def test_garbage_events_never_raise(harness, event):
    assert harness.handle(event).status is HandleStatus.MALFORMED


def test_concurrent_first_denials_end_in_one_finding(harness, monkeypatch):
    # GIVEN another invocation creates the aggregate between our lookup and our write
    store = harness.store
    original = store.create
    rival = parse_event(denied_event("e-0"))

    def racing_create(finding, **kwargs):
        monkeypatch.setattr(store, "create", original)
        snapshot = harness.source.snapshot_for(rival)
        other = replace(
            scripted_diagnose(rival, snapshot, finding_id="e-0", now=STAMP),
            first_seen=STAMP,
            last_seen=STAMP,
        )
        assert original(other, **(kwargs | {"event_key": "e-0"})) is WriteOutcome.WRITTEN
        return original(finding, **kwargs)

    monkeypatch.setattr(store, "create", racing_create)
    # WHEN
    result = harness.handle(denied_event("e-1"))
    # THEN this event is counted on the rival's finding
    assert result.status is HandleStatus.REPEAT
    assert store.get("e-0").occurrences == 2
    assert store.get("e-1") is None


def test_cheap_key_ignores_the_object_key_and_session(harness):
    one = parse_event(denied_event("e-1"))
    other = parse_event(denied_event("e-2", at=START + timedelta(hours=1)))
    assert cheap_key(one, Origin.INSIDER) == cheap_key(other, Origin.INSIDER)
    elsewhere = parse_event(denied_event("e-3", bucket="logs"))
    assert cheap_key(one, Origin.INSIDER) != cheap_key(elsewhere, Origin.INSIDER)


def test_diagnose_request_collects_and_diagnoses_without_storing(harness):
    request = parse_event(denied_event("e-1"))
    finding = diagnose_request(request, source=harness.source, clock=harness.clock)
    assert finding.finding_id == "e-1"
    assert finding.first_seen == "2025-03-01T10:00:00Z"
    assert harness.source.calls == 1
    assert harness.store.get("e-1") is None


def test_bare_cloudtrail_record_is_keyed_by_its_event_id(harness):
    record = denied_event("e-1")["detail"]
    assert harness.handle(record).finding_id == "e-1"
    assert harness.handle(denied_event("e-1")).status is HandleStatus.DUPLICATE


# ---------------------------------------------------------------------------- publish lease


def test_a_held_lease_makes_another_delivery_wait_then_raise_for_a_later_retry(
    harness, monkeypatch
):
    monkeypatch.setattr(service, "LEASE_WAITS", (0.0, 0.0))
    harness.publisher = FailingPublisher(failures=1)
    with pytest.raises(ConnectionError):
        harness.handle(denied_event("e-1"))
    # GIVEN another invocation holds the lease (until 10:02)
    assert harness.store.claim_publish(
        "e-1", owner="other", now=STAMP, until="2025-03-01T10:02:00Z"
    )
    # WHEN the event is redelivered meanwhile THEN it raises: Lambda retries it later
    with pytest.raises(service.AlertInFlight):
        harness.handle(denied_event("e-1"))
    assert harness.publisher.sent == []
    # ... and once the lease expired (its holder died), the retry alerts once
    harness.clock.now = START + timedelta(minutes=2)
    assert harness.handle(denied_event("e-1")).status is HandleStatus.REPUBLISHED
    assert harness.handle(denied_event("e-1")).status is HandleStatus.DUPLICATE
    assert len(harness.publisher.sent) == 1


def test_a_delivery_finding_the_alert_sent_while_it_waited_does_not_send_it(harness, monkeypatch):
    harness.publisher = FailingPublisher(failures=1)
    with pytest.raises(ConnectionError):
        harness.handle(denied_event("e-1"))
    harness.store.claim_publish("e-1", owner="other", now=STAMP, until="2025-03-01T10:02:00Z")

    def holder_finishes(seconds):  # the holder sends and marks while we wait
        harness.store.mark_published("e-1")

    monkeypatch.setattr(service.time, "sleep", holder_finishes)
    assert harness.handle(denied_event("e-1")).status is HandleStatus.DUPLICATE
    assert harness.publisher.sent == []


def test_a_failed_publish_releases_the_lease_for_the_retry(harness):
    harness.publisher = FailingPublisher(failures=1)
    with pytest.raises(ConnectionError):
        harness.handle(denied_event("e-1"))
    # the clock has not moved: only a released lease lets the retry publish now
    assert harness.handle(denied_event("e-1")).status is HandleStatus.REPUBLISHED


def test_event_records_are_written_with_the_processing_time(harness, monkeypatch):
    calls = []
    for name in ("create", "add_occurrence"):
        original = getattr(harness.store, name)

        def spy(*args, _original=original, **kwargs):
            calls.append(kwargs["received"])
            return _original(*args, **kwargs)

        monkeypatch.setattr(harness.store, name, spy)
    harness.clock.now = START + timedelta(days=400)  # an old event, processed now
    harness.handle(denied_event("e-1"))
    harness.handle(denied_event("e-2"))
    assert calls == ["2026-04-05T10:00:00Z"] * 2


def test_error_records_and_results_keep_no_access_key_ids(harness):
    event = denied_event("e-bad")
    event["detail"]["userIdentity"]["accessKeyId"] = "AKIAIOSFODNN7EXAMPLE"
    event["detail"]["eventName"] = "ASIAY34FZKBOKMUTVV7A"  # a key where a name belongs
    event["detail"]["userIdentity"]["type"] = 7  # malformed
    result = harness.handle(event)
    assert result.status is HandleStatus.MALFORMED
    record = harness.store.get_error("e-bad")
    text = json.dumps(record.to_dict()) + json.dumps(result.to_dict())
    assert "AKIAIOSFODNN7EXAMPLE" not in text and "ASIAY34FZKBOKMUTVV7A" not in text
    assert '"accessKeyId": "REDACTED"' in record.event_excerpt
