"""A builder of findings with keyword defaults, for the store and publisher tests."""

from __future__ import annotations

from typing import Any

from chalicelib.model import (
    AccessRequest,
    Cause,
    Evaluation,
    Finding,
    Layer,
    Operation,
    Principal,
    PrincipalType,
    Verdict,
)

ACCOUNT = "111122223333"


def build_finding(
    finding_id: str = "e-1",
    *,
    bucket: str = "reports",
    user: str = "alice",
    action: str = "s3:GetObject",
    decision: Verdict = Verdict.EXPLICIT_DENY,
    blocked_by: tuple[Layer, ...] = (Layer.BUCKET_POLICY,),
    first_seen: str = "2025-03-01T10:00:00Z",
    evaluations: tuple[Evaluation, ...] = (),
    **extra: Any,
) -> Finding:
    arn = f"arn:aws:iam::{ACCOUNT}:user/{user}"
    request = AccessRequest(
        principal=Principal(
            type=PrincipalType.IAM_USER, requester_arn=arn, principal_arn=arn, account_id=ACCOUNT
        ),
        operations=(
            Operation(
                action=action,
                resource_arn=f"arn:aws:s3:::{bucket}/data/report.csv",
                bucket=bucket,
                key="data/report.csv",
            ),
        ),
        event_id=finding_id,
    )
    return Finding(
        finding_id=finding_id,
        request=request,
        decision=decision,
        blocked_by=blocked_by,
        evaluations=evaluations,
        engine_version="test",
        event_id=finding_id,
        causes=(
            Cause(
                code="EXPLICIT_DENY_BUCKET_POLICY",
                layer=Layer.BUCKET_POLICY,
                message="A Deny matched.",
            ),
        ),
        first_seen=first_seen,
        last_seen=first_seen,
        **extra,
    )
