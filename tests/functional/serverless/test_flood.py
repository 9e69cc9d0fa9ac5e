"""Outsiders cannot drive the alert volume: a flood through the real handler on moto.

Every event is counted on a stored finding; what reaches the subscriber stays within the
budget of the bucket (DESIGN 3.5).
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.demo.cloudtrail import (
    assumed_role_identity,
    eventbridge_envelope,
    iam_user_identity,
    s3_access_denied_record,
)
from chalicelib.events.operations import OPERATIONS
from chalicelib.publish.ports import FindingQuery
from tests.functional.serverless.conftest import ACCOUNT, BUCKET, REGION, Deployment

FOREIGN = "999988887777"
EVENT_NAMES = [name for name in OPERATIONS if name not in {"ListBuckets", "CreateBucket"}][:40]


def _event(number: int, identity: dict[str, Any], event_name: str) -> dict[str, Any]:
    record = s3_access_denied_record(
        event_id=f"flood-{number:04d}",
        event_time=f"2025-03-01T10:{number // 60 % 10:02d}:{number % 60:02d}Z",
        region=REGION,
        identity=identity,
        event_name=event_name,
        bucket=BUCKET,
        bucket_account=ACCOUNT,
        key=f"uploads/{number}/../x{number}.bin",
        source_ip=f"198.51.100.{number % 200}",
    )
    return eventbridge_envelope(record, envelope_id=f"eb-flood-{number:04d}")


def _anonymous() -> dict[str, Any]:
    return {"type": "AWSAccount", "principalId": "", "accountId": "anonymous"}


def _foreign_role(number: int) -> dict[str, Any]:
    return assumed_role_identity(
        account_id=FOREIGN,
        role_name=f"probe-{number % 50}",
        role_id=f"AROAPROBE{number % 50:04d}",
        session_name=f"s-{number}",
    )


def _stored(deployment: Deployment) -> list[Any]:
    store = wiring.finding_store()
    found, token = [], None
    while True:
        page = store.list(FindingQuery(bucket=BUCKET, limit=100, next_token=token))
        found.extend(page.findings)
        token = page.next_token
        if token is None:
            return found


def test_a_flood_of_outsider_denials_makes_two_findings_and_counts_every_event(
    deployment: Deployment,
) -> None:
    names = itertools.cycle(EVENT_NAMES)
    events = [_event(n, _anonymous(), next(names)) for n in range(150)]
    events += [_event(n, _foreign_role(n), next(names)) for n in range(150, 300)]

    statuses = [deployment.invoke(event)["status"] for event in events]

    findings = _stored(deployment)
    assert sum(f.occurrences for f in findings) + statuses.count("malformed") == 300
    assert statuses.count("new") == 2
    origins = sorted(f.extra["outside_attempts"]["origin"] for f in findings)
    assert origins == ["anonymous", "foreign-account"]
    anonymous = next(f for f in findings if f.extra["outside_attempts"]["origin"] == "anonymous")
    counts = anonymous.extra["outside_attempts"]
    assert sum(counts["by_action"].values()) == anonymous.occurrences
    assert sum(counts["by_source"].values()) == anonymous.occurrences
    assert len(deployment.received()) == 2


def test_the_budget_caps_alerts_per_bucket_and_one_notice_says_so(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERT_BUDGET", "3")
    wiring.reset()
    events = [
        _event(
            n,
            iam_user_identity(account_id=ACCOUNT, user_name=f"user-{n}", user_id=f"AIDA{n:08d}"),
            "GetObject",
        )
        for n in range(8)
    ]

    results = [deployment.invoke(event) for event in events]

    assert [r["status"] for r in results] == ["new"] * 8  # every denial its own finding
    assert [r["published"] for r in results] == [True] * 3 + [False] * 5
    assert [r["suppressed"] for r in results] == [False] * 3 + [True] * 5
    assert len(_stored(deployment)) == 8
    received = deployment.received()
    subjects = [n.get("Subject", "") for n in received]
    assert len(received) == 4, subjects  # three alerts, then one notice
    assert sum("alerts paused" in s for s in subjects) == 1
