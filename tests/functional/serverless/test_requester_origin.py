"""Who the requester is to us, through the real handler on moto: role sessions aggregate on the
role, and the diagnoser's own denied reads make one health finding, never a diagnosis."""

from __future__ import annotations

import pytest

from chalicelib import wiring
from chalicelib.demo.cloudtrail import (
    assumed_role_identity,
    denied_message,
    eventbridge_envelope,
    s3_access_denied_record,
)
from tests.functional.serverless.conftest import ACCOUNT, BUCKET, KEY, REGION, Deployment

OUR_ROLE = "s3-403-doctor-OnAccessDeniedRole-ABC123"


def _role_event(event_id: str, role: str, session: str, *, at: str, action: str = "GetObject"):
    requester = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}"
    record = s3_access_denied_record(
        event_id=event_id,
        event_time=at,
        region=REGION,
        identity=assumed_role_identity(
            account_id=ACCOUNT, role_name=role, role_id="AROAEXAMPLE0001", session_name=session
        ),
        event_name=action,
        bucket=BUCKET,
        bucket_account=ACCOUNT,
        key=KEY,
        error_message=denied_message(
            requester,
            f"s3:{action}",
            f"arn:aws:s3:::{BUCKET}/{KEY}",
            f"because no identity-based policy allows the s3:{action} action",
        ),
    )
    return eventbridge_envelope(record, envelope_id=f"eb-{event_id}")


def test_sessions_of_one_role_are_one_finding(deployment: Deployment) -> None:
    first = deployment.invoke(_role_event("s-1", "etl", "run-1", at="2025-03-01T10:00:00Z"))
    second = deployment.invoke(_role_event("s-2", "etl", "run-2", at="2025-03-01T10:01:00Z"))

    assert first["status"] == "new"
    assert second["status"] == "repeat" and second["finding_id"] == first["finding_id"]
    assert not second["diagnosed"]
    assert len(deployment.received()) == 1


def test_the_diagnosers_own_denials_make_one_health_finding_a_day(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIAGNOSER_ROLE_ARNS", f"arn:aws:iam::{ACCOUNT}:role/{OUR_ROLE}")
    wiring.reset()
    session = "s3-403-doctor-prod-on_access_denied"

    first = deployment.invoke(
        _role_event("d-1", OUR_ROLE, session, at="2025-03-01T10:00:00Z", action="HeadObject")
    )
    later = deployment.invoke(
        _role_event("d-2", OUR_ROLE, "other", at="2025-03-01T16:00:00Z", action="HeadObject")
    )

    assert first["status"] == "new" and not first["diagnosed"]
    assert later["status"] == "repeat" and later["finding_id"] == first["finding_id"]
    finding = wiring.finding_store().get(first["finding_id"])
    assert finding is not None
    assert [c.code for c in finding.causes] == ["DIAGNOSER_READ_DENIED"]
    assert finding.blocked_by == () and finding.evaluations == ()
    assert finding.occurrences == 2
    alerts = deployment.received()
    assert len(alerts) == 1
    assert alerts[0]["MessageAttributes"]["severity"]["Value"] == "health"
