"""The event middleware: log keys on every line of an invocation, EMF metrics per invocation."""

from __future__ import annotations

import io
import json
import logging

import pytest

from chalicelib import observability
from chalicelib.observability import ApiCallCounter, annotate, event_middleware
from chalicelib.service import HandleStatus


class Event:
    def __init__(self, data):
        self._data = data

    def to_dict(self):
        return self._data


EVENT = Event({"id": "eb-1", "detail": {"eventID": "ct-1"}})


def _emf(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def test_metrics_of_a_new_finding_are_flushed_once_per_invocation(capsys, monkeypatch):
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    middleware = event_middleware(namespace="Test", collection_calls=ApiCallCounter())
    result = {
        "status": "new",
        "diagnosed": True,
        "published": True,
        "decision": "explicit-deny",
        "blocked_by": ["bucket-policy"],
    }
    assert middleware(EVENT, lambda event: result) == result
    blobs = _emf(capsys.readouterr().out)
    main = next(b for b in blobs if "Findings" in b)
    assert main["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Test"
    assert main["Diagnoses"] == main["Alerts"] == main["Findings"] == [1.0]
    assert "Duration" in main and main["CollectionCalls"] == [0.0]
    assert any(b.get("decision") == "explicit-deny" and "Decisions" in b for b in blobs)
    assert any(b.get("layer") == "bucket-policy" and "BlockedBy" in b for b in blobs)


def test_failed_invocation_counts_a_failure_and_still_raises(capsys, monkeypatch):
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    middleware = event_middleware(namespace="Test", collection_calls=ApiCallCounter())

    def boom(event):
        raise ConnectionError("SNS unavailable")

    with pytest.raises(ConnectionError):
        middleware(EVENT, boom)
    assert any(b.get("Failures") == [1.0] for b in _emf(capsys.readouterr().out))


def test_disabled_metrics_print_nothing(capsys, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    middleware = event_middleware(namespace="Test", collection_calls=ApiCallCounter())
    middleware(EVENT, lambda event: {"status": "repeat"})
    assert _emf(capsys.readouterr().out) == []


def test_every_log_line_of_an_invocation_carries_its_keys_and_the_next_starts_clean(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    observability.configure_logging("INFO")
    log = logging.getLogger("chalicelib.service")
    buffer = io.StringIO()
    previous = observability.logger.registered_handler.setStream(buffer)
    middleware = event_middleware(namespace="Test", collection_calls=ApiCallCounter())

    def handler(event):
        log.info("parsed")
        annotate(bucket="reports", action="s3:GetObject", decision="explicit-deny")
        log.info("diagnosed")
        return {"status": "new"}

    try:
        middleware(EVENT, handler)
        middleware(Event({"id": "eb-2", "detail": {"eventID": "ct-2"}}), lambda e: log.info("x"))
    finally:
        observability.logger.registered_handler.setStream(previous)
    first, second, third = (json.loads(line) for line in buffer.getvalue().splitlines())
    assert first["event_id"] == "ct-1" and first["eventbridge_id"] == "eb-1"
    assert second["bucket"] == "reports" and second["decision"] == "explicit-deny"
    assert third["event_id"] == "ct-2" and "bucket" not in third


@pytest.mark.parametrize("status", [s.value for s in HandleStatus])
def test_every_outcome_of_an_event_is_counted_under_its_own_metric(capsys, monkeypatch, status):
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    middleware = event_middleware(namespace="Test", collection_calls=ApiCallCounter())
    middleware(EVENT, lambda event: {"status": status, "diagnosed": False})
    (emf,) = _emf(capsys.readouterr().out)
    counted = {m["Name"] for m in emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert len(counted - {"Duration", "CollectionCalls"}) == 1, counted


def test_the_collection_cache_table_s_counts_are_written_per_invocation(capsys, monkeypatch):
    from chalicelib.collect.shared_cache import CacheStats

    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    stats = CacheStats()
    middleware = event_middleware(
        namespace="Test", collection_calls=ApiCallCounter(), cache_stats=lambda: stats
    )

    def handled(hits: int, stale: int = 0, errors: int = 0):
        def handler(event):
            for outcome, n in (("hit", hits), ("miss", 1), ("stale", stale), ("errors", errors)):
                for _ in range(n):
                    stats.add(outcome)
            return {"status": "new"}

        return handler

    middleware(EVENT, handled(3))
    middleware(EVENT, handled(1, stale=2, errors=1))
    first, second = (b for b in _emf(capsys.readouterr().out) if "SharedCacheHits" in b)
    assert (first["SharedCacheHits"], first["SharedCacheMisses"]) == ([3.0], [1.0])
    assert (second["SharedCacheHits"], second["SharedCacheMisses"]) == ([1.0], [3.0])
    assert (first["SharedCacheErrors"], second["SharedCacheErrors"]) == ([0.0], [1.0])
    assert stats.snapshot()["hit"] == 4  # the container's totals stay


def test_without_a_collection_cache_table_no_cache_metric_is_written(capsys, monkeypatch):
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    middleware = event_middleware(namespace="Test", collection_calls=ApiCallCounter())
    middleware(EVENT, lambda event: {"status": "new"})
    assert not any("SharedCacheHits" in b for b in _emf(capsys.readouterr().out))


_TRACE_PROBE = (
    "import sys; from chalicelib import service; "
    "print('aws_xray_sdk' in sys.modules, hasattr(service._evaluate, '__wrapped__'))"
)


def _traced_here(**env: str) -> str:
    import os
    import subprocess
    import sys
    from pathlib import Path

    clean = {k: v for k, v in os.environ.items() if k not in {"LAMBDA_TASK_ROOT", *env}}
    done = subprocess.run(
        [sys.executable, "-c", _TRACE_PROBE],
        env={**clean, **env},
        cwd=Path(__file__).resolve().parents[3],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_outside_lambda_nothing_is_traced_and_the_x_ray_sdk_is_not_loaded():
    """The CLI (a replay) pays neither the SDK's import (~0.2 s) nor a subsegment per call."""
    assert _traced_here() == "False False"


@pytest.mark.skipif(
    __import__("importlib.util").util.find_spec("aws_xray_sdk") is None,
    reason="aws-xray-sdk is not installed here (the [tracer] extra)",
)
def test_in_lambda_with_the_x_ray_sdk_the_steps_are_traced_unless_turned_off(tmp_path):
    assert _traced_here(LAMBDA_TASK_ROOT=str(tmp_path)) == "True True"
    off = _traced_here(LAMBDA_TASK_ROOT=str(tmp_path), POWERTOOLS_TRACE_DISABLED="true")
    assert off.endswith("False")
