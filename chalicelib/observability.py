"""Logs, metrics and traces of the event handler (Powertools, without optional extras).

- Logging: a Powertools JSON `Logger`; this package's loggers share its handler, so every line of
  an invocation carries the keys `annotate()` added (event id, bucket, action, decision).
- Metrics: EMF, flushed by the Chalice middleware once per invocation, from the handler's
  result: diagnoses, new findings, repeats, duplicates, alerts, malformed events, decisions (by
  decision and by blocking layer), AWS API calls made while collecting, and duration.
- Tracing: `traced` wraps a step in an X-Ray subsegment through `Tracer.capture_method`.
  Powertools' Tracer imports aws-xray-sdk, which only its `[tracer]` extra installs (18.7 MB);
  without it, outside Lambda, or with tracing turned off, `traced` leaves functions as they are.

Powertools' handler decorators take `(event, context)` and do not fit Chalice event handlers
(stack notes), hence the middleware.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

if TYPE_CHECKING:
    from .collect.shared_cache import CacheStats

SERVICE = "s3-403-doctor"
LOG_KEYS = ("event_id", "bucket", "action", "decision")

logger = Logger(service=SERVICE)
F = TypeVar("F", bound=Callable[..., Any])


def _tracer() -> Any:
    """Powertools' Tracer, in a Lambda function that has aws-xray-sdk and does not turn tracing
    off; else None. Outside Lambda (the CLI, tests) Powertools disables tracing, yet its
    disabled capture still opens a dummy subsegment per call, and importing the SDK costs some
    0.2 s of start-up: neither is paid there."""
    if not os.environ.get("LAMBDA_TASK_ROOT") or importlib.util.find_spec("aws_xray_sdk") is None:
        return None
    from aws_lambda_powertools import Tracer

    tracer = Tracer(service=SERVICE)
    return None if tracer.disabled else tracer


_TRACER = _tracer()


def traced(function: F) -> F:
    """Trace `function` as an X-Ray subsegment when tracing is available (responses not kept)."""
    if _TRACER is None:
        return function
    return cast(F, _TRACER.capture_method(function, capture_response=False))


def annotate(**keys: object) -> None:
    """Add keys to every following log line of this invocation (None values are skipped)."""
    logger.append_keys(**{k: v for k, v in keys.items() if v is not None})


class ApiCallCounter:
    """Counts AWS API calls made through the clients it is attached to (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, int] = {}

    def attach(self, service: str, client: Any) -> None:
        """Count every call of `client` (signature of `collect.clients.ClientHook`)."""
        client.meta.events.register("before-call", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        name = f"{model.service_model.service_name}.{model.name}"
        with self._lock:
            self._calls[name] = self._calls.get(name, 0) + 1

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._calls.values())

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._calls)


def configure_logging(level: str) -> None:
    """Send this package's logs through the Powertools JSON handler at `level`."""
    logger.setLevel(level)
    package = logging.getLogger(__package__)
    package.handlers = [logger.registered_handler]
    package.setLevel(level)
    package.propagate = False


EventMiddleware = Callable[[Any, Callable[[Any], Any]], Any]


def event_middleware(
    *,
    namespace: str,
    collection_calls: ApiCallCounter,
    cache_stats: Callable[[], CacheStats | None] = lambda: None,
) -> EventMiddleware:
    """A Chalice middleware for event handlers: log keys, EMF metrics, never swallowing errors.

    The handler's return value is read as a `service.HandleResult.to_dict()`. `cache_stats`:
    the collection cache table's counts, when the function has one (`SharedCache*` metrics).
    """
    metrics = Metrics(service=SERVICE, namespace=namespace)

    def middleware(event: Any, get_response: Callable[[Any], Any]) -> Any:
        logger.clear_state()
        raw = event.to_dict() if hasattr(event, "to_dict") else {}
        detail = raw.get("detail")
        cloudtrail_id = detail.get("eventID") if isinstance(detail, Mapping) else None
        annotate(event_id=cloudtrail_id or raw.get("id"), eventbridge_id=raw.get("id"))
        started = time.perf_counter()
        calls = collection_calls.total
        result: Any = None
        try:
            result = get_response(event)
            return result
        finally:
            stats = cache_stats()
            cache = None if stats is None else stats.take()  # this invocation's, in any case
            # Powertools keeps (and later prints) metrics even when disabled: add none then.
            if not is_metrics_disabled():
                if isinstance(result, Mapping):
                    record_result(metrics, result, namespace=namespace)
                else:
                    metrics.add_metric(name="Failures", unit=MetricUnit.Count, value=1)
                metrics.add_metric(
                    name="CollectionCalls",
                    unit=MetricUnit.Count,
                    value=collection_calls.total - calls,
                )
                if cache is not None:
                    record_cache(metrics, cache)
                elapsed = (time.perf_counter() - started) * 1000
                metrics.add_metric(name="Duration", unit=MetricUnit.Milliseconds, value=elapsed)
                metrics.flush_metrics()
            logger.clear_state()

    return middleware


_STATUS_METRICS = {
    "new": "Findings",
    "repeat": "Repeats",
    "duplicate": "Duplicates",
    "republished": "Republished",
    "enriched": "EnrichedFindings",
    "malformed": "MalformedEvents",
}


# The collection cache table's outcomes (collect/shared_cache.CacheStats) as metrics: a stale
# item is read again like a missing one; after an error the table is left alone for a while
# (`SharedCacheBypassed`: reads and writes that skipped it).
_CACHE_METRICS = {
    "SharedCacheHits": ("hit",),
    "SharedCacheMisses": ("miss", "stale"),
    "SharedCacheWrites": ("write",),
    "SharedCacheErrors": ("errors",),
    "SharedCacheBypassed": ("bypassed",),
}


def record_cache(metrics: Metrics, counts: Mapping[str, int]) -> None:
    """An invocation's use of the collection cache table (zeros included: one series each)."""
    for name, outcomes in _CACHE_METRICS.items():
        value = sum(counts.get(outcome, 0) for outcome in outcomes)
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def record_result(metrics: Metrics, result: Mapping[str, Any], *, namespace: str) -> None:
    """Metrics of one handled event (see `service.HandleResult`)."""
    status = str(result.get("status"))
    if status in _STATUS_METRICS:
        metrics.add_metric(name=_STATUS_METRICS[status], unit=MetricUnit.Count, value=1)
    if result.get("diagnosed"):
        metrics.add_metric(name="Diagnoses", unit=MetricUnit.Count, value=1)
    if result.get("published"):
        metrics.add_metric(name="Alerts", unit=MetricUnit.Count, value=1)
    if result.get("suppressed"):
        metrics.add_metric(name="SuppressedAlerts", unit=MetricUnit.Count, value=1)
    if not result.get("diagnosed"):
        return
    dimensions = [("decision", str(result.get("decision")))]
    dimensions += [("layer", str(layer)) for layer in result.get("blocked_by") or ()]
    for name, value in dimensions:
        metric = "Decisions" if name == "decision" else "BlockedBy"
        with single_metric(
            name=metric, unit=MetricUnit.Count, value=1, namespace=namespace
        ) as single:
            single.add_dimension(name=name, value=value)
