"""Concurrent deliveries, retries and failures on the moto server, with real threads: one alert
per finding (the publish lease) and every repeat counted (transactions retried on conflict).

`service.handle_event` runs with the deployed ports (`wiring.event_ports()`: the DynamoDB store,
the SNS publisher, the live collector) against the moto server; the SQS subscriber counts what
SNS delivered.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import service, wiring
from chalicelib.model import Finding
from chalicelib.publish.store import DynamoFindingStore
from tests.functional.threads import together

from .conftest import Deployment, MotoFaults, denied_event

TRIALS = 20
THREADS = 4
START = datetime(2025, 3, 1, 10, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_alert_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every trial's alert must reach the subscriber: a budget above the trials' count."""
    monkeypatch.setenv("ALERT_BUDGET", "1000")
    wiring.reset()


def _stamp(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def _handle(event: dict[str, Any], **overrides: Any) -> service.HandleResult:
    return service.handle_event(event, **(wiring.event_ports() | overrides))


def _finding_ids(deployment: Deployment) -> Counter[str]:
    return Counter(json.loads(m["Message"])["finding_id"] for m in deployment.received())


class FlakyPublisher:
    """The real SNS publisher, failing its first `failures` calls (SNS unavailable)."""

    def __init__(self, inner: Any, failures: int) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.failures = failures
        self.calls = 0

    def publish(self, finding: Finding) -> str:
        with self._lock:
            self.calls += 1
            failing = self.failures > 0
            self.failures -= failing
        if failing:
            raise ConnectionError("SNS unavailable")
        return str(self._inner.publish(finding))


def test_concurrent_deliveries_of_one_event_send_exactly_one_alert(deployment):
    for trial in range(TRIALS):
        # each trial its own event, in its own aggregation window: its own finding
        event = denied_event(
            f"concurrent-{trial:02d}", event_time=_stamp(START + timedelta(hours=trial))
        )
        results = together([lambda e=event: _handle(e)] * THREADS)
        assert not [r for r in results if isinstance(r, Exception)], results
        statuses = Counter(r.status.value for r in results)
        assert statuses["new"] == 1, statuses
        assert sum(r.published for r in results) == 1, results
    alerts = _finding_ids(deployment)
    assert alerts == Counter({f"concurrent-{trial:02d}": 1 for trial in range(TRIALS)})


def test_first_publish_fails_and_a_retry_publishes_exactly_once(deployment):
    for trial in range(5):
        event_id = f"flaky-{trial}"
        event = denied_event(event_id, event_time=_stamp(START + timedelta(days=1, hours=trial)))
        flaky = FlakyPublisher(wiring.finding_publisher(), failures=1)
        # GIVEN concurrent deliveries, the first publish attempt failing
        results = together([lambda e=event, p=flaky: _handle(e, publisher=p)] * THREADS)
        failed = [r for r in results if isinstance(r, Exception)]
        assert all(isinstance(r, ConnectionError) for r in failed), results
        # WHEN Lambda retries what failed, and EventBridge redelivers once more
        retries = [_handle(event, publisher=flaky) for _ in range(len(failed) + 1)]
        # THEN one alert: sent by a concurrent delivery that found the lease released, or by
        # the retry of the failed invocation
        sent = [r for r in results + retries if not isinstance(r, Exception) and r.published]
        assert len(sent) == 1, results + retries
        assert flaky.calls == 2
        assert wiring.finding_store().unpublished(event_id) is None
    assert _finding_ids(deployment) == Counter({f"flaky-{trial}": 1 for trial in range(5)})


def test_sequential_retry_after_a_failed_publish_republishes_once(deployment):
    event = denied_event("flaky-sequential")
    flaky = FlakyPublisher(wiring.finding_publisher(), failures=1)
    with pytest.raises(ConnectionError):
        _handle(event, publisher=flaky)
    assert _handle(event, publisher=flaky).status is service.HandleStatus.REPUBLISHED
    assert _handle(event, publisher=flaky).status is service.HandleStatus.DUPLICATE
    assert _finding_ids(deployment) == Counter({"flaky-sequential": 1})


def test_a_dead_holders_lease_blocks_until_it_expires_then_a_retry_takes_over(
    deployment, monkeypatch
):
    # GIVEN the event's first invocation stored its finding, took the lease and died
    event = denied_event("dead-holder")

    class Dies:
        def publish(self, finding: Finding) -> str:
            raise SystemExit("Lambda timed out")  # not an Exception: nothing is released

    store: DynamoFindingStore = wiring.finding_store()
    now = datetime.now(UTC)
    with pytest.raises(SystemExit):
        _handle(event, publisher=Dies(), clock=lambda: now)
    # the lease was released on the way out (SystemExit is a BaseException); take it as the
    # dead invocation would have kept it
    assert store.claim_publish(
        "dead-holder", owner="dead", now=_stamp(now), until=_stamp(now + service.PUBLISH_LEASE)
    )
    monkeypatch.setattr(service, "LEASE_WAITS", (0.01,))
    # WHEN a retry comes while the lease is unexpired, it raises (Lambda retries it later)
    with pytest.raises(service.AlertInFlight):
        _handle(event, clock=lambda: now + timedelta(seconds=60))
    assert deployment.received() == []
    # ... and once it expired, the next retry takes over and alerts once
    later = now + service.PUBLISH_LEASE
    assert _handle(event, clock=lambda: later).status is service.HandleStatus.REPUBLISHED
    assert _handle(event, clock=lambda: later).status is service.HandleStatus.DUPLICATE
    assert _finding_ids(deployment) == Counter({"dead-holder": 1})


def test_concurrent_burst_of_one_denial_counts_every_event_despite_conflicts(
    deployment, moto_faults: MotoFaults
):
    # GIVEN every transaction is cancelled by a conflict on its first attempt (a hot aggregate)
    moto_faults.conflict_first_attempts()
    threads, per_thread = 8, 10

    def burst(thread: int) -> list[service.HandleResult]:
        return [
            _handle(denied_event(f"burst-{thread}-{n}", event_time=_stamp(START)))
            for n in range(per_thread)
        ]

    # WHEN 8 threads deliver 10 distinct events each of the same denial
    results = together([lambda t=t: burst(t) for t in range(threads)])
    # THEN nothing raised, one finding counts all 80, one alert
    assert not [r for r in results if isinstance(r, Exception)], results
    flat = [r for batch in results for r in batch]
    assert Counter(r.status.value for r in flat) == {"new": 1, "repeat": threads * per_thread - 1}
    finding_id = next(r.finding_id for r in flat if r.status.value == "new")
    finding = wiring.finding_store().get(finding_id)
    assert finding is not None and finding.occurrences == threads * per_thread
    assert moto_faults.conflicts >= threads * per_thread
    assert _finding_ids(deployment) == Counter({finding_id: 1})
