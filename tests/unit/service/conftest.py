"""Stand-ins for the event path: a fixed snapshot source, a scripted diagnosis, a clock.

The diagnosis is scripted (`StandInSource.verdict`, `.cause`) so that aggregation can be tested
on "same diagnosis / different diagnosis" without depending on the engine.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib import service
from chalicelib.demo.cloudtrail import (
    eventbridge_envelope,
    iam_user_identity,
    s3_access_denied_record,
)
from chalicelib.model import Cause, Finding, Layer, Verdict
from chalicelib.publish.memory import InMemoryFindingStore, ListPublisher

ACCOUNT = "111122223333"
START = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


class StandInSource:
    """Returns one snapshot document; counts collections."""

    def __init__(self) -> None:
        self.calls = 0
        self.verdict = Verdict.EXPLICIT_DENY
        self.cause = "EXPLICIT_DENY_BUCKET_POLICY"

    def snapshot_for(self, request: Any) -> dict[str, Any]:
        self.calls += 1
        return {"verdict": self.verdict.value, "cause": self.cause}


def scripted_diagnose(request: Any, snapshot: Any, *, finding_id: str, now: str) -> Finding:
    verdict = Verdict(snapshot["verdict"])
    blocked = () if verdict is Verdict.ALLOWED else (Layer.BUCKET_POLICY,)
    return Finding(
        finding_id=finding_id,
        request=request,
        decision=verdict,
        blocked_by=blocked,
        evaluations=(),
        engine_version="scripted",
        event_id=request.event_id,
        event_time=request.event_time,
        causes=(Cause(code=snapshot["cause"], layer=Layer.BUCKET_POLICY, message="scripted"),),
    )


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def denied_event(
    event_id: str,
    *,
    at: datetime = START,
    user: str = "alice",
    bucket: str = "reports",
    message: str = "Access Denied",
) -> dict[str, Any]:
    record = s3_access_denied_record(
        event_id=event_id,
        event_time=at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        region="us-east-1",
        identity=iam_user_identity(account_id=ACCOUNT, user_name=user, user_id="AIDAEXAMPLE"),
        event_name="GetObject",
        bucket=bucket,
        bucket_account=ACCOUNT,
        key="data/report.csv",
        error_message=message,
    )
    return eventbridge_envelope(record, envelope_id=f"eb-{event_id}")


class Harness(SimpleNamespace):
    def handle(self, event: dict[str, Any], **overrides: Any) -> service.HandleResult:
        ports = {
            "source": self.source,
            "store": self.store,
            "publisher": self.publisher,
            "clock": self.clock,
            "window": timedelta(minutes=15),
        }
        return service.handle_event(event, **(ports | overrides))


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Harness:
    monkeypatch.setattr(service, "pipeline", SimpleNamespace(diagnose=scripted_diagnose))
    return Harness(
        source=StandInSource(),
        store=InMemoryFindingStore(),
        publisher=ListPublisher(),
        clock=Clock(),
    )
